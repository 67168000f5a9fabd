"""The verify role's checks (the verify_checks and verify_gather_args filters), without booting a guest: a
resolved request, the state a healthy guest of it reports, then each check group broken on purpose."""

import ast
import base64
import copy
import glob
import hashlib
import json
import os
import shutil

import pytest

from ansible_collections.osimage.builder.plugins.filter.verify_checks import CHECKS, fstab_root, verify_checks
from ansible_collections.osimage.builder.plugins.filter.verify_gather_args import verify_gather_args
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import request as req

KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGada ada@example'
REPO_KEY = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data', 'repo-key.asc')
RENDERED = hashlib.sha256(b'# rendered\n').hexdigest()


def resolved(tmp_path, **keys):
    """The request as the verify role gets it: resolved (with its family's distro table, os) and plain JSON."""
    return json.loads(json.dumps(req.resolve(keys, cwd=str(tmp_path))))


def every_key(tmp_path):
    """A request using every key the checks look at (like tests/integration/all_keys.py)."""
    shutil.copy(REPO_KEY, tmp_path / 'repo.asc')
    (tmp_path / 'app.conf.j2').write_text('# {{ hostname }}\n')
    return resolved(
        tmp_path, hostname='allkeys.example', locale='de_DE.UTF-8', timezone='Europe/Berlin',
        keyboard={'layout': 'de', 'variant': 'nodeadkeys'}, packages={'install': ['zsh'], 'remove': ['nano']},
        users=[{'name': 'ada', 'shell': '/usr/bin/zsh', 'sudo': True, 'groups': ['adm'], 'ssh_authorized_keys': [KEY]}],
        repositories=[{'name': 'extra', 'uri': 'http://repo.example/debian', 'suites': ['stable'],
                       'components': ['main'], 'key_file': 'repo.asc', 'priority': 990}],
        location={'dns': ['192.0.2.53'], 'ntp': ['ntp.example.org']},
        services={'enabled': ['nginx.service'], 'disabled': ['dpkg-db-backup.timer'],
                  'masked': ['debug-shell.service']},
        files=[{'path': '/etc/motd', 'content': 'hi\n', 'mode': '0644'},
               {'path': '/srv/www', 'state': 'directory', 'owner': 'ada', 'group': 'adm', 'mode': '2775'},
               {'path': '/etc/app.conf', 'template': 'app.conf.j2'},
               {'path': '/srv/current', 'state': 'link', 'target': '/srv/www'}],
        security={'firewall': {'enabled': True, 'allowed_ports': [{'port': 80}, {'port': 5353, 'proto': 'udp'}]},
                  'automatic_updates': True, 'apparmor': True, 'ssh': {'password_authentication': True}},
        cloud_init={'enabled': True}, kernel_cmdline=['quiet'], platform='gcp', boot_test={'grow': '1GiB'})


