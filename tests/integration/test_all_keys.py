"""The all-keys image: one request using most keys (preset, repositories, location and the system keys),
built once, booted and verified.

The verify play proves each key inside the running guest; the test adds its own verify task that logs in
as the request's user with a private key only the test holds and becomes root with sudo.
"""

import hashlib
import json
import os
import time

import pytest
import yaml

from osimage_testlib import BIN, Built, run

pytestmark = pytest.mark.integration

USER_TASKS = '''---
- name: Leave a mark from the request's own tasks
  ansible.builtin.copy:
    dest: /etc/osimage-user-task
    content: "{{ hostname }}\\n"
    mode: "0644"
'''

LOGIN_CHECK = '''---
- name: Log in as ada with her key and become root with sudo
  ansible.builtin.command:
    argv: [ssh, -i, "%(key)s", -p, "{{ hostvars['osimage_guest'].ansible_port }}", -o, StrictHostKeyChecking=no,
           -o, UserKnownHostsFile=/dev/null, -o, BatchMode=yes, -o, LogLevel=ERROR, ada@127.0.0.1,
           sudo, -n, id, -un]
  delegate_to: localhost
  register: login
  changed_when: false

- name: Ada is root through sudo
  ansible.builtin.assert:
    that: login.stdout == 'root'

- name: The request's own tasks ran in the image
  ansible.builtin.command: cat /etc/osimage-user-task
  register: mark
  changed_when: false
  failed_when: mark.stdout != 'allkeys'
'''


def all_keys_request(src, repo):
    """Write the request and the controller files it names into ``src``; return the request."""
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'ada', '-f', str(src / 'ada_key')], check=True)
    (src / 'motd').write_text('Welcome to the all-keys image\n')
    (src / 'app.conf.j2').write_text('# for {{ hostname }}\ntimezone={{ timezone }}\nlocale={{ locale }}\n')
    (src / 'site.yml').write_text(USER_TASKS)
    (src / 'login.yml').write_text(LOGIN_CHECK % {'key': src / 'ada_key'})
    return {
        'name': 'all-keys',
        'hostname': 'allkeys',
        'preset': 'web',
        'packages': {'install': ['zsh', 'osimage-hello']},
        'repositories': [{'name': 'osimage-test', 'uri': repo.uri, 'suites': [repo.suite],
                          'components': [repo.component], 'key_file': repo.key_file, 'priority': 990}],
        # slirp's resolver, so that the guest resolves with the configured server
        'location': {'dns': ['10.0.2.3'], 'ntp': ['ntp.example.org']},
        'user_groups': [{'name': 'web-admins', 'gid': 2000}],
        'users': [{'name': 'ada', 'uid': 1500, 'shell': '/usr/bin/zsh', 'sudo': True, 'groups': ['adm', 'web-admins'],
                   'ssh_authorized_keys': [(src / 'ada_key.pub').read_text().strip()]}],
        'locale': 'de_DE.UTF-8',
        'timezone': 'Europe/Berlin',
        'keyboard': {'layout': 'de', 'variant': 'nodeadkeys'},
        'services': {'enabled': ['nginx.service'], 'disabled': ['dpkg-db-backup.timer'],
                     'masked': ['debug-shell.service']},
        'files': [
            {'path': '/etc/motd', 'src': 'motd'},
            {'path': '/srv/www', 'state': 'directory', 'owner': 'ada', 'group': 'web-admins', 'mode': '2775'},
            {'path': '/srv/www/index.html', 'content': '<h1>all keys</h1>\n', 'owner': 'ada',
             'group': 'web-admins', 'mode': '0664'},
            {'path': '/etc/app.conf', 'template': 'app.conf.j2', 'mode': '0600'},
            {'path': '/srv/current', 'state': 'link', 'target': '/srv/www'},
        ],
        'security': {'firewall': {'enabled': True, 'allowed_ports': [{'port': 80}, {'port': 5353, 'proto': 'udp'}]},
                     'automatic_updates': True, 'apparmor': True},
        'cloud_init': {'enabled': True, 'datasources': ['NoCloud']},
        'tasks': ['site.yml'],
        'boot_test': {'timeout': 1800, 'verify_tasks': str(src / 'login.yml')},
    }


@pytest.fixture(scope='session')
def all_keys_build(tmp_path_factory, local_apt_repo):
    """`osimage build` of the all-keys request, run from elsewhere: controller paths are relative to it."""
    src = tmp_path_factory.mktemp('all-keys-src')
    out = str(tmp_path_factory.mktemp('all-keys'))
    (src / 'request.yml').write_text(yaml.safe_dump(all_keys_request(src, local_apt_repo)))
    started = time.monotonic()
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(src / 'request.yml'), '-o', out], timeout=3600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = Built(out, proc)
    built.seconds = time.monotonic() - started
    built.src = src
    return built


def test_every_key_is_proven_in_the_booted_guest(all_keys_build):
    report = all_keys_build.report
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    for name in ('time zone is the requested one', 'locale is the default and generated',
                 'keyboard layout is the requested one',
                 'services are enabled, disabled and masked as requested, and enabled services run',
                 'files, directories and links have their owner, mode and content',
                 'SSH server runs with the requested policy',
                 'firewall drops what is not allowed and accepts only the listed ports',
                 'from outside, allowed ports get through and another port is dropped',
                 'automatic security updates are switched as requested', 'AppArmor is on with profiles loaded',
                 'cloud-init finished', 'requested users exist with their shells and groups',
                 "users' SSH keys are installed", 'sudo users may run everything', "the user's verify tasks passed",
                 'DNS servers are the requested ones', 'NTP servers are the requested ones',
                 'extra repositories are configured with their signing keys',
                 'pinned repositories have their priority and the package manager reads the pins', 'requested packages are installed',
                 'system reached the running state', 'no failed units'):
        assert outcomes.get(name) == 'passed', (name, report['checks'])
    assert 'failed' not in outcomes.values(), report['checks']


def test_the_request_resolved_with_what_its_keys_need(all_keys_build):
    request = all_keys_build.manifest['request']
    for package in ('nginx', 'zsh', 'osimage-hello', 'locales', 'tzdata', 'keyboard-configuration', 'nftables',
                    'unattended-upgrades', 'apparmor', 'cloud-init', 'systemd-timesyncd'):
        assert package in request['packages']['install']
    motd = request['files'][0]
    assert motd['src'] == str(all_keys_build.src / 'motd')
    assert motd['sha256'] == hashlib.sha256(b'Welcome to the all-keys image\n').hexdigest()
    packages = {p['name'] if isinstance(p, dict) else p for p in all_keys_build.manifest['packages']}
    assert {'nginx', 'cloud-init', 'nftables', 'osimage-hello'} <= packages


def test_build_time_and_size_are_reported(all_keys_build, capsys):
    image = all_keys_build.image()
    with capsys.disabled():
        print('\nall-keys image: built and proven in %.0f s, %s: %.1f MiB (qcow2), stages %s'
              % (all_keys_build.seconds, os.path.basename(image), os.path.getsize(image) / 2 ** 20,
                 json.dumps(all_keys_build.manifest.get('stages'))))
    assert os.path.getsize(image) > 0
