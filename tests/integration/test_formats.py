"""Output formats: one build emits every format; each is checked, read back and the disks a user imports boot.

Default: the all-keys build (all_keys.py), which writes every format but the GCE tarball and raw: the checks
after conversion, the OVA, root tarball and OCI archive read back, every disk format compared with the qcow2, and
the vmdk (the disk of the OVA too) booted and verified by the build's own boot test. The matrix adds the GCE
tarball, raw, and boots of the vhdx, vdi, vhd, OVA, GCE tarball, of the live ISO (from a CD-ROM under SeaBIOS and
OVMF) and of each platform profile's image.
"""

import json
import os
import subprocess
import tarfile
from xml.etree import ElementTree

import pytest

from osimage_testlib import BIN, Built, run

pytestmark = pytest.mark.integration

MATRIX_FORMATS = ['raw', 'gce']
SUFFIX = {'raw': 'raw', 'qcow2': 'qcow2', 'vmdk': 'vmdk', 'vhd': 'vhd', 'vhdx': 'vhdx', 'vdi': 'vdi', 'ova': 'ova',
          'gce': 'gce.tar.gz', 'tar': 'tar.zst', 'oci': 'oci.tar'}
QEMU = {'vhd': 'vpc'}


def build(tmp_path_factory, label, request):
    out = tmp_path_factory.mktemp(label)
    path = out / 'request.json'
    path.write_text(json.dumps(dict(request, name=label, boot_test={'timeout': 900})))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '-o', str(out / 'out')], timeout=3600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Built(str(out / 'out'), proc)


@pytest.fixture(scope='session')
def formats_build(all_keys_build):
    """The session's build that emits every default-tested format (all_keys.FORMATS); its boot test and verify
    play run on the vmdk."""
    return all_keys_build


def path_of(built, fmt):
    return os.path.join(built.dir, '%s.%s' % (built.manifest['name'], SUFFIX[fmt]))


def boot_all(paths, out_root):
    """Boot the images at once (login prompt only); return {path: boot report}."""
    procs = {}
    for path in paths:
        out = os.path.join(out_root, os.path.basename(path))
        procs[path] = (out, subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(BIN, 'osimage'), 'boot-test', path, '--no-verify', '--timeout', '900', '-o', out],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    reports = {}
    for path, (out, proc) in procs.items():
        output = proc.communicate(timeout=1200)[0]
        assert proc.returncode == 0, '%s: %s' % (path, output[-3000:])
        with open(os.path.join(out, 'boot-report.json'), encoding='utf-8') as f:
            reports[path] = json.load(f)
    return reports


def test_every_format_is_written_checked_and_in_the_manifest(formats_build):
    images = {i['format']: i for i in formats_build.manifest['images']}
    assert list(images) == ['qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi', 'ova', 'tar', 'oci']
    for fmt, image in images.items():
        assert image['dest'] == path_of(formats_build, fmt) and os.path.getsize(image['dest']) == image['bytes']
        with open(image['dest'] + '.sha256', encoding='utf-8') as f:
            assert f.read().split()[0] == image['sha256']
        assert image['checks'] and image['seconds'] >= 0, fmt
        if fmt not in ('ova', 'tar', 'oci'):
            assert 'reads back identical to the source' in [c['name'] for c in image['checks']], fmt
    assert not [n for n in os.listdir(formats_build.dir) if '.tmp-' in n]
    assert formats_build.report['outcome'] == 'passed'


def test_disk_formats_are_what_their_platforms_import(formats_build):
    for fmt in ('vmdk', 'vhd', 'vhdx', 'vdi'):
        info = json.loads(run(['qemu-img', 'info', '--output=json', '-f', QEMU.get(fmt, fmt), path_of(formats_build, fmt)],
                              check=True).stdout)
        assert info['virtual-size'] == 3 * 1024 ** 3, fmt
        compare = run(['qemu-img', 'compare', '-F', QEMU.get(fmt, fmt), path_of(formats_build, 'qcow2'),
                       path_of(formats_build, fmt)])
        assert compare.returncode == 0, (fmt, compare.stdout, compare.stderr)
        if fmt == 'vmdk':
            assert info['format-specific']['data']['create-type'] == 'streamOptimized'
    vhd = path_of(formats_build, 'vhd')
    with open(vhd, 'rb') as f:
        f.seek(-512, os.SEEK_END)
        footer = f.read()
    assert footer[:8] == b'conectix' and int.from_bytes(footer[60:64], 'big') == 2  # fixed
    assert os.path.getsize(vhd) == 3 * 1024 ** 3 + 512


