"""Output formats: what a request resolves to, the OVA's descriptor and manifest read back, archives unpacked."""

import hashlib
import io
import tarfile

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import disk_archive, distros, formats, ovf, platforms
from ansible_collections.osimage.builder.plugins.module_utils import request as req

ALL = ['qcow2', 'raw', 'vmdk', 'ova', 'vhd', 'vhdx', 'vdi', 'tar', 'gce', 'oci']


def errors_of(request):
    with pytest.raises(req.RequestError) as info:
        req.validate(request)
    return dict(info.value.errors)


def test_every_format_has_its_file_and_source():
    resolved = req.resolve({'name': 'img', 'formats': ALL}, cwd='/srv', build_id='abc123')
    files = {o['format']: o['path'].rsplit('/', 1)[1] for o in resolved['outputs']}
    assert files == {'raw': 'img.raw', 'qcow2': 'img.qcow2', 'vmdk': 'img.vmdk', 'vhd': 'img.vhd', 'vhdx': 'img.vhdx',
                     'vdi': 'img.vdi', 'ova': 'img.ova', 'gce': 'img.gce.tar.gz', 'tar': 'img.tar.zst', 'oci': 'img.oci.tar'}
    src = {o['format']: o['src'] for o in resolved['outputs']}
    assert src['ova'] == '/srv/output/img/img.vmdk' and src['tar'] == src['oci'] == '/var/tmp/osimage/abc123/root'
    assert src['gce'] == src['qcow2'] == '/var/tmp/osimage/abc123/disk.raw'
    order = [o['format'] for o in resolved['outputs']]
    assert order.index('vmdk') < order.index('ova')
    assert resolved['boot_image'] == '/srv/output/img/img.qcow2'


def test_an_ova_alone_gets_its_vmdk_in_the_build_directory_only():
    resolved = req.resolve({'name': 'img', 'formats': ['ova']}, cwd='/srv', build_id='abc123')
    vmdk, ova = resolved['outputs']
    assert (vmdk['format'], vmdk['keep'], vmdk['path']) == ('vmdk', False, '/var/tmp/osimage/abc123/ova-disk.vmdk')
    assert (ova['format'], ova['keep'], ova['src']) == ('ova', True, vmdk['path'])
    assert resolved['boot_image'] == '/srv/output/img/img.ova'


def test_vpc_is_renamed_with_its_fix():
    assert 'write vhd' in errors_of({'formats': ['vpc']})['formats[0]']


def test_a_root_tarball_alone_cannot_be_boot_tested():
    assert 'boot_test.enabled: false' in errors_of({'formats': ['tar']})['formats']
    req.validate({'formats': ['tar'], 'boot_test': {'enabled': False}})


def test_an_oci_image_alone_cannot_be_boot_tested():
    assert 'tar and oci are root trees' in errors_of({'formats': ['oci']})['formats']
    req.validate({'formats': ['oci'], 'boot_test': {'enabled': False}})


def test_the_oci_options_default_to_a_shell_without_kernel_and_need_the_format():
    resolved = req.resolve({'formats': ['qcow2', 'oci']}, cwd='/srv', build_id='abc123')
    assert resolved['oci'] == {'kernel': False, 'command': ['/bin/bash']}
    assert resolved['os']['machine']['oci'] == 'amd64'
    assert req.resolve({'arch': 'arm64', 'formats': ['qcow2', 'oci']}, cwd='/srv')['os']['machine']['oci'] == 'arm64'
    kept = req.resolve({'formats': ['qcow2', 'oci'], 'oci': {'kernel': True, 'command': ['/sbin/init']}}, cwd='/srv')
    assert kept['oci'] == {'kernel': True, 'command': ['/sbin/init']}
    assert 'add oci to formats' in errors_of({'oci': {'command': ['/sbin/init']}})['oci']
    errors = errors_of({'formats': ['qcow2', 'oci'], 'oci': {'command': ['init', 3]}})
    assert 'absolute path' in errors['oci.command[0]'] and 'string' in errors['oci.command[1]']


def test_a_fixed_vhd_needs_a_whole_number_of_mib():
    assert 'whole number of MiB' in errors_of({'formats': ['vhd'], 'disk': {'size': 3 * 1024 ** 3 + 512}})['disk.size']
    req.validate({'formats': ['vhd'], 'disk': {'size': '3GiB'}})


def test_compress_is_a_boolean():
    assert 'compress' in errors_of({'compress': 'yes'})


def make_ova(path, order=('ovf', 'mf', 'disk'), tamper=False):
    disk = b'streamOptimized vmdk bytes' * 100
    descriptor = ovf.descriptor('t', 't-disk1.vmdk', len(disk), 3 * 1024 ** 3)
    digests = {'t.ovf': hashlib.sha256(descriptor).hexdigest(), 't-disk1.vmdk': hashlib.sha256(disk).hexdigest()}
    if tamper:
        digests['t-disk1.vmdk'] = '0' * 64
    members = {'ovf': ('t.ovf', descriptor), 'mf': ('t.mf', ovf.manifest(digests)), 'disk': ('t-disk1.vmdk', disk)}
    with tarfile.open(path, 'w', format=tarfile.USTAR_FORMAT) as tar:
        for key in order:
            name, data = members[key]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return disk


