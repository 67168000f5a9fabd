"""The bootloader and verify roles read what differs per family from the distro table: their variables and
templates rendered with each family's resolved facts, as Ansible renders them in a build."""

import json
import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.osimage.builder.plugins.module_utils import distros

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LOADER = DataLoader()
DISK = {'boot': {'prefix': '/boot', 'filesystem': 'ext4', 'uuid': 'B00T'}, 'firmware': 'hybrid',
        'root': {'device': 'UUID=R00T'}, 'secure_boot': False}


def trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trusted(v) for v in value]
    return value


def role_vars(role):
    return trusted(LOADER.load_from_file(os.path.join(COLLECTION, 'roles', role, 'vars', 'main.yml')))


def os_facts(distro, release, arch='amd64'):
    mirror = distros.DISTROS[distro]['mirror'] or 'http://rmt.example/repo'
    return json.loads(json.dumps(distros.resolve(distro, release, arch, mirror)))


def bootloader(distro, release, arch='amd64', disk=None):
    """A Templar with the bootloader role's variables, as build.yml passes the resolved build to it."""
    facts = os_facts(distro, release, arch)
    variables = dict(role_vars('bootloader'), bootloader_grub=facts['grub'], bootloader_machine=facts['machine'],
                     bootloader_initramfs=facts['initramfs'], bootloader_initrd_name=facts['initrd_name'],
                     bootloader_disk=disk or DISK, bootloader_serial_console=True, bootloader_cmdline=[],
                     bootloader_timeout=1, bootloader_kernel='vmlinuz-6.1.0-9-amd64', bootloader_uname='6.1.0-9-amd64',
                     bootloader_initrd=facts['initrd_name'] % '6.1.0-9-amd64', bootloader_title='Some Linux',
                     ansible_managed='managed')
    return Templar(LOADER, variables=variables)


def value(templar, name):
    return templar.template(trust_as_template('{{ %s }}' % name))


def render(templar, template):
    with open(os.path.join(COLLECTION, 'roles', 'bootloader', 'templates', template), encoding='utf-8') as f:
        return templar.template(trust_as_template(f.read()))


# What the role held as Debian's own values before the table did (amd64 and arm64).
DEBIAN_PATHS = {
    'amd64': {'bootloader_grub_mkimage': 'grub-mkimage', 'bootloader_grub_lib': '/usr/lib/grub/i386-pc',
              'bootloader_grub_efi_lib': '/usr/lib/grub/x86_64-efi', 'bootloader_grub_dir': '/boot/grub',
              'bootloader_efi_vendor': 'debian', 'bootloader_shim_signed': '/usr/lib/shim/shimx64.efi.signed',
              'bootloader_grub_signed': '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
              'bootloader_efi_grub': 'grubx64.efi', 'bootloader_efi_removable': 'BOOTX64.EFI'},
    'arm64': {'bootloader_grub_efi_lib': '/usr/lib/grub/arm64-efi', 'bootloader_efi_vendor': 'debian',
              'bootloader_grub_signed': '/usr/lib/grub/arm64-efi-signed/grubaa64.efi.signed',
              'bootloader_shim_signed': '/usr/lib/shim/shimaa64.efi.signed', 'bootloader_efi_grub': 'grubaa64.efi'},
}


@pytest.mark.parametrize('arch', sorted(DEBIAN_PATHS))
def test_debian_boots_from_the_paths_it_always_had(arch):
    templar = bootloader('debian', 'bookworm', arch)
    assert {name: value(templar, name) for name in DEBIAN_PATHS[arch]} == DEBIAN_PATHS[arch]
    assert value(templar, "bootloader_initrd_name | format(bootloader_uname)") == 'initrd.img-6.1.0-9-amd64'


@pytest.mark.parametrize('prefix', ['/boot', ''])
def test_debians_grub_configuration_is_the_menu_it_always_was(prefix):
    templar = bootloader('debian', 'trixie', disk=dict(DISK, boot=dict(DISK['boot'], prefix=prefix)))
    assert value(templar, 'bootloader_grub.config') == 'menu'
    assert render(templar, 'early.cfg.j2') == ('search --no-floppy --fs-uuid --set=root B00T\n'
                                               'set prefix=($root)%s/grub\n' % prefix)
    assert render(templar, 'esp-grub.cfg.j2').splitlines()[1:] == ['set prefix=($root)%s/grub' % prefix,
                                                                   'configfile $prefix/grub.cfg']


def test_el_writes_a_boot_loader_specification_entry_that_grub2_reads():
    templar = bootloader('rocky', '9')
    assert value(templar, 'bootloader_grub.config') == 'bls' and value(templar, 'bootloader_initramfs') == 'dracut'
    assert value(templar, 'bootloader_grub_dir') == '/boot/grub2' and value(templar, 'bootloader_grub_prefix') == '/boot/grub2'
    assert value(templar, 'bootloader_grub_mkimage') == 'grub2-mkimage'
    assert value(templar, 'bootloader_shim_signed') == '/boot/efi/EFI/rocky/shimx64.efi'
    entry = render(templar, 'bls-entry.conf.j2').splitlines()
    assert entry[1:] == ['title Some Linux', 'version 6.1.0-9-amd64', 'linux /boot/vmlinuz-6.1.0-9-amd64',
                         'initrd /boot/initramfs-6.1.0-9-amd64.img',
                         'options root=UUID=R00T ro console=tty0 console=ttyS0,115200n8']
    cfg = render(templar, 'grub-bls.cfg.j2')
    assert 'set blsdir=/boot/loader/entries\ninsmod blscfg\nblscfg' in cfg and 'menuentry' not in cfg