def guest(request):
    """What a guest that fulfils ``request`` reports, and the filter's other inputs, as the role passes them."""
    os_ = request['os']
    root = [m for m in request['disk']['mounts'] if m['mountpoint'] == '/'][0]
    repo_check = os_['repository_check']
    files = {f['path']: {'state': f['state'], 'owner': f['owner'], 'group': f['group'], 'mode': f.get('mode', '0644'),
                         'sha256': f.get('sha256', RENDERED), 'target': f.get('target')} for f in request['files']}
    sources = '%shttp://repo.example/debian\n%s%s\n' % (repo_check['uri'], repo_check['key'],
                                                        request['repositories'][0]['signed_by'])
    ports = {int(p['port']) for p in request['security']['firewall']['allowed_ports'] if p['proto'] == 'tcp'}
    state = {
        'state': 'running', 'failed_units': [], 'btime': 100, 'host_keys': {'/etc/ssh/ssh_host_ed25519_key': 150},
        'root': {'source': '/dev/vda3', 'fstype': 'ext4', 'options': 'rw,relatime', 'uuid': root['uuid']},
        'files': {'/etc/fstab': 'UUID=%s / ext4 defaults 0 1\n' % root['uuid'], '/etc/machine-id': 'ab' * 16 + '\n',
                  '/etc/resolv.conf': 'nameserver 10.0.2.3\n'},
        'proxy_files': [], 'package_leftovers': [], 'enabled': {'ssh.service': 'enabled'},
        'units': {unit: {'enabled': want, 'active': 'active' if want == 'enabled' else 'inactive'}
                  for want, units in request['services'].items() for unit in units},
        'paths': files, 'hostname': 'allkeys', 'default_routes': ['enp1s0'],
        'layout': {'mounts': [{'target': m['mountpoint'], 'fstype': m['filesystem'], 'uuid': m['uuid'], 'options': 'rw'}
                              for m in request['disk']['mounts']],
                   'swaps': [], 'lvs': [], 'root_bytes': request['disk']['grow_target']['unsized_root_bytes'] + 2 ** 30,
                   'disk_bytes': 4 * 2 ** 30, 'efi': True, 'secure_boot': False},
        'read': {'repositories': {'%s/extra%s' % (repo_check['dir'], repo_check['suffix']): sources},
                 'keyrings': {request['repositories'][0]['signed_by']: 'key'},
                 'pins': {'%s/extra%s' % (repo_check['pin_dir'], repo_check['pin_suffix']):
                          repo_check['pin'] + '990\n'}},
        'probes': {'repositories': {'rc': 0, 'stdout': '', 'stderr': ''},
                   'automatic_updates': {'rc': 0, 'stdout': os_['automatic_updates']['on'], 'stderr': ''},
                   'dns': {'rc': 0, 'stdout': 'Global: 192.0.2.53', 'stderr': ''},
                   'ntp': {'rc': 0, 'stdout': 'ntp.example.org', 'stderr': ''}},
        'cmdline': ['root=UUID=x', 'quiet', 'console=ttyS0,38400n8'],
        'agent_units': {'cloud-init.service': {'enabled': 'enabled', 'active': 'active'}},
        'timezone': 'Europe/Berlin', 'timezone_abbrev': 'CET', 'locale': {'LANG': 'de_DE.UTF-8'},
        'locales_available': ['C', 'C.utf8', 'de_DE.utf8'], 'keyboard': {'XKBLAYOUT': 'de', 'XKBVARIANT': 'nodeadkeys'},
        'apparmor': {'enabled': 'Y', 'profiles': 12},
        'firewall': {'input_policy': 'drop', 'accepted': {'tcp': sorted(ports | {22}), 'udp': [5353]}},
        'cloud_init': {'status': 'done', 'datasource': 'DataSourceNoCloud'},
        'sshd': {'port': '22', 'passwordauthentication': 'yes', 'permitrootlogin': 'without-password'},
    }
    found = {
        'facts': {'getent_passwd': {'ada': ['x', '1000', '1000', '', '/home/ada', '/usr/bin/zsh']},
                  'getent_group': {'adm': ['x', '4', 'syslog,ada']},
                  'packages': {name: [{}] for name in request['packages']['install']}},
        'keys': [{'item': request['users'][0], 'content': base64.b64encode(KEY.encode() + b'\n').decode()}],
        'sudo': [{'item': request['users'][0], 'stdout': '    (ALL) NOPASSWD: ALL'}],
        'nameservers': ['192.168.1.1'], 'rendered': {request['files'][2]['template']: RENDERED},
        'probed': json.dumps({'80': 'answered', '9': 'silent'}), 'dropped_port': 9, 'firmware': 'uefi',
        'user_result': {'ok': True},
    }
    return state, found


@pytest.fixture(name='image')
def image_of_every_key(tmp_path):
    request = every_key(tmp_path)
    state, found = guest(request)
    return request, state, found


def outcomes(request, state, found):
    return {c['name']: ('skipped' if not c['when'] else 'passed' if c['that'] else 'failed') for c in
            verify_checks(state, request, **found)}


def failed(request, state, found):
    """The failed checks: name to the message osimage.builder.checks reports."""
    return {c['name']: c['msg'] + (': %s' % (c['found'],) if 'found' in c else '')
            for c in verify_checks(state, request, **found) if c['when'] and not c['that']}