def test_an_ova_reads_back(tmp_path):
    make_ova(tmp_path / 't.ova')
    found = ovf.read_back(str(tmp_path / 't.ova'))
    assert found == {'members': ['t.ovf', 't.mf', 't-disk1.vmdk'], 'capacity': 3 * 1024 ** 3, 'disk': 't-disk1.vmdk',
                     'os_type': ovf.GENERIC_OS}


@pytest.mark.parametrize('kwargs,words', [
    ({'order': ('ovf', 'disk', 'mf')}, 'the .mf second'),
    ({'order': ('disk', 'ovf', 'mf')}, 'the .ovf must come first'),
    ({'tamper': True}, 'do not match'),
])
def test_a_bad_ova_is_refused(tmp_path, kwargs, words):
    make_ova(tmp_path / 't.ova', **kwargs)
    with pytest.raises(ValueError, match=words):
        ovf.read_back(str(tmp_path / 't.ova'))


def test_the_descriptor_is_ovf_1_0_with_one_stream_optimized_disk():
    root = ovf.ElementTree.fromstring(ovf.descriptor('vm', 'vm-disk1.vmdk', 10, 2048, memory_mib=512, vcpus=1))
    q = '{%s}%%s' % ovf.OVF
    assert root.get(q % 'version') == '1.0'
    disk = root.find('.//' + q % 'Disk')
    assert disk.get(q % 'capacity') == '2048' and disk.get(q % 'format').endswith('#streamOptimized')
    quantities = [i.text for i in root.iter('{%s}VirtualQuantity' % ovf.RASD)]
    assert quantities == ['1', '512']


@pytest.mark.parametrize('distro,release,cim,vmware,description', [
    ('debian', 'bookworm', '96', 'debian12_64Guest', 'Debian GNU/Linux 12 (64-bit)'),
    ('ubuntu', 'noble', '94', 'ubuntu64Guest', 'Ubuntu 24.04 (64-bit)'),
    ('rocky', '9', '80', 'rockylinux_64Guest', 'Rocky Linux 9 (64-bit)'),
    ('centos-stream', '10', '107', 'centos64Guest', 'CentOS Stream 10 (64-bit)'),
    ('fedora', '44', '101', 'fedora64Guest', 'Fedora Linux 44 (64-bit)'),
    ('opensuse-leap', '15.6', '83', 'opensuse64Guest', 'openSUSE Leap 15.6 (64-bit)'),
    ('sles', '15-SP6', '85', 'sles15_64Guest', 'SUSE Linux Enterprise Server 15.6 (64-bit)'),
])
def test_an_ova_names_its_distribution_from_the_table(distro, release, cim, vmware, description):
    os_type = distros.resolve(distro, release, 'amd64', 'http://mirror.example/')['ovf']
    root = ovf.ElementTree.fromstring(ovf.descriptor('vm', 'vm-disk1.vmdk', 10, 2048, os_type=os_type))
    section = root.find('.//{%s}OperatingSystemSection' % ovf.OVF)
    assert section.get('{%s}id' % ovf.OVF) == cim and section.get('{%s}osType' % ovf.VMW) == vmware
    assert section.findtext('{%s}Description' % ovf.OVF) == description


def test_every_release_names_a_64_bit_guest_for_its_ova():
    for row in distros.catalogue():
        os_type = distros.resolve(row['distro'], row['release'], 'amd64', 'http://mirror.example/')['ovf']
        assert os_type['cim'].isdigit() and os_type['vmware'].endswith('64Guest'), row
        assert os_type['description'].endswith('(64-bit)'), row
        assert ('Debian' in os_type['description']) == (row['distro'] == 'debian'), row


def test_the_disk_of_an_ova_is_unpacked_to_boot(tmp_path):
    disk = make_ova(tmp_path / 't.ova')
    path = disk_archive.bootable_disk(str(tmp_path / 't.ova'), str(tmp_path / 'run'))
    assert path == str(tmp_path / 'run' / 't-disk1.vmdk')
    with open(path, 'rb') as f:
        assert f.read() == disk
    assert disk_archive.bootable_disk('/x/img.qcow2', str(tmp_path / 'run')) == '/x/img.qcow2'


def test_an_archive_without_one_disk_is_refused(tmp_path):
    with tarfile.open(tmp_path / 'x.tar.gz', 'w:gz') as tar:
        info = tarfile.TarInfo('../../etc/disk.raw')
        tar.addfile(info, io.BytesIO(b''))
    with pytest.raises(ValueError, match='exactly one disk'):
        disk_archive.bootable_disk(str(tmp_path / 'x.tar.gz'), str(tmp_path / 'run'))