@pytest.mark.parametrize('distro,release,vendor', [('almalinux', '9', 'almalinux'), ('centos-stream', '10', 'centos'),
                                                   ('fedora', '44', 'fedora'), ('opensuse-leap', '15.6', 'opensuse'),
                                                   ('sles', '15-SP6', 'sles'), ('ubuntu', 'noble', 'ubuntu')])
def test_each_distribution_names_its_esp_directory_and_signed_binaries(distro, release, vendor):
    templar = bootloader(distro, release)
    assert value(templar, 'bootloader_efi_vendor') == vendor
    for name in ('bootloader_shim_signed', 'bootloader_grub_signed', 'bootloader_grub_lib'):
        assert value(templar, name).startswith('/') and '{' not in value(templar, name)


def test_suse_keeps_grub2_under_usr_share_and_its_own_initrd_name():
    templar = bootloader('opensuse-leap', '15.6')
    assert value(templar, 'bootloader_grub_lib') == '/usr/share/grub2/i386-pc'
    assert value(templar, 'bootloader_grub_signed') == '/usr/share/efi/x86_64/grub.efi'
    assert value(templar, "bootloader_initrd_name | format(bootloader_uname)") == 'initrd-6.1.0-9-amd64'
    assert value(templar, 'bootloader_grub.config') == 'menu'


def verify(distro, release, location, probes):
    """A Templar with the verify role's variables for a request of ``distro`` and the guest's probe outputs."""
    facts = os_facts(distro, release)
    state = {'probes': {name: {'rc': 0, 'stdout': out.strip(), 'stderr': ''} for name, out in probes.items()}}
    variables = dict(role_vars('verify'), verify_request={'os': facts, 'location': location},
                     verify_gathered={'stdout': json.dumps(state)}, verify_services=[])
    return Templar(LOADER, variables=variables)


# What each mechanism's probe prints in a guest (resolvectl 255, timedatectl 255, chronyc 4.5).
PROBES = {
    'resolved': 'Global: 192.0.2.53 192.0.2.54\nLink 2 (enp1s0): 10.0.2.3',
    'timesyncd': 'ntp.example.org ntp2.example.org',
    'chrony': '^,?,ntp.example.org,0,6,0,-,+0.000000000,+0.000000000,0.000000000\n'
              '^,*,ntp2.example.org,2,6,377,35,-0.000013,-0.000020,0.010375',
    'resolv.conf': '# Generated by NetworkManager\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n',
}


@pytest.mark.parametrize('distro,release,dns,ntp', [('debian', 'bookworm', 'resolved', 'timesyncd'),
                                                    ('rocky', '9', 'resolv.conf', 'chrony'),
                                                    ('opensuse-leap', '15.6', 'resolv.conf', 'chrony')])
def test_verify_asks_the_familys_resolver_and_time_service(distro, release, dns, ntp):
    location = {'dns': ['192.0.2.53', '192.0.2.54'], 'ntp': ['ntp.example.org', 'ntp2.example.org']}
    templar = verify(distro, release, location, {'dns': PROBES[dns], 'ntp': PROBES[ntp]})
    assert value(templar, 'verify_dns_servers') == location['dns']
    assert value(templar, 'verify_ntp_servers') == location['ntp']
    facts = os_facts(distro, release)
    args = value(templar, 'verify_gather_args')
    assert '--probe=dns=' + json.dumps(facts['dns_check']['probe']) in args
    assert '--probe=ntp=' + json.dumps(facts['ntp_check']['probe']) in args


def test_verify_probes_no_resolver_or_time_service_when_the_request_sets_no_servers():
    args = value(verify('debian', 'bookworm', {'dns': [], 'ntp': []}, {}), 'verify_gather_args')
    assert not [a for a in args if a.startswith(('--probe=dns=', '--probe=ntp='))]


def test_every_resolver_and_time_service_of_the_location_role_has_a_check():
    tasks = os.listdir(os.path.join(COLLECTION, 'roles', 'location', 'tasks'))
    assert sorted(distros.DNS_CHECKS) == sorted(t[4:-4] for t in tasks if t.startswith('dns_'))
    assert sorted(distros.NTP_CHECKS) == sorted(t[4:-4] for t in tasks if t.startswith('ntp_'))


ROOT = {'source': '/dev/vda1', 'fstype': 'ext4', 'options': 'rw,relatime', 'uuid': '5e1f-aa', 'partuuid': '0c0ffee0-01',
        'label': 'ROOT', 'partlabel': None}


@pytest.mark.parametrize('fstab,named', [
    ('UUID=5E1F-AA / ext4 defaults 0 1\n', True),
    ('# a comment / here\nPARTUUID=0c0ffee0-01 / ext4 errors=remount-ro 0 1\nLABEL=BOOT /boot ext4 defaults 0 2\n', True),
    ('LABEL=ROOT\t/\text4 defaults 0 1\n', True),
    ('/dev/vda1 / ext4 defaults 0 1\n', True),
    ('PARTUUID=0c0ffee0-02 / ext4 defaults 0 1\n', False),
    ('UUID=other / ext4 defaults 0 1\n', False),
    ('tmpfs /tmp tmpfs defaults 0 0\n', False),
])
def test_verify_finds_the_root_by_whatever_fstab_names_it_by(fstab, named):
    state = {'root': ROOT, 'files': {'/etc/fstab': fstab}}
    templar = Templar(LOADER, variables=dict(role_vars('verify'), verify_gathered={'stdout': json.dumps(state)}))
    assert value(templar, 'verify_root_named_by_fstab') is named