def test_a_guest_that_fulfils_every_key_passes_every_check(image):
    assert outcomes(*image) == {name: 'passed' for name, _function in CHECKS
                                if name not in ('AppArmor is off', 'cloud-init is absent', 'swap is active',
                                                'LVM volumes exist and are active')} | {
        'AppArmor is off': 'skipped', 'cloud-init is absent': 'skipped', 'swap is active': 'skipped',
        'LVM volumes exist and are active': 'skipped'}
    assert len(CHECKS) == len({name for name, _function in CHECKS}) == 41


def test_the_checks_are_the_ones_the_integration_tests_name():
    """The names the integration tests look up in boot-report.json (the loops over check names, and
    ``outcomes[...]``) are all checks of the filter."""
    named = set()
    for path in glob.glob(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'integration', 'test_*.py')):
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple) and 'outcomes' in ast.dump(node):
                named |= {item.value for item in node.iter.elts if isinstance(item.value, str)}
            if isinstance(node, ast.Subscript) and getattr(node.value, 'id', '') == 'outcomes' and (
                    isinstance(getattr(node.slice, 'value', None), str)):
                named.add(node.slice.value)
    assert len(named) > 25 and named <= {name for name, _function in CHECKS}, named


def test_a_foreign_image_gets_only_the_checks_that_need_no_request(tmp_path):
    state, _found = guest(every_key(tmp_path))
    found = {'facts': {}, 'keys': [], 'sudo': [], 'nameservers': [], 'rendered': {}, 'probed': None,
             'dropped_port': None, 'firmware': 'bios', 'user_result': None}
    state['layout']['efi'] = False
    ran = {name: outcome for name, outcome in outcomes({}, state, found).items() if outcome != 'skipped'}
    assert ran == dict.fromkeys(['system reached the running state', 'no failed units',
                                 'root file system is mounted read-write as fstab names it',
                                 'network is up with a default route', 'machine id was made on this boot',
                                 'SSH host keys were generated on this boot', 'no build-host name server in the image',
                                 'no proxy configuration left by the build', 'package caches and lists were cleaned',
                                 'services are enabled', 'booted with the firmware of the boot test'], 'passed')


def test_the_running_state_and_failed_units(image):
    request, state, found = image
    state.update(state='degraded', failed_units=['foo.service loaded failed failed Foo'])
    assert failed(request, state, found) == {
        'system reached the running state': 'systemctl is-system-running says: degraded',
        'no failed units': "failed units: ['foo.service loaded failed failed Foo']"}


@pytest.mark.parametrize('fstab,named', [
    ('UUID=5E1F-AA / ext4 defaults 0 1\n', True),
    ('# a comment / here\nPARTUUID=0c0ffee0-01 / ext4 errors=remount-ro 0 1\n'
     'LABEL=BOOT /boot ext4 defaults 0 2\n', True),
    ('LABEL=ROOT\t/\text4 defaults 0 1\n', True),
    ('/dev/vda1 / ext4 defaults 0 1\n', True),
    ('PARTUUID=0c0ffee0-02 / ext4 defaults 0 1\n', False),
    ('UUID=other / ext4 defaults 0 1\n', False),
    ('tmpfs /tmp tmpfs defaults 0 0\n', False),
])
def test_the_root_is_found_by_whatever_fstab_names_it_by(image, fstab, named):
    request, state, found = image
    state['root'] = {'source': '/dev/vda1', 'fstype': 'ext4', 'options': 'rw,relatime', 'uuid': '5e1f-aa',
                     'partuuid': '0c0ffee0-01', 'label': 'ROOT', 'partlabel': None}
    state['files']['/etc/fstab'] = fstab
    name = 'root file system is mounted read-write as fstab names it'
    assert (name not in failed(request, state, found)) is named


def test_a_read_only_root_fails_with_the_mount_and_the_fstab_name(image):
    request, state, found = image
    state['root']['options'] = 'ro,relatime'
    message = failed(request, state, found)['root file system is mounted read-write as fstab names it']
    assert message.startswith('root mount and the root fstab names: [{') and "'ro,relatime'" in message
    assert fstab_root('UUID=AB / ext4 defaults 0 1\n') == ('UUID=AB', 'uuid', 'AB')


