"""The distro table: every distribution and release resolves through one seam, each family with its own tools."""

import json
import re
import subprocess
import sys
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import request as req

OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')
EVERY_RELEASE = [(d, r) for d, entry in distros.DISTROS.items() for r in entry['releases']]


def resolve(distro, release, **keys):
    mirror = {} if distros.DISTROS[distro]['mirror'] else {'mirror': 'http://rmt.example/repo'}
    return req.resolve(dict({'distro': distro, 'release': release}, **mirror, **keys), cwd='/srv', build_id='abc123')


@pytest.mark.parametrize('distro,release', EVERY_RELEASE)
def test_every_release_resolves_with_its_familys_kernel_boot_loader_and_network(distro, release):
    build = resolve(distro, release)
    assert build['os']['distro'] == distro and build['os']['release'] == release and build['version']
    assert build['bootstrap']['tool'] == distros.FAMILIES[build['family']]['bootstrap']['tools'][0]
    assert build['os']['packages']['kernel'] and build['os']['packages']['network']
    assert not [p for p in build['os']['packages']['kernel'] + build['disk']['packages'] if '{' in p]
    # The default hybrid disk needs the family's GRUB for both firmwares.
    assert set(build['os']['packages']['grub-bios'] + build['os']['packages']['grub-efi']) <= set(build['disk']['packages'])


def test_debian_installs_from_the_release_its_updates_and_security_suites():
    os_facts = resolve('debian', 'trixie')['os']
    assert os_facts['sources'] == ['deb http://deb.debian.org/debian trixie-updates main',
                                   'deb http://deb.debian.org/debian-security trixie-security main']
    assert os_facts['packages']['kernel'] == ['linux-image-amd64']
    # preflight probes every suite the bootstrap reads, each naming the request key of its mirror
    assert os_facts['probes'] == [
        {'key': 'mirror', 'url': 'http://deb.debian.org/debian/dists/trixie/Release'},
        {'key': 'mirror', 'url': 'http://deb.debian.org/debian/dists/trixie-updates/Release'},
        {'key': 'security_mirror', 'url': 'http://deb.debian.org/debian-security/dists/trixie-security/Release'}]
    assert [p['url'] for p in resolve('debian', 'forky')['os']['probes']] == [
        'http://deb.debian.org/debian/dists/forky/Release']


def test_ubuntu_has_its_pockets_universe_the_virtual_kernel_and_netplan():
    build = resolve('ubuntu', 'noble', mirror='http://127.0.0.1:8080/ubuntu/')
    assert build['family'] == 'debian' and build['os']['components'] == ['main', 'universe']
    assert build['os']['sources'] == ['deb http://127.0.0.1:8080/ubuntu noble-updates main universe',
                                      'deb http://security.ubuntu.com/ubuntu noble-security main universe']
    assert build['os']['packages']['kernel'] == ['linux-image-virtual']
    assert 'netplan.io' in build['os']['packages']['network'] and build['os']['network'] == 'netplan'


def test_el_repositories_come_from_the_mirror_release_and_rpm_arch():
    build = resolve('rocky', '9', mirror='http://127.0.0.1:8080/rocky/')
    assert build['bootstrap']['tool'] == 'dnf' and build['bootstrap']['args']['backend'] == 'dnf'
    assert build['os']['package_db'] == 'rpm'
    assert build['os']['repositories'][0] == {
        'name': 'baseos', 'baseurl': 'http://127.0.0.1:8080/rocky/9/BaseOS/x86_64/os/',
        'gpgkey': 'http://127.0.0.1:8080/rocky/RPM-GPG-KEY-Rocky-9'}
    assert build['os']['rpm_dbpath'] == '/var/lib/rpm' and resolve('centos-stream', '10')['os']['rpm_dbpath'] == \
        '/usr/lib/sysimage/rpm'
    assert build['os']['ssh_service'] == 'sshd.service' and build['os']['initramfs'] == 'dracut'


def test_what_the_request_needs_is_named_in_the_familys_packages():
    keys = {'locale': 'de_DE.UTF-8', 'security': {'firewall': {'enabled': True}, 'automatic_updates': True},
            'location': {'ntp': ['ntp.example.org']}}
    debian = resolve('debian', 'bookworm', **keys)['packages']['install']
    el = resolve('almalinux', '9', **keys)['packages']['install']
    assert {'locales', 'nftables', 'unattended-upgrades', 'systemd-timesyncd'} <= set(debian)
    assert {'glibc-langpack-en', 'nftables', 'dnf-automatic', 'chrony'} <= set(el)
    assert 'unattended-upgrades' not in el


def test_a_system_group_is_the_familys():
    assert req.resolve({'users': [{'name': 'ada', 'groups': ['sudo']}]})
    with pytest.raises(req.RequestError) as err:
        resolve('rocky', '9', users=[{'name': 'ada', 'groups': ['sudo']}])
    assert "'sudo' is neither a group of the image" in str(err.value) and 'wheel' in str(err.value)