def test_the_ova_is_an_ovf_package_vmware_and_virtualbox_import(formats_build):
    ova = path_of(formats_build, 'ova')
    with tarfile.open(ova) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        name = formats_build.manifest['name']
        assert names == ['%s.ovf' % name, '%s.mf' % name, '%s-disk1.vmdk' % name]
        descriptor = ElementTree.fromstring(tar.extractfile(members[0]).read())
        mf = tar.extractfile(members[1]).read().decode()
    ns = {'ovf': 'http://schemas.dmtf.org/ovf/envelope/1'}
    assert descriptor.get('{%s}version' % ns['ovf']) == '1.0'
    disk = descriptor.find('ovf:DiskSection/ovf:Disk', ns)
    assert disk.get('{%s}capacity' % ns['ovf']) == str(3 * 1024 ** 3)
    # The guest OS is the distribution's own (distros.py 'ovf'): bookworm is Debian 12, 64-bit.
    guest = descriptor.find('ovf:VirtualSystem/ovf:OperatingSystemSection', ns)
    assert guest.get('{%s}id' % ns['ovf']) == '96' and guest.findtext('ovf:Description', namespaces=ns) == \
        'Debian GNU/Linux 12 (64-bit)'
    assert guest.get('{http://www.vmware.com/schema/ovf}osType') == 'debian12_64Guest'
    assert 'SHA256(%s.ovf)= ' % name in mf and 'SHA256(%s-disk1.vmdk)= ' % name in mf
    with open(path_of(formats_build, 'vmdk') + '.sha256', encoding='utf-8') as f:
        assert f.read().split()[0] in mf  # the OVA's disk is the vmdk beside it, byte for byte


def test_the_root_tarball_holds_the_tree(formats_build):
    listing = run(['tar', '--list', '--zstd', '--file', path_of(formats_build, 'tar')], check=True).stdout.splitlines()
    assert './etc/os-release' in listing and './boot/grub/grub.cfg' in listing
    assert not [n for n in listing if n.startswith(('./proc/', './sys/')) and n.count('/') > 2]


def test_the_oci_archive_is_the_tree_without_kernel_with_the_requests_labels(formats_build):
    archive, request = path_of(formats_build, 'oci'), formats_build.manifest['request']
    config = json.loads(run(['skopeo', 'inspect', '--config', 'oci-archive:' + archive], check=True).stdout)
    assert (config['os'], config['architecture'], config['config']['Cmd']) == ('linux', 'amd64', ['/bin/bash'])
    labels = config['config']['Labels']
    assert labels['org.opencontainers.image.title'] == formats_build.manifest['name']
    assert [labels['osimage.builder.' + k] for k in ('distro', 'release', 'arch')] == ['debian', 'bookworm', 'amd64']
    assert labels['osimage.builder.build_id'] == request['build_id']
    with tarfile.open(archive) as tar:
        def blob(digest):
            return tar.extractfile('blobs/sha256/' + digest.split(':')[1])
        (entry,) = json.load(tar.extractfile('index.json'))['manifests']
        (layer,) = json.load(blob(entry['digest']))['layers']
        with tarfile.open(fileobj=blob(layer['digest']), mode='r|gz') as files:
            names, os_release = {}, {}
            for member in files:
                names[member.name] = member
                if member.name in ('./etc/os-release', './usr/lib/os-release') and member.isfile():
                    os_release[member.name] = files.extractfile(member).read().decode()
    link = names['./etc/os-release']
    path = './usr/lib/os-release' if link.issym() and link.linkname == '../usr/lib/os-release' else './etc/os-release'
    # The image's own, as the root tarball of the same build holds it
    image = run(['tar', '--extract', '--zstd', '--to-stdout', '--file', path_of(formats_build, 'tar'), path],
                check=True).stdout
    assert os_release[path] == image and 'VERSION_CODENAME=bookworm' in image
    assert './usr/bin/bash' in names and './boot' in names
    assert not [n for n in names if n.startswith(('./boot/', './usr/lib/modules/', './vmlinuz'))]
    assert os.path.isfile(os.path.join(formats_build.dir, formats_build.manifest['name'] + '.oci', 'index.json'))