def test_image_hygiene(image):
    request, state, found = image
    state.update(default_routes=[], host_keys={'/etc/ssh/ssh_host_ed25519_key': 50, '/etc/ssh/ssh_host_rsa_key': 150},
                 proxy_files=['/etc/apt/apt.conf.d/99proxy'], package_leftovers=['/var/cache/apt/archives/a.deb'],
                 enabled={'ssh.service': 'enabled', 'systemd-networkd.service': 'disabled'})
    state['files'].update({'/etc/machine-id': 'uninitialized\n', '/etc/resolv.conf': 'nameserver 192.168.1.1\n'})
    assert failed(request, state, found) == {
        'network is up with a default route': 'no default route',
        'machine id was made on this boot': '/etc/machine-id holds: uninitialized',
        'SSH host keys were generated on this boot':
            "host keys older than this boot (shipped in the image): ['/etc/ssh/ssh_host_ed25519_key']",
        'no build-host name server in the image':
            "/etc/resolv.conf names the build host's name servers: ['192.168.1.1']",
        'no proxy configuration left by the build': "proxy settings in: ['/etc/apt/apt.conf.d/99proxy']",
        'package caches and lists were cleaned':
            "downloaded packages or package lists left: ['/var/cache/apt/archives/a.deb']",
        'services are enabled': "service states: {'ssh.service': 'enabled', 'systemd-networkd.service': 'disabled'}"}


def test_hostname_users_keys_and_sudo(image):
    request, state, found = image
    state['hostname'] = 'other.example'
    found['facts']['getent_passwd']['ada'][5] = '/bin/bash'
    found['facts']['getent_group']['adm'][2] = 'syslog'
    found['keys'][0]['content'] = ''
    found['sudo'][0]['stdout'] = 'User ada is not allowed to run sudo'
    assert failed(request, state, found) == {
        'hostname is the requested one': 'hostname is: other.example',
        'requested users exist with their shells and groups':
            "user problems: ['ada has shell /bin/bash', 'ada is not in group adm']",
        "users' SSH keys are installed": "missing keys: ['ada lacks key %s']" % KEY[:40],
        'sudo users may run everything': "no sudo rights for: ['ada']"}
    found['facts']['getent_passwd'] = {}
    assert failed(request, state, found)['requested users exist with their shells and groups'] == (
        "user problems: ['ada does not exist']")


def test_packages(image):
    request, state, found = image
    del found['facts']['packages']['zsh']
    found['facts']['packages']['nano'] = [{}]
    assert failed(request, state, found) == {'requested packages are installed': "missing packages: ['zsh']",
                                             'removed packages are absent': "still installed: ['nano']"}


def test_dns_and_ntp_servers(image):
    request, state, found = image
    state['probes']['dns']['stdout'] = 'Global: 10.0.2.3\nLink 2 (enp1s0): 192.0.2.53'
    state['probes']['ntp']['stdout'] = ''
    assert failed(request, state, found) == {
        'DNS servers are the requested ones':
            "the family's resolver says: systemd-resolved's global DNS servers are 10.0.2.3",
        'NTP servers are the requested ones': "the family's time service says: systemd-timesyncd's NTP servers are "}


def test_repositories_and_pins(image):
    request, state, found = image
    check = request['os']['repository_check']
    state['read']['keyrings'] = {}
    state['read']['pins'] = {}
    state['probes']['repositories'] = {'rc': 100, 'stdout': '', 'stderr': 'W: bad pin\nnot an error'}
    signed_by = request['repositories'][0]['signed_by']
    assert failed(request, state, found) == {
        'extra repositories are configured with their signing keys': "repository problems: ['extra: not signed by %s']"
                                                                     % signed_by,
        'pinned repositories have their priority and the package manager reads the pins':
            "pinning problems: ['W: bad pin', '%s exited with 100', 'extra is not pinned at 990']"
            % ' '.join(check['probe'])}
    state['read']['repositories'] = {}
    assert "extra: no %s file for http://repo.example/debian" % check['suffix'] in failed(request, state, found)[
        'extra repositories are configured with their signing keys']