def test_the_catalogue_and_osimage_distros_json_list_every_release():
    rows = distros.catalogue()
    assert [(r['distro'], r['release']) for r in rows] == EVERY_RELEASE
    assert {r['proof'] for r in rows if r['distro'] == 'debian' and r['release'] in ('bookworm', 'trixie')} == {'boot'}
    proc = subprocess.run([OSIMAGE, 'distros', '--json'], capture_output=True, text=True, check=True)
    printed = json.loads(proc.stdout)
    assert printed == rows
    assert {'distro', 'release', 'family', 'arches', 'proof'} <= set(printed[0])


def test_osimage_show_prints_what_the_distro_table_gives(tmp_path):
    request = tmp_path / 'req.yml'
    request.write_text('distro: opensuse-leap\nrelease: "15.6"\n')
    proc = subprocess.run([OSIMAGE, 'show', str(request)], capture_output=True, text=True, check=True)
    assert '#   family: suse' in proc.stdout and '#   kernel: [kernel-default]' in proc.stdout
    assert '#   network: [wicked]' in proc.stdout and 'grub2-i386-pc' in proc.stdout


def test_ubuntu_is_verified_with_the_shipped_archive_key_unless_the_mirror_has_its_own(tmp_path):
    keyring = resolve('ubuntu', 'jammy')['os']['keyring']
    assert keyring == os.path.join(distros.KEYS_DIR, 'ubuntu-archive-keyring-2018.gpg')
    shown = subprocess.run(['gpg', '--show-keys', '--with-colons', keyring], capture_output=True, text=True,
                           check=True, env=dict(os.environ, GNUPGHOME=str(tmp_path))).stdout
    assert 'fpr:::::::::F6ECB3762474EDA9D21B7022871920D1991BC93C:' in shown
    assert 'keyring' not in resolve('debian', 'bookworm')['os']  # the host's debian-archive-keyring


def test_a_mirror_of_its_own_brings_its_key_and_security_mirror(tmp_path):
    key = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))), 'data',
                       'repo-key.asc')
    (tmp_path / 'req').mkdir()
    location = {'mirror': 'http://127.0.0.1:8080/ubuntu', 'security_mirror': 'http://127.0.0.1:8080/ubuntu',
                'mirror_key_file': os.path.relpath(key, str(tmp_path / 'req'))}
    ubuntu = req.resolve({'distro': 'ubuntu', 'release': 'noble', 'location': location}, cwd=str(tmp_path / 'req'))
    assert ubuntu['os']['keyring'] == key
    assert ubuntu['os']['sources'][1] == 'deb http://127.0.0.1:8080/ubuntu noble-security main universe'
    # the image keeps sources naming that mirror, so its apt trusts the key too
    assert ubuntu['os']['mirror_key'] == {'src': key, 'dest': '/etc/apt/trusted.gpg.d/osimage-mirror.asc'}
    assert 'mirror_key' not in resolve('debian', 'bookworm')['os']
    rocky = req.resolve({'distro': 'rocky', 'release': '9', 'location': dict(location, mirror='http://m/rocky')},
                        cwd=str(tmp_path / 'req'))
    assert {r['gpgkey'] for r in rocky['os']['repositories']} == {key} and 'mirror_key' not in rocky['os']
    with pytest.raises(req.RequestError) as err:
        req.resolve({'location': {'mirror_key_file': 'missing.asc'}}, cwd=str(tmp_path))
    assert 'location.mirror_key_file' in str(err.value) and 'does not exist' in str(err.value)


COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# What the cross-distro roles and generic modules read from osimage.os instead of asking which distro it is.
ROLE_KEYS = ('package_manager', 'ssh_service', 'network', 'network_units', 'network_config', 'apparmor_service',
             'firewall_conf', 'service_policy', 'proxy_conf', 'proxy_files', 'package_cache', 'package_leftovers',
             'locale_gen', 'locale_links', 'timezone_file', 'keyboard', 'automatic_updates', 'repository_check',
             'initrd_glob', 'live_needs', 'live_args', 'grub', 'ovf', 'resolver', 'time_sync', 'initramfs',
             'initrd_name', 'dns_check', 'ntp_check', 'selinux')


@pytest.mark.parametrize('distro,release', EVERY_RELEASE)
def test_every_release_gives_the_roles_each_value_they_read_and_its_mechanics_exist(distro, release):
    os_facts = resolve(distro, release)['os']
    assert not [k for k in ROLE_KEYS if k not in os_facts]
    manager = os_facts['package_manager']
    for path in ('roles/network/templates/%s.j2' % os_facts['network'], 'roles/security/tasks/updates_%s.yml' % manager,
                 'roles/cloud_init/tasks/absent_%s.yml' % manager,
                 'roles/location/tasks/dns_%s.yml' % os_facts['resolver'],
                 'roles/location/tasks/ntp_%s.yml' % os_facts['time_sync'],
                 'roles/bootloader/tasks/grub-config-%s.yml' % os_facts['grub']['config'],
                 'roles/bootloader/tasks/initramfs-%s.yml' % os_facts['initramfs']):
        assert os.path.isfile(os.path.join(COLLECTION, path)), path
    # A family whose access control is SELinux labels its tree with its own mechanism; the others label nothing.
    assert bool(os_facts['selinux']['relabel']) == (os_facts['mac'] == 'selinux')
    if os_facts['selinux']['relabel']:
        assert os.path.isfile(os.path.join(COLLECTION, 'roles/hygiene/tasks/relabel_%s.yml' % os_facts['selinux']['relabel']))
        assert os_facts['selinux']['file_contexts'].startswith('/etc/selinux/')
    assert os_facts['ssh_service'].endswith('.service') and os_facts['network_units']
    assert set(os_facts['automatic_updates']) == {'probe', 'on', 'off'} and os_facts['keyboard']['file'].startswith('/etc/')
    assert set(os_facts['package_cache']) == {'dirs', 'keep'} and os_facts['package_leftovers']


