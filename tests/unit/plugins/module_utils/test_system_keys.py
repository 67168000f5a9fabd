"""System customization keys (users, groups, locale, services, files, security, cloud-init, tasks): each bad
value named with its fix, defaults, derived packages and controller paths."""

import hashlib

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import request as req


def errors_of(request, cwd=None):
    with pytest.raises(req.RequestError) as info:
        req.validate(request, cwd=cwd)
    return dict(info.value.errors)


@pytest.mark.parametrize('request_,key,words', [
    ({'user_groups': [{'name': 'Web'}]}, 'user_groups[0].name', 'group name'),
    ({'user_groups': [{'name': 'web', 'gid': 5}]}, 'user_groups[0].gid', 'gid from 100'),
    ({'user_groups': [{'name': 'web'}, {'name': 'web'}]}, 'user_groups[1].name', 'twice'),
    ({'user_groups': [{'name': 'sudo'}]}, 'user_groups[0].name', 'system group'),
    ({'user_groups': [{'name': 'a', 'gid': 2000}, {'name': 'b', 'gid': 2000}]}, 'user_groups[1].gid', 'also the gid of a'),
    ({'users': [{'name': 'ada', 'uid': 1500}, {'name': 'bob', 'uid': 1500}]}, 'users[1].uid', 'also the uid of ada'),
    ({'users': [{'name': 'ada', 'groups': ['wheel']}]}, 'users[0].groups[0]', 'add it to user_groups'),
    ({'users': [{'name': 'ada'}], 'user_groups': [{'name': 'ada'}]}, 'users[0].name', 'group of its own name'),
    ({'users': [{'name': 'ada', 'shell': '/usr/bin/zsh'}]}, 'users[0].shell', 'packages.install'),
    ({'users': [{'name': 'ada', 'shell': '/opt/myshell'}]}, 'users[0].shell', 'not a shell the image will have'),
    ({'locale': 'english'}, 'locale', 'en_US.UTF-8'),
    ({'locale': 'xx_YY.UTF-8'}, 'locale', 'not a locale glibc supports'),
    ({'timezone': 'Mars/Olympus'}, 'timezone', 'tz database name'),
    ({'timezone': '../../etc/passwd'}, 'timezone', 'tz database name'),
    ({'keyboard': {'layout': 'klingon'}}, 'keyboard.layout', 'not an XKB layout'),
    ({'keyboard': {'layout': 'us; reboot'}}, 'keyboard.layout', 'XKB layout'),
    ({'keyboard': {'colour': 'red'}}, 'keyboard.colour', 'unknown key'),
    ({'services': {'enabled': ['nginx']}}, 'services.enabled[0]', 'nginx.service'),
    ({'services': {'enabled': ['$(reboot).service']}}, 'services.enabled[0]', 'unit name'),
    ({'services': {'started': ['nginx.service']}}, 'services.started', 'unknown key'),
    ({'services': {'enabled': ['a.service'], 'masked': ['a.service']}}, 'services.masked[0]', 'one state'),
    ({'files': [{'path': 'etc/motd', 'content': 'x'}]}, 'files[0].path', 'absolute path'),
    ({'files': [{'path': '/etc/../root/x', 'content': 'x'}]}, 'files[0].path', 'normalized'),
    ({'files': [{'path': '/proc/x', 'content': 'x'}]}, 'files[0].path', 'not part of the image'),
    ({'files': [{'path': '/etc/motd'}]}, 'files[0]', 'exactly one of src, content or template'),
    ({'files': [{'path': '/etc/motd', 'content': 'x', 'src': '/etc/hostname'}]}, 'files[0]', 'exactly one'),
    ({'files': [{'path': '/etc/motd', 'src': '/nonexistent/motd'}]}, 'files[0].src', 'does not exist'),
    ({'files': [{'path': '/etc/a.conf', 'template': 'missing.j2'}]}, 'files[0].template', 'does not exist'),
    ({'files': [{'path': '/etc/motd', 'content': 'x', 'mode': 644}]}, 'files[0].mode', 'quoted octal'),
    ({'files': [{'path': '/etc/motd', 'content': 'x', 'mode': '0999'}]}, 'files[0].mode', 'quoted octal'),
    ({'files': [{'path': '/srv/x', 'state': 'link'}]}, 'files[0].target', 'needs the target'),
    ({'files': [{'path': '/srv/x', 'state': 'directory', 'content': 'x'}]}, 'files[0].content', 'a directory has no'),
    ({'files': [{'path': '/a', 'content': 'x'}, {'path': '/a', 'content': 'y'}]}, 'files[1].path', 'twice'),
    ({'files': [{'path': '/etc/motd', 'content': 'x', 'owner': 'Bad Owner'}]}, 'files[0].owner', 'user or group'),
    ({'security': {'firewall': {'enabled': True, 'allowed_ports': [{'port': 70000}]}}},
     'security.firewall.allowed_ports[0].port', '1 to 65535'),
    ({'security': {'firewall': {'enabled': True, 'allowed_ports': [{'port': 0}]}}},
     'security.firewall.allowed_ports[0].port', '1 to 65535'),
    ({'security': {'firewall': {'enabled': True, 'allowed_ports': [{'port': 53, 'proto': 'sctp'}]}}},
     'security.firewall.allowed_ports[0].proto', 'tcp, udp'),
    ({'security': {'firewall': {'enabled': True, 'allowed_ports': [{'port': 80}, {'port': 80}]}}},
     'security.firewall.allowed_ports[1]', 'twice'),
    ({'security': {'firewall': {'allowed_ports': [{'port': 80}]}}}, 'security.firewall.allowed_ports', 'enabled: true'),
    ({'security': {'firewall': {'enabled': True, 'allow_ssh': False}}}, 'security.firewall.allow_ssh', 'boot_test.verify'),
    ({'security': {'ssh': {'permit_root_login': 'no'}}}, 'security.ssh.permit_root_login', 'boot_test.verify: false'),
    ({'security': {'ssh': {'permit_root_login': 'never'}}}, 'security.ssh.permit_root_login', 'choose one of'),
    ({'security': {'ssh': {'port': 2222}}}, 'security.ssh.port', 'boot_test.verify'),
    ({'security': {'apparmor': 'maybe'}}, 'security.apparmor', 'true (installed'),
    ({'cloud_init': {'enabled': True, 'datasources': ['Floppy']}}, 'cloud_init.datasources[0]', 'choose one of'),
    ({'cloud_init': {'enabled': True, 'datasources': []}}, 'cloud_init.datasources', 'not valid'),
    ({'cloud_init': {'enabled': True}, 'packages': {'remove': ['cloud-init']}}, 'packages.remove[0]', 'needed by cloud_init'),
    ({'tasks': ['/nonexistent/site.yml']}, 'tasks[0]', 'does not exist'),
    ({'tasks': 'site.yml'}, 'tasks', 'list of tasks files'),
])
def test_bad_customization_is_named_with_the_fix(request_, key, words):
    errors = errors_of(request_)
    assert key in errors, errors
    assert words in errors[key]