def test_time_zone_locale_and_keyboard(image):
    request, state, found = image
    state.update(timezone='Etc/UTC', locales_available=['C', 'C.utf8'], keyboard={'XKBLAYOUT': 'us'})
    assert failed(request, state, found) == {
        'time zone is the requested one': '/etc/localtime is: Etc/UTC',
        'locale is the default and generated':
            "/etc/locale.conf and locale -a say: [{'LANG': 'de_DE.UTF-8'}, ['C', 'C.utf8']]",
        'keyboard layout is the requested one': "the keyboard file holds: {'XKBLAYOUT': 'us'}"}
    request['timezone'] = 'UTC'
    state['timezone_abbrev'] = 'UTC'
    assert 'time zone is the requested one' not in failed(request, state, found)


def test_services_as_requested_and_enabled_services_running(image):
    request, state, found = image
    state['units']['nginx.service']['active'] = 'failed'
    state['units']['debug-shell.service']['enabled'] = 'disabled'
    del state['units']['dpkg-db-backup.timer']
    assert failed(request, state, found) == {
        'services are enabled, disabled and masked as requested, and enabled services run':
            "unit problems: ['nginx.service is enabled but failed', 'dpkg-db-backup.timer is unknown, not disabled', "
            "'debug-shell.service is disabled, not masked']"}


def test_files_directories_links_and_templates(image):
    request, state, found = image
    paths = state['paths']
    paths['/etc/motd'].update(mode='0600', sha256='0' * 64)
    paths['/srv/www'].update(state='file', owner='root')
    paths['/etc/app.conf']['sha256'] = '1' * 64
    paths['/srv/current']['target'] = '/srv/old'
    assert failed(request, state, found) == {
        'files, directories and links have their owner, mode and content': 'file problems: %s' % [
            '/etc/motd has mode 0600', '/etc/motd has other content', '/srv/www is a file',
            '/srv/www is owned by root:adm', '/etc/app.conf is not its rendered template',
            '/srv/current points to /srv/old']}
    paths['/srv/current'] = None
    assert "'/srv/current is missing'" in failed(request, state, found)[
        'files, directories and links have their owner, mode and content']


def test_ssh_server_firewall_and_port_probes(image):
    request, state, found = image
    state['sshd'] = {'port': '22', 'passwordauthentication': 'no'}
    state['firewall']['accepted']['tcp'] = [80]
    found['probed'] = json.dumps({'80': 'silent', '9': 'answered'})
    assert failed(request, state, found) == {
        'SSH server runs with the requested policy':
            "sshd -T differs in: {'passwordauthentication': 'no, not yes', "
            "'permitrootlogin': 'unset, not without-password'}",
        'firewall drops what is not allowed and accepts only the listed ports':
            "nft ruleset (input policy, accepted ports) is: {'input_policy': 'drop', "
            "'accepted': {'tcp': [80], 'udp': [5353]}}",
        'from outside, allowed ports get through and another port is dropped':
            "probes (answered: let through; silent: dropped): {'80': 'silent', '9': 'answered'}"}
    state['firewall'] = None
    assert failed(request, state, found)['firewall drops what is not allowed and accepts only the listed ports'] == (
        'nft ruleset (input policy, accepted ports) is: None')


def test_automatic_updates_apparmor_and_cloud_init(image):
    request, state, found = image
    state['probes']['automatic_updates']['stdout'] = request['os']['automatic_updates']['off']
    state.update(apparmor={'enabled': 'Y', 'profiles': 0}, cloud_init={'status': 'error', 'datasource': None})
    assert sorted(failed(request, state, found)) == [
        'AppArmor is on with profiles loaded', 'automatic security updates are switched as requested',
        'cloud-init finished']
    request['security'].update(apparmor=False)
    request['cloud_init']['enabled'] = False
    assert outcomes(request, state, found)['AppArmor is on with profiles loaded'] == 'skipped'
    assert failed(request, state, found)['AppArmor is off'] == "AppArmor state: {'enabled': 'Y', 'profiles': 0}"
    assert failed(request, state, found)['cloud-init is absent'] == (
        "cloud-init is installed: {'status': 'error', 'datasource': None}")


