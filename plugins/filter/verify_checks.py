# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify_checks filter: what a booted image must show for each key of its request, checked against the state
the verify role gathered inside it."""

from __future__ import annotations

import base64
import json
import re

DOCUMENTATION = r'''
name: verify_checks
short_description: Check a running image's gathered state against its resolved request
version_added: 0.4.0
description:
  - Evaluates the verify role's checks (the image's hygiene, then what each key of the request must show in the
    running system) and returns them for the osimage.builder.checks action, which reports them as JUnit test cases.
  - What differs per distribution family (where its repositories, keyboard file and automatic updates switch are,
    how its resolver and time service name their servers) is read from the request's C(os), the family's distro
    table; a request without it (a foreign image) skips those checks.
  - Each check is evaluated on its own; one whose data is missing or malformed fails with the reason, and the
    others are still evaluated.
author: osimage developers (@osimage)
options:
  _input:
    description: The state that C(roles/verify/files/gather_state.py) printed (parsed JSON).
    type: dict
    required: true
  request:
    description: The resolved request (C(osimage_public)), or V({}) for an image osimage did not build.
    type: dict
    default: {}
  facts:
    description: The host's facts with C(getent_passwd), C(getent_group) and C(packages) when the request needs them.
    type: dict
    default: {}
  keys:
    description: The results of slurping each user's C(authorized_keys) (C(content), C(item)).
    type: list
    elements: dict
    default: []
  sudo:
    description: The results of C(sudo -l -U) for each sudo user (C(stdout), C(item)).
    type: list
    elements: dict
    default: []
  nameservers:
    description: The build host's name servers, which must not appear in the image's C(/etc/resolv.conf).
    type: list
    elements: str
    default: []
  rendered:
    description: The SHA-256 of each of the request's C(files) templates rendered with the request, by template path.
    type: dict
    default: {}
  probed:
    description: What C(probe_ports.py) printed from outside (JSON, port to C(answered) or C(silent)); none when
      no port was probed.
    type: str
  dropped_port:
    description: The probed port the firewall must drop.
    type: int
  firmware:
    description: The firmware the guest was booted with (bios, uefi, uefi_secure); empty to not check it.
    type: str
    default: ''
  user_result:
    description: The outcome of the user's own verify tasks (C(ok), C(msg)); none when there are none.
    type: dict
'''

EXAMPLES = r'''
- name: Check the running image
  osimage.builder.checks:
    junit: /srv/images/debian/verify-junit.xml
    checks: >-
      {{ gathered.stdout | from_json | osimage.builder.verify_checks(request=osimage_public,
         facts=ansible_facts, nameservers=['192.0.2.53']) }}
'''

RETURN = r'''
_value:
  description:
    - The checks, in a fixed order, for osimage.builder.checks, each with C(name), C(when) (false when it does not
      apply to the request), C(that) (whether it passed), C(msg) and, when it says more, C(found) (what it found).
  type: list
  elements: dict
'''

ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, re.error)
# (name, function) of every check, in the order they are reported: the function returns None when the check does
# not apply to the request, else whether it passed, its message and what it found (appended when it failed).
CHECKS = []
NOTHING = object()  # a check whose message says all


def verifies(name):
    def register(function):
        CHECKS.append((name, function))
        return function
    return register


def result(ok, msg, found=NOTHING):
    return bool(ok), msg, found


class Seen:
    """What the checks read: the gathered state, the request and what the role's other tasks found (the
    filter's options)."""

    def __init__(self, state, request, found):
        self.state = state
        self.request = request or {}
        self.found = found
        self.os = self.request.get('os') or {}
        self.disk = self.request.get('disk') or {}
        self.security = self.request.get('security') or {}
        self.location = self.request.get('location') or {}
        self.users = self.request.get('users') or []
        self.repositories = self.request.get('repositories') or []
        self.layout = state.get('layout') or {}

    def get(self, name, default=None):
        value = self.found[name]
        return default if value is None else value


