"""The bootloader and verify roles read what differs per family from the distro table: their variables and
templates rendered with each family's resolved facts, as Ansible renders them in a build."""

import hashlib
import json
import os
import sys

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import request as req

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


def test_every_resolver_and_time_service_of_the_location_role_has_a_check():
    tasks = os.listdir(os.path.join(COLLECTION, 'roles', 'location', 'tasks'))
    assert sorted(distros.DNS_CHECKS) == sorted(t[4:-4] for t in tasks if t.startswith('dns_'))
    assert sorted(distros.NTP_CHECKS) == sorted(t[4:-4] for t in tasks if t.startswith('ntp_'))


@pytest.fixture(name='collection_loader')
def ansibles_collection_loader():
    """Ansible's collection loader, which finds the collection's plugins by their names: the collection is
    imported through it while the test runs (then the plain imports of the other tests are back)."""
    plain = {name: module for name, module in sys.modules.items() if name.startswith('ansible_collections')}
    for name in plain:
        del sys.modules[name]
    init_plugin_loader([os.path.join(COLLECTION, 'playbooks', 'collections')])
    yield
    sys.modules.update(plain)


@pytest.mark.usefixtures('collection_loader')
def test_the_verify_roles_vars_hand_what_its_tasks_found_to_the_filters(tmp_path):
    """The role's vars as Ansible renders them (the collection's filters by their names), with the results its
    tasks register: a template of the request's files is rendered with the request for its checksum."""
    (tmp_path / 'app.conf.j2').write_text('# for {{ hostname }}\n')
    request = json.loads(json.dumps(req.resolve({'hostname': 'web', 'files': [{'path': '/etc/app.conf',
                                                                               'template': 'app.conf.j2'}]},
                                                cwd=str(tmp_path))))
    state = {'paths': {'/etc/app.conf': {'state': 'file', 'owner': 'root', 'group': 'root', 'mode': '0644',
                                         'sha256': hashlib.sha256(b'# for web\n').hexdigest()}}, 'hostname': 'web.lan'}
    variables = dict(role_vars('verify'), verify_request=request, verify_services=['nginx.service'],
                     verify_gathered={'stdout': json.dumps(state)}, verify_build_host_nameservers=[],
                     verify_firmware='', verify_dropped_port=None, ansible_facts={}, verify_keys={'results': []},
                     verify_sudo={'results': []}, verify_probed={'skipped': True})
    templar = Templar(LOADER, variables=variables)
    assert value(templar, 'verify_gather_args')[:2] == ['nginx.service', request['os']['ssh_service']]
    checks = {c['name']: c for c in value(templar, 'verify_checks')}
    for name in ('hostname is the requested one', 'files, directories and links have their owner, mode and content'):
        assert checks[name]['when'] and checks[name]['that'], checks[name]
    assert not checks["the user's verify tasks passed"]['when']
    variables['verify_gathered']['stdout'] = json.dumps(dict(state, paths={'/etc/app.conf': dict(
        state['paths']['/etc/app.conf'], sha256='0' * 64)}))
    checks = {c['name']: c for c in value(Templar(LOADER, variables=variables), 'verify_checks')}
    assert checks['files, directories and links have their owner, mode and content']['found'] == [
        '/etc/app.conf is not its rendered template']