def test_the_users_own_verify_tasks(image):
    request, state, found = image
    found['user_result'] = {'ok': False, 'msg': 'Ada is root through sudo: Assertion failed'}
    assert failed(request, state, found) == {"the user's verify tasks passed":
                                             'failed: Ada is root through sudo: Assertion failed'}
    found['user_result'] = None
    assert outcomes(request, state, found)["the user's verify tasks passed"] == 'skipped'


def test_disk_layout_firmware_and_growth(image):
    request, state, found = image
    layout = state['layout']
    layout['mounts'] = [m for m in layout['mounts'] if m['target'] != '/boot/efi']
    layout['mounts'][0]['fstype'] = 'xfs'
    layout.update(secure_boot=True, root_bytes=1)
    message = failed(request, state, found)
    assert message.pop('file systems are mounted as the request lays them out') == (
        "layout differs: ['/ is xfs', '/boot/efi is not mounted']")
    assert message.pop('booted with the firmware of the boot test') == (
        'EFI and Secure Boot as the guest sees them: [True, True]')
    assert message.pop('root file system grew to fill the enlarged disk') == (
        'root file system bytes, the most it could have without growing, disk bytes: [1, %d, %d]'
        % (request['disk']['grow_target']['unsized_root_bytes'], 4 * 2 ** 30))
    assert message == {}


def test_lvm_volumes_swap_and_subvolumes(tmp_path):
    request = resolved(tmp_path, disk={
        'size': '5GiB', 'firmware': 'uefi',
        'partitions': [{'size': '128MiB', 'filesystem': 'vfat', 'mountpoint': '/boot/efi'},
                       {'size': '384MiB', 'filesystem': 'ext4', 'mountpoint': '/boot'},
                       {'size': '512MiB', 'filesystem': 'btrfs', 'mountpoint': '/srv',
                        'subvolumes': [{'name': '@data', 'mountpoint': '/srv/data'}]},
                       {'size': 'rest', 'filesystem': 'lvm'}],
        'lvm': {'vg': 'sys', 'volumes': [{'name': 'swap', 'size': '256MiB', 'filesystem': 'swap'},
                                         {'name': 'root', 'size': 'rest', 'filesystem': 'xfs', 'mountpoint': '/'}]}})
    mounts = [{'target': m['mountpoint'], 'fstype': m['filesystem'], 'uuid': m['uuid'].lower(),
               'options': 'rw,subvol=/' + m['subvolume'] if 'subvolume' in m else 'rw'}
              for m in request['disk']['mounts'] if m['mountpoint'] != 'none']
    state = {'layout': {'mounts': mounts, 'swaps': ['/dev/dm-0'], 'efi': True, 'secure_boot': False,
                        'lvs': [{'lv_name': 'swap', 'lv_active': 'active'},
                                {'lv_name': 'root', 'lv_active': 'active'}]}}
    checks = {c['name']: c for c in verify_checks(state, request, firmware='uefi')}
    for name in ('file systems are mounted as the request lays them out', 'swap is active',
                 'LVM volumes exist and are active', 'booted with the firmware of the boot test'):
        assert checks[name]['when'] and checks[name]['that'], checks[name]
    state['layout'].update(swaps=[], lvs=[{'lv_name': 'swap', 'lv_active': 'active'},
                                          {'lv_name': 'root', 'lv_active': ''}])
    state['layout']['mounts'] = [dict(m, options='rw') for m in mounts]
    problems = failed(request, state, {})
    assert problems['swap is active'] == 'active swap areas: []'
    assert problems['LVM volumes exist and are active'].startswith('logical volumes: [')
    assert problems['file systems are mounted as the request lays them out'] == (
        "layout differs: ['/srv/data is not subvolume @data']")