# The image: it started, its root is what fstab names, and nothing of the build is left in it.

@verifies('system reached the running state')
def running(seen):
    return result(seen.state['state'] == 'running', 'systemctl is-system-running says', seen.state['state'])


@verifies('no failed units')
def no_failed_units(seen):
    return result(seen.state['failed_units'] == [], 'failed units', seen.state['failed_units'])


def fstab_root(fstab):
    """How fstab names the root file system (UUID=..., LABEL=..., a device path), findmnt's column of that name
    (uuid, partuuid, label, partlabel; source for a path) and the value."""
    found = re.search(r'^[ \t]*([^#\s]\S*)\s+/\s', fstab, re.MULTILINE)
    spec = found.group(1) if found else 'none'
    if re.match('^[A-Z]+=', spec):
        column, value = spec.split('=', 1)
        return spec, column.lower(), value
    return spec, 'source', spec


@verifies('root file system is mounted read-write as fstab names it')
def root_mount(seen):
    root = seen.state['root']
    spec, column, value = fstab_root(seen.state['files']['/etc/fstab'])
    named = str(root.get(column) or '').lower() == value.lower()
    return result(named and 'rw' in root['options'].split(','), 'root mount and the root fstab names', [root, spec])


@verifies('network is up with a default route')
def network(seen):
    return result(len(seen.state['default_routes']) > 0, 'no default route')


@verifies('machine id was made on this boot')
def machine_id(seen):
    made = seen.state['files']['/etc/machine-id'].strip()
    return result(re.match('^[0-9a-f]{32}$', made), '/etc/machine-id holds', made)


@verifies('SSH host keys were generated on this boot')
def host_keys(seen):
    keys, booted = seen.state['host_keys'], seen.state['btime']
    return result(keys and min(keys.values()) >= booted, 'host keys older than this boot (shipped in the image)',
                  [path for path, mtime in keys.items() if mtime < booted])


@verifies('no build-host name server in the image')
def build_host_nameservers(seen):
    leaked = [server for server in seen.get('nameservers', []) if server in seen.state['files']['/etc/resolv.conf']]
    return result(leaked == [], "/etc/resolv.conf names the build host's name servers", leaked)


@verifies('no proxy configuration left by the build')
def proxy(seen):
    return result(seen.state['proxy_files'] == [], 'proxy settings in', seen.state['proxy_files'])


@verifies('package caches and lists were cleaned')
def package_leftovers(seen):
    leftovers = seen.state['package_leftovers']
    return result(leftovers == [], 'downloaded packages or package lists left', leftovers)


@verifies('services are enabled')
def enabled(seen):
    states = seen.state['enabled']
    return result(all(value == 'enabled' for value in states.values()), 'service states', states)


# The system keys: hostname, users, packages, location, repositories.

@verifies('hostname is the requested one')
def hostname(seen):
    want = seen.request.get('hostname')
    if want is None:
        return None
    have = seen.state['hostname']
    return result(have.split('.')[0] == want.split('.')[0], 'hostname is', have)


def user_problems(users, passwd, groups):
    found = []
    for user in users:
        entry = passwd.get(user['name'])
        if entry is None:
            found.append(user['name'] + ' does not exist')
            continue
        if entry[5] != user['shell']:
            found.append('%s has shell %s' % (user['name'], entry[5]))
        found += ['%s is not in group %s' % (user['name'], group) for group in user['groups']
                  if user['name'] not in (groups.get(group) or ['', '', ''])[2].split(',')]
    return found


@verifies('requested users exist with their shells and groups')
def users(seen):
    if not seen.users:
        return None
    facts = seen.get('facts', {})
    problems = user_problems(seen.users, facts.get('getent_passwd') or {}, facts.get('getent_group') or {})
    return result(problems == [], 'user problems', problems)