def test_vmdk_boots_to_its_login_prompt(formats_build):
    """The build's boot test booted the vmdk, not the qcow2 beside it (the first bootable format of the request),
    and the verify play passed in it: a boot of its own would prove nothing more."""
    report = formats_build.report
    assert report['outcome'] == 'passed' and report['seconds_to_login'] > 0, report
    assert (report['image'], report['format']) == (path_of(formats_build, 'vmdk'), 'vmdk'), report


@pytest.mark.matrix
def test_vhdx_and_vdi_boot_to_their_login_prompts(formats_build, tmp_path):
    reports = boot_all([path_of(formats_build, f) for f in ('vhdx', 'vdi')], str(tmp_path))
    for path, report in reports.items():
        assert report['outcome'] == 'passed' and report['seconds_to_login'] > 0, path
        assert report['format'] == os.path.splitext(path)[1][1:], report


@pytest.fixture(scope='session')
def matrix_build(tmp_path_factory):
    return build(tmp_path_factory, 'formatsm', {'formats': ['qcow2'] + MATRIX_FORMATS, 'boot_test': {'enabled': False}})


@pytest.mark.matrix
def test_raw_and_gce_are_written_and_checked(matrix_build):
    images = {i['format']: i for i in matrix_build.manifest['images']}
    assert images['gce']['members'] == ['disk.raw'] and images['gce']['virtual_size'] == 3 * 1024 ** 3
    with tarfile.open(path_of(matrix_build, 'gce')) as tar:
        (member,) = tar.getmembers()
        assert member.name == 'disk.raw' and member.issparse()


@pytest.mark.matrix
def test_vhd_ova_and_gce_boot_to_their_login_prompts(formats_build, matrix_build, tmp_path):
    paths = [path_of(formats_build, 'vhd'), path_of(formats_build, 'ova'), path_of(matrix_build, 'gce')]
    for path, report in boot_all(paths, str(tmp_path)).items():
        assert report['outcome'] == 'passed', path
        if path.endswith(('.ova', '.tar.gz')):
            assert report['unpacked_disk'] and report['image'] == path


@pytest.mark.matrix
@pytest.mark.parametrize('platform', ['kvm', 'vmware', 'virtualbox', 'hyperv', 'azure', 'aws', 'gcp'])
def test_each_platform_profile_builds_and_verifies(platform, tmp_path_factory):
    built = build(tmp_path_factory, 'platform-' + platform, {'platform': platform})
    checks = {c['name']: c['outcome'] for c in built.report['checks']}
    assert built.report['outcome'] == 'passed'
    profile = built.manifest['request']['platform_profile']
    wanted = built.manifest['request']['packages']['install']  # the profile's, and cloud-init for its cloud_init
    assert checks['requested packages are installed'] == ('passed' if wanted else 'skipped')
    assert 'failed' not in checks.values(), built.report['checks']
    if profile['agent_units']:
        assert checks["the platform's guest agent is installed"] == 'passed'
    if built.manifest['request']['kernel_cmdline']:
        assert checks["requested kernel arguments are on the running kernel's command line"] == 'passed'


@pytest.mark.matrix
def test_the_live_iso_boots_from_a_cdrom_under_seabios_and_ovmf(tmp_path_factory):
    built = build(tmp_path_factory, 'live', {'formats': ['iso']})
    (image,) = built.manifest['images']
    assert image['format'] == 'iso' and image['checks']
    catalog = run(['xorriso', '-indev', image['dest'], '-report_el_torito', 'plain'], check=True)
    assert ' BIOS ' in catalog.stdout + catalog.stderr and ' UEFI ' in catalog.stdout + catalog.stderr
    reports = {'bios': built.report, 'uefi': built.json('boot-report-uefi.json')}
    for firmware, report in reports.items():
        assert report['outcome'] == 'passed' and report['firmware'] == firmware and report['device'] == 'cdrom', report
