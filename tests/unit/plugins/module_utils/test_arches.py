"""The architecture axis of the distro table: arm64 resolves, boots and is refused only by data (ARCHES)."""

from xml.etree import ElementTree

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import binfmt
from ansible_collections.osimage.builder.plugins.module_utils import disk
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot
from ansible_collections.osimage.builder.plugins.module_utils import request as req


def resolve(**keys):
    mirror = {} if distros.DISTROS[keys.get('distro', 'debian')]['mirror'] else {'mirror': 'http://rmt.example/repo'}
    return req.resolve(dict(mirror, **keys), cwd='/srv', build_id='abc123')


@pytest.mark.parametrize('arch', sorted(distros.ARCHES))
def test_every_arch_is_a_complete_entry(arch):
    """A new architecture (riscv64...) is one more entry with the same keys, whose names the code knows."""
    entry = distros.ARCHES[arch]
    assert set(entry) == set(distros.ARCHES['amd64'])
    assert entry['root_type'] in disk.TYPES
    assert set(entry['firmwares']) >= set(entry['firmware_default'].values())
    for spec in entry['boot']['firmware'].values():
        assert spec['machine'] in libvirt_boot.MACHINES


@pytest.mark.parametrize('release', ['bookworm', 'trixie'])
def test_arm64_debian_is_uefi_only_with_its_kernel_grub_and_root_type(release):
    build = resolve(release=release, arch='arm64')
    assert build['os']['arch_name'] == 'arm64' and build['os']['machine']['machine'] == 'aarch64'
    assert build['os']['packages']['kernel'] == ['linux-image-arm64']
    assert build['disk']['firmware'] == 'uefi' and build['boot_test']['firmwares'] == ['uefi']
    assert [(p['type'], p['filesystem']) for p in build['disk']['partitions']] == [('esp', 'vfat'),
                                                                                   ('root_aarch64', 'ext4')]
    assert 'grub-efi-arm64-bin' in build['disk']['packages'] and 'grub-pc-bin' not in build['disk']['packages']


def test_arm64_mbr_is_uefi_too():
    parts = resolve(arch='arm64', disk={'table': 'mbr'})['disk']
    assert parts['firmware'] == 'uefi' and [p['type'] for p in parts['partitions']] == ['esp', 'linux']


def test_amd64_keeps_its_hybrid_default():
    build = resolve()
    assert build['disk']['firmware'] == 'hybrid' and build['disk']['partitions'][-1]['type'] == 'root_x86_64'


@pytest.mark.parametrize('distro,release,grub', [('rocky', '9', 'grub2-efi-aa64'), ('fedora', '44', 'grub2-efi-aa64'),
                                                 ('opensuse-leap', '15.6', 'grub2-arm64-efi')])
def test_rpm_families_name_their_arm64_packages_and_repositories(distro, release, grub):
    os_facts = resolve(distro=distro, release=release, arch='arm64')['os']
    assert grub in distros.packages(os_facts, ['grub-efi']) and os_facts['arch_name'] == 'aarch64'


def test_ubuntu_is_amd64_only_and_the_catalogue_says_so():
    rows = {(r['distro'], r['release']): r['arches'] for r in distros.catalogue()}
    assert rows[('debian', 'bookworm')] == ['amd64', 'arm64'] and rows[('ubuntu', 'noble')] == ['amd64']


@pytest.mark.parametrize('keys,key', [
    ({'disk': {'firmware': 'bios'}}, 'disk.firmware'),
    ({'disk': {'firmware': 'hybrid'}}, 'disk.firmware'),
    ({'disk': {'firmware': 'uefi', 'bootloader': 'extlinux'}}, 'disk.bootloader'),
    ({'disk': {'secure_boot': True}}, 'disk.secure_boot'),
    ({'formats': ['iso']}, 'formats'),
    ({'platform': 'gcp'}, 'platform'),
    ({'boot_test': {'firmware': 'bios'}}, 'boot_test.firmware'),
])
def test_what_arm64_cannot_do_is_refused_naming_the_key(keys, key):
    with pytest.raises(req.RequestError) as err:
        resolve(arch='arm64', **keys)
    assert key in [k for k, _msg in err.value.errors]