@verifies("users' SSH keys are installed")
def authorized_keys(seen):
    if not [user for user in seen.users if user.get('ssh_authorized_keys')]:
        return None
    problems = []
    for res in seen.get('keys', []):
        have = base64.b64decode(res.get('content') or '').decode('utf-8', 'replace').splitlines()
        problems += ['%s lacks key %s' % (res['item']['name'], key[:40])
                     for key in res['item']['ssh_authorized_keys'] if key not in have]
    return result(problems == [], 'missing keys', problems)


@verifies('sudo users may run everything')
def sudo(seen):
    if not [user for user in seen.users if user.get('sudo')]:
        return None
    refused = [res['item']['name'] for res in seen.get('sudo', [])
               if not re.search('NOPASSWD: ALL', res.get('stdout') or '')]
    return result(refused == [], 'no sudo rights for', refused)


def installed(seen, key):
    """The request's packages.KEY that the image has, and those it lacks."""
    names = (seen.request.get('packages') or {}).get(key) or []
    have = seen.get('facts', {}).get('packages') or {}
    return [name for name in names if name in have], [name for name in names if name not in have]


@verifies('requested packages are installed')
def packages_installed(seen):
    have, missing = installed(seen, 'install')
    return result(missing == [], 'missing packages', missing) if have + missing else None


@verifies('removed packages are absent')
def packages_removed(seen):
    have, absent = installed(seen, 'remove')
    return result(have == [], 'still installed', have) if have + absent else None


def servers(seen, kind, msg):
    """The family's resolver or time service names the requested servers (its dns_check or ntp_check: a probe,
    and a regex whose matches hold the servers)."""
    told = seen.os.get(kind + '_check') or {}
    if not (seen.location.get(kind) and told):
        return None
    have = ' '.join(re.findall(told['servers'], seen.state['probes'][kind]['stdout'], re.MULTILINE)).split()
    return result(all(server in have for server in seen.location[kind]), msg,
                  '%s are %s' % (told['source'], ' '.join(have)))


@verifies('DNS servers are the requested ones')
def dns(seen):
    return servers(seen, 'dns', "the family's resolver says")


@verifies('NTP servers are the requested ones')
def ntp(seen):
    return servers(seen, 'ntp', "the family's time service says")


@verifies('extra repositories are configured with their signing keys')
def repositories(seen):
    if not seen.repositories:
        return None
    told, read = seen.os['repository_check'], seen.state['read']
    problems = []
    for repo in seen.repositories:
        text = read['repositories'].get('%s/%s%s' % (told['dir'], repo['name'], told['suffix']), '')
        if told['uri'] + repo['uri'] not in text:
            problems.append('%s: no %s file for %s' % (repo['name'], told['suffix'], repo['uri']))
        if told['key'] + repo['signed_by'] not in text or repo['signed_by'] not in read['keyrings']:
            problems.append('%s: not signed by %s' % (repo['name'], repo['signed_by']))
    return result(problems == [], 'repository problems', problems)


@verifies('pinned repositories have their priority and the package manager reads the pins')
def pins(seen):
    pinned = [repo for repo in seen.repositories if 'priority' in repo]
    if not pinned:
        return None
    told, policy = seen.os['repository_check'], seen.state['probes']['repositories']
    problems = [line for line in policy['stderr'].splitlines() if re.match(told['errors'], line)]
    if policy['rc'] != 0:
        problems.append('%s exited with %s' % (' '.join(told['probe']), policy['rc']))
    for repo in pinned:
        text = seen.state['read']['pins'].get('%s/%s%s' % (told['pin_dir'], repo['name'], told['pin_suffix']), '')
        if '%s%s' % (told['pin'], repo['priority']) not in text:
            problems.append('%s is not pinned at %s' % (repo['name'], repo['priority']))
    return result(problems == [], 'pinning problems', problems)


# The customization keys: time zone, locale, keyboard, services, files.