def test_kernel_arguments_and_the_platforms_guest_agent(image):
    request, state, found = image
    state.update(cmdline=['root=UUID=x'], agent_units={'cloud-init.service': {'enabled': 'not-found', 'active': ''}})
    assert failed(request, state, found) == {
        "requested kernel arguments are on the running kernel's command line":
            "missing from /proc/cmdline: %s" % request['kernel_cmdline'],
        "the platform's guest agent is installed":
            "systemctl is-enabled says ('' is no such unit): "
            "{'cloud-init.service': {'enabled': 'not-found', 'active': ''}}"}


def test_a_check_whose_data_is_missing_fails_with_the_reason_and_the_others_still_run(image):
    request, state, found = image
    del state['sshd']
    broken = copy.deepcopy(state)
    del broken['layout']['swaps']
    assert failed(request, state, found) == {
        'SSH server runs with the requested policy': "could not be evaluated: KeyError: 'sshd'"}
    assert outcomes(request, broken, found)['swap is active'] == 'skipped'  # not applicable: its data is not read


@pytest.mark.parametrize('distro,release,dns,ntp', [
    ('debian', 'bookworm', 'Global: 192.0.2.53 192.0.2.54\nLink 2 (enp1s0): 10.0.2.3',
     'ntp.example.org ntp2.example.org'),
    ('rocky', '9', '# Generated by NetworkManager\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n',
     '^,?,ntp.example.org,0,6,0,-,+0.0,+0.0,0.0\n^,*,ntp2.example.org,2,6,377,35,-0.000013,-0.000020,0.010375')])
def test_each_family_is_asked_by_its_own_resolver_and_time_service(distro, release, dns, ntp):
    """What each mechanism's probe prints in a guest (resolvectl 255, timedatectl 255; resolv.conf, chronyc 4.5)."""
    facts = json.loads(json.dumps(distros.resolve(distro, release, 'amd64', distros.DISTROS[distro]['mirror']
                                                  or 'http://rmt.example/repo')))
    request = {'os': facts, 'location': {'dns': ['192.0.2.53', '192.0.2.54'],
                                         'ntp': ['ntp.example.org', 'ntp2.example.org']}}
    state = {'probes': {'dns': {'rc': 0, 'stdout': dns.strip(), 'stderr': ''},
                        'ntp': {'rc': 0, 'stdout': ntp.strip(), 'stderr': ''}}}
    checks = {c['name']: c for c in verify_checks(state, request)}
    assert checks['DNS servers are the requested ones']['that'] and checks['NTP servers are the requested ones']['that']
    args = verify_gather_args(request)
    assert '--probe=dns=' + json.dumps(facts['dns_check']['probe']) in args
    assert '--probe=ntp=' + json.dumps(facts['ntp_check']['probe']) in args
    unasked = verify_gather_args(dict(request, location={}))
    assert not [a for a in unasked if a.startswith(('--probe=dns=', '--probe=ntp='))]


def test_the_gatherer_is_told_the_units_places_and_probes_of_the_requests_family(image):
    request = image[0]
    check = request['os']['repository_check']
    args = verify_gather_args(request, ['extra.service'])
    assert args[:4] == ['extra.service', 'ssh.service', 'systemd-networkd.service', 'systemd-resolved.service']
    for arg in ('--keyboard-file=/etc/default/keyboard',
                '--read-glob=repositories=%s/*%s' % (check['dir'], check['suffix']),
                '--read-glob=keyrings=/etc/apt/keyrings/*',
                '--read-glob=pins=%s/*%s' % (check['pin_dir'], check['pin_suffix']),
                '--probe=repositories=' + json.dumps(check['probe']), '--unit=nginx.service',
                '--unit=debug-shell.service',
                '--path=/etc/motd', '--path=/srv/current', '--agent=cloud-init.service',
                '--probe=automatic_updates=' + json.dumps(request['os']['automatic_updates']['probe'])):
        assert arg in args, arg
    assert [a for a in args if a.startswith('--proxy-glob=')] == ['--proxy-glob=/etc/apt/apt.conf.d/*']
    assert verify_gather_args({}, ['a.service']) == ['a.service']