def test_arm64_boots_on_virt_with_aavmf_and_a_64_bit_cpu(tmp_path):
    loader, nvram = libvirt_boot.firmware_files('uefi', str(tmp_path), arch='arm64')
    assert loader == '/usr/share/AAVMF/AAVMF_CODE.fd' and (tmp_path / 'OVMF_VARS.fd').stat().st_size > 0
    xml = libvirt_boot.domain_xml('d', 'qemu', '/c.log', 1024, 2, disk='/o.qcow2', disk_format='qcow2',
                                  firmware='uefi', loader=loader, nvram=nvram, cdrom='/seed.iso', arch='arm64')
    root = ElementTree.fromstring(xml)
    assert root.find('os/type').attrib == {'arch': 'aarch64', 'machine': 'virt'}
    assert root.findtext('cpu/model') == 'cortex-a57' and root.find('features/apic') is None
    assert root.find('devices/controller').attrib == {'type': 'scsi', 'model': 'virtio-scsi'}
    seed = [d for d in root.iter('disk') if d.get('device') == 'cdrom'][0]
    assert seed.find('target').attrib == {'dev': 'sdc', 'bus': 'scsi'} and seed.find('readonly') is not None
    assert 'bus=pcie.0' in [a.get('value') for a in root.iter('{%s}arg' % libvirt_boot.QEMU_NS)][3]


def test_arm64_has_no_bios_firmware(tmp_path):
    with pytest.raises(libvirt_boot.BootError, match='does not boot arm64'):
        libvirt_boot.firmware_files('bios', str(tmp_path), arch='arm64')


def test_the_kvm_probe_never_accelerates_a_foreign_arch(monkeypatch):
    host = type('Uname', (), {'machine': 'x86_64'})()
    monkeypatch.setattr(binfmt.os, 'uname', lambda: host)
    monkeypatch.setattr(libvirt_boot.os, 'uname', lambda: host)
    assert libvirt_boot.probe_kvm(None, '/no/kernel', arch='arm64') == (
        False, 'KVM cannot run aarch64 guests on this x86_64 host')


def test_the_binfmt_rule_is_qemu_user_statics_renamed_for_the_build(tmp_path):
    (tmp_path / 'qemu-aarch64.conf').write_text('# comment\n:qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/q:OPF\n')
    assert binfmt.rule('aarch64', 'osimage-abc', str(tmp_path)) == ':osimage-abc:M::\\x7fELF:\\xff:/usr/libexec/q:OPF'
    with pytest.raises(ValueError, match='install qemu-user-static'):
        binfmt.rule('riscv64', 'osimage-abc', str(tmp_path))


def test_releasing_a_build_removes_its_binfmt_entry(tmp_path, monkeypatch):
    removed = []
    monkeypatch.setattr(leftovers.libvirt_boot, 'HAS_LIBVIRT', False)
    monkeypatch.setattr(leftovers.chroot, 'mounts', lambda: [])
    monkeypatch.setattr(leftovers.binfmt, 'unregister', lambda name: removed.append(name) or True)
    assert leftovers.release('abcd1234', str(tmp_path)) == ['binfmt entry osimage-abcd1234']
    assert removed == ['osimage-abcd1234']


def test_aws_and_azure_take_arm64_with_their_arm64_serial_consoles():
    aws = resolve(arch='arm64', platform='aws')
    azure = resolve(arch='arm64', platform='azure')
    assert aws['kernel_cmdline'][0] == 'console=ttyS0,115200n8' and aws['formats'] == ['raw']
    assert azure['kernel_cmdline'][:2] == ['console=ttyAMA0', 'rootdelay=300'] and azure['formats'] == ['vhd']
    assert 'earlyprintk=ttyS0,115200' in resolve(platform='azure')['kernel_cmdline']
    with pytest.raises(req.RequestError) as err:
        resolve(arch='arm64', platform='vmware')
    assert "the vmware profile is made for amd64, not arm64" in str(err.value)


def test_the_build_says_once_whether_this_host_emulates_its_arch():
    native, arm = resolve(arch='amd64'), resolve(arch='arm64')
    assert (native['foreign'], arm['foreign']) == (binfmt.foreign('x86_64'), binfmt.foreign('aarch64'))
    assert native['foreign'] or arm['foreign']  # no host runs both natively