def test_a_directory_without_tasks_is_not_a_role(tmp_path):
    (tmp_path / 'notarole').mkdir()
    (tmp_path / 'tasks.txt').write_text('x')
    errors = errors_of({'tasks': ['notarole', 'tasks.txt']}, cwd=str(tmp_path))
    assert 'not a role' in errors['tasks[0]'] and 'YAML' in errors['tasks[1]']


def test_users_may_join_their_own_groups_and_system_groups():
    req.validate({'user_groups': [{'name': 'web', 'gid': 2000}],
                  'users': [{'name': 'ada', 'groups': ['web', 'adm', 'sudo'], 'shell': '/usr/bin/zsh'}],
                  'packages': {'install': ['zsh']}})


def test_defaults_leave_the_image_as_it_was():
    resolved = req.resolve({}, cwd='/srv', build_id='abc123')
    assert resolved['locale'] == 'C.UTF-8' and resolved['timezone'] == 'Etc/UTC'
    assert resolved['services'] == {'enabled': [], 'disabled': [], 'masked': []}
    assert resolved['security'] == {
        'ssh': {'password_authentication': False, 'permit_root_login': 'prohibit-password', 'port': 22},
        'firewall': {'enabled': False, 'allowed_ports': [], 'allow_ssh': True},
        'automatic_updates': False, 'apparmor': None}
    assert resolved['cloud_init'] == {'enabled': False, 'datasources': ['NoCloud']}
    assert 'keyboard' not in resolved and resolved['packages']['install'] == []
    assert resolved['kernel_cmdline'] == []


def test_keys_bring_the_packages_they_need():
    resolved = req.resolve({'locale': 'de_DE.UTF-8', 'timezone': 'Europe/Berlin', 'keyboard': {'layout': 'de'},
                            'security': {'firewall': {'enabled': True}, 'automatic_updates': True,
                                         'apparmor': True},
                            'cloud_init': {'enabled': True}, 'packages': {'install': ['nginx']}})
    assert resolved['packages']['install'] == ['nginx', 'apparmor', 'cloud-guest-utils', 'cloud-init', 'e2fsprogs',
                                               'keyboard-configuration', 'locales', 'nftables', 'tzdata',
                                               'unattended-upgrades']


def test_apparmor_off_goes_to_the_kernel_command_line():
    resolved = req.resolve({'security': {'apparmor': False}, 'kernel_cmdline': ['quiet']})
    assert resolved['kernel_cmdline'] == ['quiet', 'apparmor=0']


def test_controller_paths_become_absolute_with_checksums(tmp_path):
    (tmp_path / 'motd').write_text('hello\n')
    (tmp_path / 'a.j2').write_text('{{ hostname }}\n')
    (tmp_path / 'site.yml').write_text('[]\n')
    request = {'files': [{'path': '/etc/motd', 'src': 'motd'}, {'path': '/etc/a', 'template': 'a.j2'},
                         {'path': '/etc/b', 'content': 'b\n'}], 'tasks': ['site.yml']}
    resolved = req.resolve(request, cwd=str(tmp_path))
    motd, tmpl, inline = resolved['files']
    assert motd['src'] == str(tmp_path / 'motd') and tmpl['template'] == str(tmp_path / 'a.j2')
    assert motd['sha256'] == hashlib.sha256(b'hello\n').hexdigest()
    assert inline['sha256'] == hashlib.sha256(b'b\n').hexdigest() and 'sha256' not in tmpl
    assert resolved['tasks'] == [str(tmp_path / 'site.yml')]
    anchored = customization.anchor_paths(request, str(tmp_path))
    assert anchored['files'][0]['src'] == str(tmp_path / 'motd') and request['files'][0]['src'] == 'motd'


def test_without_controller_lists_the_names_are_checked_by_shape(monkeypatch):
    monkeypatch.setattr(customization, 'SUPPORTED_LOCALES', '/nonexistent')
    monkeypatch.setattr(customization, 'XKB_RULES', '/nonexistent')
    monkeypatch.setattr(customization, 'known_timezones', lambda: None)
    req.validate({'locale': 'xx_YY.UTF-8', 'keyboard': {'layout': 'zz'}, 'timezone': 'Nowhere/Town'})