@verifies('time zone is the requested one')
def timezone(seen):
    want, state = seen.request.get('timezone'), seen.state
    if want is None:
        return None
    ok = state['timezone'] == want or (want in ('UTC', 'Etc/UTC') and state['timezone_abbrev'] == 'UTC')
    return result(ok, '/etc/localtime is', state['timezone'])


@verifies('locale is the default and generated')
def locale(seen):
    want, state = seen.request.get('locale'), seen.state
    if want is None:
        return None
    available = [name.lower() for name in state['locales_available']]
    ok = state['locale'].get('LANG', '') == want and want.lower().replace('utf-8', 'utf8') in available
    return result(ok, '/etc/locale.conf and locale -a say', [state['locale'], state['locales_available']])


@verifies('keyboard layout is the requested one')
def keyboard(seen):
    want = seen.request.get('keyboard') or {}
    if not want:
        return None
    have = seen.state['keyboard']
    ok = have.get('XKBLAYOUT', '') == want.get('layout', 'us') and have.get('XKBVARIANT', '') == want.get('variant', '')
    return result(ok, 'the keyboard file holds', have)


@verifies('services are enabled, disabled and masked as requested, and enabled services run')
def services(seen):
    wanted = seen.request.get('services') or {}
    units = [(want, unit) for want in ('enabled', 'disabled', 'masked') for unit in wanted.get(want) or []]
    if not units:
        return None
    problems = []
    for want, unit in units:
        have = seen.state['units'].get(unit) or {'enabled': 'unknown', 'active': 'unknown'}
        if have['enabled'] != want:
            problems.append('%s is %s, not %s' % (unit, have['enabled'], want))
        if want == 'enabled' and unit.endswith('.service') and have['active'] != 'active':
            problems.append('%s is enabled but %s' % (unit, have['active']))
    return result(problems == [], 'unit problems', problems)


def octal(mode):
    return int(mode, 8) if isinstance(mode, str) else int(mode)


def file_problems(want, have, rendered):
    """How a path of the request's files differs in the image (``rendered``: its template's SHA-256)."""
    path = want['path']
    if have is None:
        return [path + ' is missing']
    found = []
    if have['state'] != want.get('state', 'file'):
        found.append('%s is a %s' % (path, have['state']))
    if have['owner'] != want.get('owner', 'root') or have['group'] != want.get('group', 'root'):
        found.append('%s is owned by %s:%s' % (path, have['owner'], have['group']))
    if 'mode' in want and octal(have['mode']) != octal(want['mode']):
        found.append('%s has mode %s' % (path, have['mode']))
    if 'sha256' in want and have.get('sha256', '') != want['sha256']:
        found.append(path + ' has other content')
    if rendered is not None and have.get('sha256', '') != rendered:
        found.append(path + ' is not its rendered template')
    if 'target' in want and have.get('target', '') != want['target']:
        found.append('%s points to %s' % (path, have.get('target', 'nothing')))
    return found


@verifies('files, directories and links have their owner, mode and content')
def files(seen):
    wanted, rendered = seen.request.get('files') or [], seen.get('rendered', {})
    if not wanted:
        return None
    problems = [problem for want in wanted for problem in file_problems(
        want, seen.state['paths'].get(want['path']), rendered.get(want.get('template')))]
    return result(problems == [], 'file problems', problems)


# The security keys: SSH server, firewall, automatic updates, AppArmor; and cloud-init.

def ssh_port(security):
    return (security.get('ssh') or {}).get('port', 22)


@verifies('SSH server runs with the requested policy')
def sshd(seen):
    if 'security' not in seen.request:
        return None
    ssh = seen.security.get('ssh') or {}
    root_login = ssh.get('permit_root_login', 'prohibit-password')
    expected = {'passwordauthentication': 'yes' if ssh.get('password_authentication') else 'no',
                'permitrootlogin': {'prohibit-password': 'without-password'}.get(root_login, root_login),
                'port': str(ssh_port(seen.security))}
    have = seen.state['sshd']
    differs = {key: '%s, not %s' % (have.get(key, 'unset'), want)
               for key, want in expected.items() if have.get(key, '') != want}
    return result(differs == {}, 'sshd -T differs in', differs)