def test_debian_keeps_its_apt_paths_and_mechanics_in_the_table():
    os_facts = resolve('debian', 'bookworm')['os']
    assert os_facts['proxy_conf'] == '/etc/apt/apt.conf.d/00osimage-build-proxy'
    assert os_facts['package_cache'] == {'dirs': ['/var/cache/apt', '/var/lib/apt/lists'],
                                         'keep': ['lock', 'partial', 'auxfiles']}
    assert os_facts['locale_gen'] == {'file': '/etc/locale.gen', 'command': ['locale-gen']}
    assert os_facts['keyboard'] == {'file': '/etc/default/keyboard', 'extra': ['BACKSPACE="guess"']}
    assert os_facts['service_policy'] == '/usr/sbin/policy-rc.d' and os_facts['live_args'] == ['boot=live']
    assert os_facts['network_units'] == ['systemd-networkd.service', 'systemd-resolved.service']
    assert resolve('ubuntu', 'noble')['os']['network_config']['path'].startswith('/etc/netplan/')


def test_the_rpm_families_name_their_own_mechanics():
    rocky, leap = resolve('rocky', '9')['os'], resolve('opensuse-leap', '15.6')['os']
    assert rocky['network_units'] == ['NetworkManager.service'] and leap['network_units'] == ['wicked.service']
    assert rocky['locale_gen'] == {} and rocky['timezone_file'] == '' and rocky['keyboard']['file'] == '/etc/vconsole.conf'
    assert rocky['service_policy'] == rocky['proxy_conf'] == '' and rocky['apparmor_service'] == ''
    assert rocky['automatic_updates']['probe'][-1] == 'dnf-automatic-install.timer'
    assert rocky['firewall_conf'] == '/etc/sysconfig/nftables.conf' and rocky['initrd_glob'] == 'initramfs-*.img'
    assert leap['apparmor_service'] == 'apparmor.service' and leap['package_cache']['dirs'][0].startswith('/var/cache/zypp')
    assert rocky['repository_check']['dir'] == '/etc/yum.repos.d' and leap['repository_check']['dir'] == '/etc/zypp/repos.d'


def test_no_generic_module_or_cross_distro_role_names_apt_dpkg_or_a_debian_path():
    """The family's own files (roles/debian, a role's tasks/*_apt.yml) may; everything else reads the table."""
    pattern = re.compile(r'\b(apt|dpkg)\b|apt[-_/.]|/etc/default/|initramfs-tools|policy-rc\.d|locale-gen|initrd\.img-'
                         r'|/usr/lib/grub|grub-mkimage|Debian GNU|debian[0-9]+_64Guest|\.sources\b'
                         r'|EFI/debian|/usr/lib/shim|/usr/lib/EXTLINUX|resolvectl|timedatectl', re.I)
    # The image's GRUB directory is the table's too (the live ISO's own /boot/grub is osimage's layout).
    role_pattern = re.compile(r'/boot/grub\b')
    request_modules = ('request', 'request_schema', 'request_validation', 'request_resolution', 'request_secrets',
                       'request_repositories')
    generic = ['plugins/modules/chroot_env.py', 'plugins/modules/image_iso.py', 'plugins/modules/image_archive.py',
               'plugins/module_utils/ovf.py', 'roles/verify/files/gather_state.py']
    generic += ['plugins/module_utils/%s.py' % m for m in request_modules]
    for role in ('hygiene', 'locale', 'security', 'cloud_init', 'verify', 'network', 'location', 'platform', 'users',
                 'files', 'services', 'user_tasks', 'growroot', 'bootloader'):
        for top, _dirs, files in os.walk(os.path.join(COLLECTION, 'roles', role)):
            generic += [os.path.relpath(os.path.join(top, f), COLLECTION) for f in files
                        if not f.endswith(('_apt.yml', '-initramfs-tools.yml')) and os.path.basename(top) != 'meta']
    found = []
    for path in generic:
        with open(os.path.join(COLLECTION, path), encoding='utf-8') as f:
            found += ['%s:%d: %s' % (path, n, line.strip()) for n, line in enumerate(f, 1)
                      if pattern.search(line) or (path.startswith('roles/') and role_pattern.search(line))]
    assert found == []
