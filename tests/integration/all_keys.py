"""The all-keys request: one request using most keys (preset, repositories, location, the system keys, every
default-tested output format, passwords from Ansible Vault), built once per run through the test's recording
proxy and shared by test_all_keys, test_formats, test_secrets and test_repositories; its vmdk is booted, with
SeaBIOS only."""

import glob
import os
import time
import uuid

import yaml

from osimage_testlib import BIN, Built, run

# Every output format the default run checks. The boot test and verify play run on the first, the vmdk: that one
# boot proves the converted disk a user imports (test_formats compares every disk format with the qcow2).
FORMATS = ['vmdk', 'qcow2', 'ova', 'vhd', 'vhdx', 'vdi', 'tar', 'oci']
VAULT_PASSWORD = 'osimage-test-vault\n'
# slirp's resolver first, so that the guest resolves with the configured servers
DNS = ['10.0.2.3', '2001:db8::53']
NTP = ['ntp.example.org', '192.0.2.123']

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


def all_keys_request(src, repo, proxy, secrets):
    """Write the request and the controller files it names into ``src``; return the request, its passwords
    ``secrets`` (root's, ada's) as Vaulted values, built through ``proxy``."""
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'ada', '-f', str(src / 'ada_key')], check=True)
    (src / 'motd').write_text('Welcome to the all-keys image\n')
    (src / 'app.conf.j2').write_text('# for {{ hostname }}\ntimezone={{ timezone }}\nlocale={{ locale }}\n')
    (src / 'site.yml').write_text(USER_TASKS)
    (src / 'login.yml').write_text(LOGIN_CHECK % {'key': src / 'ada_key'})
    return {
        'name': 'all-keys',
        'formats': FORMATS,
        'hostname': 'allkeys',
        'preset': 'web',
        # hello: Debian's is newer; only the repository's priority 990 makes apt choose the repository's
        'packages': {'install': ['zsh', 'osimage-hello', 'hello']},
        'repositories': [{'name': 'osimage-test', 'uri': repo.uri, 'suites': [repo.suite],
                          'components': [repo.component], 'key_file': repo.key_file, 'priority': 990}],
        'location': {'dns': DNS, 'ntp': NTP, 'proxy': proxy.url},
        'user_groups': [{'name': 'web-admins', 'gid': 2000}],
        'root_password': secrets[0],
        'users': [{'name': 'ada', 'uid': 1500, 'password': secrets[1], 'shell': '/usr/bin/zsh', 'sudo': True, 'groups': ['adm', 'web-admins'],
                   'ssh_authorized_keys': [(src / 'ada_key.pub').read_text().strip()]}],
        'locale': 'de_DE.UTF-8',
        'slim': True,
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
        # SeaBIOS only: its boot runs the verify play; the default build proves a hybrid disk under OVMF
        # (test_default_image), and this image's second boot (75 s under TCG) proved nothing a test reads.
        'boot_test': {'timeout': 1800, 'verify_tasks': str(src / 'login.yml'), 'firmware': 'bios'},
    }


class Vaulted(str):
    """An Ansible Vault ciphertext, written to YAML as a ``!vault |`` value."""


class RequestDumper(yaml.SafeDumper):
    """yaml.SafeDumper that writes Vaulted values with their tag."""


RequestDumper.add_representer(Vaulted, lambda dumper, value: dumper.represent_scalar('!vault', value, style='|'))


def encrypt(value, password_file):
    proc = run([os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file', password_file, value],
               check=True)
    return Vaulted('\n'.join(line.strip() for line in proc.stdout.split('!vault |', 1)[1].strip().splitlines()) + '\n')


def build(src, out, repo, proxy):
    """`osimage build` of the all-keys request with its extra repository ``repo`` through ``proxy``, run from
    elsewhere (controller paths are relative to it), with the vault password file; the Built has .seconds, .src,
    .secrets (plain text) and .runner_dirs (the runner's temporary directories in /tmp before and after)."""
    password_file = src / 'vault-pass'
    password_file.write_text(VAULT_PASSWORD)
    secrets = ('Root-%s' % uuid.uuid4().hex, 'Ada-%s' % uuid.uuid4().hex)
    vaulted = [encrypt(secret, str(password_file)) for secret in secrets]
    (src / 'request.yml').write_text(yaml.dump(all_keys_request(src, repo, proxy, vaulted), Dumper=RequestDumper))
    runner_dirs = set(glob.glob('/tmp/osimage-runner-*'))
    started = time.monotonic()
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(src / 'request.yml'), '-o', str(out),
                '--vault-password-file', str(password_file)], timeout=3600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    built = Built(str(out), proc)
    built.seconds = time.monotonic() - started
    built.src, built.secrets = src, secrets
    built.runner_dirs = (runner_dirs, set(glob.glob('/tmp/osimage-runner-*')))
    return built