def firewall_expected(security):
    """The TCP and UDP ports the firewall must accept: the allowed ports, and SSH's unless it is not allowed."""
    firewall = security['firewall']
    allowed = firewall.get('allowed_ports') or []
    ssh = [int(ssh_port(security))] if firewall.get('allow_ssh', True) else []
    return {proto: sorted({int(port['port']) for port in allowed if port.get('proto') == proto} | set(extra))
            for proto, extra in (('tcp', ssh), ('udp', []))}


@verifies('firewall drops what is not allowed and accepts only the listed ports')
def firewall(seen):
    if not (seen.security.get('firewall') or {}).get('enabled'):
        return None
    have = seen.state['firewall']
    ok = have is not None and have['input_policy'] == 'drop' and have['accepted'] == firewall_expected(seen.security)
    return result(ok, 'nft ruleset (input policy, accepted ports) is', have)


@verifies('from outside, allowed ports get through and another port is dropped')
def port_probes(seen):
    if seen.get('probed') is None:
        return None
    probes, dropped = json.loads(seen.get('probed') or '{}'), str(seen.get('dropped_port'))
    ok = all(value == 'answered' for port, value in probes.items() if port != dropped)
    return result(ok and probes.get(dropped, 'none') == 'silent', 'probes (answered: let through; silent: dropped)',
                  probes)


@verifies('automatic security updates are switched as requested')
def automatic_updates(seen):
    if 'automatic_updates' not in seen.security or not seen.os:
        return None
    switch = seen.os['automatic_updates']['on' if seen.security['automatic_updates'] else 'off']
    said = seen.state['probes']['automatic_updates']
    return result(said['stdout'] == switch, "the package manager's switch says", said)


@verifies('AppArmor is on with profiles loaded')
def apparmor_on(seen):
    if seen.security.get('apparmor') is not True:
        return None
    have = seen.state['apparmor']
    return result(have['enabled'] == 'Y' and have['profiles'] > 0, 'AppArmor state', have)


@verifies('AppArmor is off')
def apparmor_off(seen):
    if seen.security.get('apparmor') is not False:
        return None
    have = seen.state['apparmor']
    return result(have['enabled'] != 'Y', 'AppArmor state', have)


@verifies('cloud-init finished')
def cloud_init_done(seen):
    if not (seen.request.get('cloud_init') or {}).get('enabled'):
        return None
    have = seen.state['cloud_init']
    return result(have is not None and have['status'] == 'done', 'cloud-init status', have)


@verifies('cloud-init is absent')
def cloud_init_absent(seen):
    wanted = seen.request.get('cloud_init') or {}
    if 'enabled' not in wanted or wanted['enabled']:
        return None
    return result(seen.state['cloud_init'] is None, 'cloud-init is installed', seen.state['cloud_init'])


@verifies("the user's verify tasks passed")
def user_tasks(seen):
    told = seen.get('user_result')
    return None if told is None else result(told['ok'], 'failed', told.get('msg'))


# The disk: mounts, swap, LVM, firmware, growth; the kernel command line and the platform's agent.

def mount_problem(want, mounts):
    got = [mount for mount in mounts if mount['target'] == want['mountpoint']]
    if not got:
        return want['mountpoint'] + ' is not mounted'
    if got[0]['fstype'] != want['filesystem']:
        return '%s is %s' % (want['mountpoint'], got[0]['fstype'])
    if str(got[0].get('uuid') or '').upper() != want['uuid'].upper():
        return '%s has UUID %s' % (want['mountpoint'], got[0]['uuid'])
    if 'subvolume' in want and 'subvol=/' + want['subvolume'] not in got[0]['options'].split(','):
        return '%s is not subvolume %s' % (want['mountpoint'], want['subvolume'])
    return None