def test_every_platform_profile_is_complete_and_its_formats_exist():
    assert platforms.names() == ['aws', 'azure', 'gcp', 'hyperv', 'kvm', 'virtualbox', 'vmware']
    for name in platforms.names():
        profile = platforms.load(name)
        assert profile['description'] and profile['formats'], name
        req.validate({'platform': name})
        if profile['cloud_init']:
            req.validate({'platform': name, 'cloud_init': profile['cloud_init']})  # the profile's keys are valid keys
        resolved = req.resolve({'platform': name}, cwd='/srv', build_id='abc123')
        assert resolved['formats'] == profile['formats'] and resolved['boot_image'], name
        assert resolved['platform_profile']['services'] == profile['services']['debian']
        assert all(set(profile[key]) == set(distros.FAMILIES) for key in platforms.FAMILY_KEYS), name


def test_a_profile_gives_the_requests_family_its_package_and_unit_names():
    rocky = req.resolve({'distro': 'rocky', 'release': '9', 'platform': 'azure'}, cwd='/srv', build_id='abc123')
    assert rocky['packages']['install'][0] == 'WALinuxAgent' and 'waagent' not in rocky['packages']['install']
    assert rocky['platform_profile']['services'] == rocky['platform_profile']['agent_units'] == ['waagent.service']
    leap = req.resolve({'distro': 'opensuse-leap', 'release': '15.6', 'platform': 'hyperv'}, cwd='/srv', build_id='abc123')
    assert leap['packages']['install'][0] == 'hyper-v' and leap['services']['disabled'] == []
    debian = req.resolve({'platform': 'hyperv'}, cwd='/srv', build_id='abc123')
    assert debian['packages']['install'][0] == 'hyperv-daemons' and 'hv-kvp-daemon.service' in debian['services']['disabled']


def test_a_profile_adds_to_the_request_and_the_request_wins_on_formats():
    resolved = req.resolve({'platform': 'azure', 'formats': ['qcow2', 'vhd'], 'packages': {'install': ['vim', 'waagent']},
                            'kernel_cmdline': ['quiet', 'rootdelay=300']})
    assert resolved['formats'] == ['qcow2', 'vhd']
    assert resolved['packages']['install'][:2] == ['waagent', 'vim'] and 'cloud-init' in resolved['packages']['install']
    assert resolved['cloud_init'] == {'enabled': True, 'datasources': ['Azure', 'NoCloud']}
    # The request's own cloud_init wins: no cloud-init at all.
    off = req.resolve({'platform': 'azure', 'cloud_init': {'enabled': False}})
    assert off['packages']['install'] == ['waagent'] and not off['cloud_init']['enabled']
    assert resolved['kernel_cmdline'] == ['console=ttyS0,115200n8', 'earlyprintk=ttyS0,115200', 'rootdelay=300', 'quiet']
    assert req.resolve({'platform': 'kvm'})['packages']['install'] == ['qemu-guest-agent']


def test_a_profile_disables_units_its_packages_enable_unless_the_request_enables_them():
    hv = ['hv-kvp-daemon.service', 'hv-vss-daemon.service', 'hv-fcopy-daemon.service']
    assert req.resolve({'platform': 'hyperv'})['services']['disabled'] == hv
    resolved = req.resolve({'platform': 'hyperv', 'services': {'enabled': ['hv-vss-daemon.service'],
                                                               'disabled': ['cron.service']}})
    assert resolved['services']['disabled'] == ['hv-kvp-daemon.service', 'hv-fcopy-daemon.service', 'cron.service']
    assert resolved['services']['enabled'] == ['hv-vss-daemon.service']


def test_an_unknown_platform_names_the_profiles():
    assert 'aws, azure, gcp, hyperv, kvm, virtualbox, vmware' in errors_of({'platform': 'openstack'})['platform']


def test_a_profile_format_is_checked_like_a_requested_one():
    assert 'whole number of MiB' in errors_of({'platform': 'azure', 'disk': {'size': 3 * 1024 ** 3 + 512}})['disk.size']


def test_an_iso_gets_live_boot_and_is_proven_alone_under_both_firmwares():
    resolved = req.resolve({'formats': ['iso', 'qcow2']})
    assert resolved['packages']['install'] == ['live-boot', 'grub-efi-amd64-bin']
    assert resolved['boot_image'].endswith('.qcow2') and resolved['boot_test']['verify']
    alone = req.resolve({'formats': ['iso']})
    assert alone['boot_image'].endswith('.iso')
    assert alone['boot_test']['verify'] is False and alone['boot_test']['firmwares'] == ['bios', 'uefi']


def test_the_qcow2_is_compressed_with_zstd_by_default():
    assert req.resolve({})['compress'] is True
    assert formats.COMPRESSIBLE == {'qcow2': {'compression_type': 'zstd'}}
    # written out of order, which only qcow2 of the disk formats allows (streamOptimized vmdk, fixed vhd do not)
    assert formats.UNORDERED == ('qcow2',)