@verifies('file systems are mounted as the request lays them out')
def mounts(seen):
    if 'mounts' not in seen.disk:
        return None
    problems = [mount_problem(want, seen.layout['mounts']) for want in seen.disk['mounts']
                if want['mountpoint'] != 'none']
    problems = [problem for problem in problems if problem]
    return result(problems == [], 'layout differs', problems)


@verifies('swap is active')
def swap(seen):
    wanted = [mount for mount in seen.disk.get('mounts') or [] if mount['filesystem'] == 'swap']
    if not wanted:
        return None
    return result(len(seen.layout['swaps']) == len(wanted), 'active swap areas', seen.layout['swaps'])


@verifies('LVM volumes exist and are active')
def lvm(seen):
    wanted = sorted(volume['name'] for volume in seen.disk.get('volumes') or [])
    if not wanted:
        return None
    have = seen.layout['lvs']
    return result(sorted(lv['lv_name'] for lv in have if lv['lv_active'] == 'active') == wanted, 'logical volumes',
                  have)


@verifies('booted with the firmware of the boot test')
def firmware(seen):
    booted, layout = seen.get('firmware', ''), seen.layout
    if not booted:
        return None
    return result(layout['efi'] == (booted != 'bios') and layout['secure_boot'] == (booted == 'uefi_secure'),
                  'EFI and Secure Boot as the guest sees them', [layout['efi'], layout['secure_boot']])


@verifies('root file system grew to fill the enlarged disk')
def grown(seen):
    if not (((seen.request.get('boot_test') or {}).get('grow_bytes') or 0) > 0 and seen.disk.get('grow')):
        return None
    unsized, layout = seen.disk['grow_target']['unsized_root_bytes'], seen.layout
    return result(layout['root_bytes'] > unsized,
                  'root file system bytes, the most it could have without growing, disk bytes',
                  [layout['root_bytes'], unsized, layout['disk_bytes']])


@verifies("requested kernel arguments are on the running kernel's command line")
def kernel_cmdline(seen):
    wanted = seen.request.get('kernel_cmdline') or []
    missing = [arg for arg in wanted if arg not in seen.state['cmdline']]
    return result(missing == [], 'missing from /proc/cmdline', missing) if wanted else None


@verifies("the platform's guest agent is installed")
def guest_agent(seen):
    if not (seen.request.get('platform_profile') or {}).get('agent_units'):
        return None
    have = seen.state['agent_units']
    # Installed is any state but none: udev starts some agents (qemu-guest-agent, the Hyper-V daemons) on their device.
    return result([unit for unit in have.values() if unit['enabled'] in ('', 'not-found')] == [],
                  "systemctl is-enabled says ('' is no such unit)", have)


def evaluate(name, function, seen):
    """The check for osimage.builder.checks: skipped when it does not apply, failed with the reason when its data
    is missing or malformed."""
    try:
        outcome = function(seen)
    except ERRORS as exc:
        outcome = (False, 'could not be evaluated', '%s: %s' % (type(exc).__name__, exc))
    if outcome is None:
        return {'name': name, 'when': False, 'that': True, 'msg': 'not applicable'}
    ok, msg, found = outcome
    return dict({'name': name, 'when': True, 'that': ok, 'msg': msg}, **({} if found is NOTHING else {'found': found}))


def verify_checks(state, request=None, facts=None, keys=None, sudo=None, nameservers=None, rendered=None,
                  probed=None, dropped_port=None, firmware='', user_result=None):
    seen = Seen(state, request, {'facts': facts, 'keys': keys, 'sudo': sudo, 'nameservers': nameservers,
                                 'rendered': rendered, 'probed': probed, 'dropped_port': dropped_port,
                                 'firmware': firmware, 'user_result': user_result})
    return [evaluate(name, function, seen) for name, function in CHECKS]


class FilterModule:
    def filters(self):
        return {'verify_checks': verify_checks}
