"""Print, as one JSON document, the state of a running system that osimage's verify checks look at.

Runs inside the guest with its own python3 (one process instead of one Ansible task per fact, which
matters under software emulation). Arguments: the units that must be enabled, ``--unit=U`` for each other
unit whose state to report, ``--path=P`` for each path whose type, owner, mode and checksum to report,
``--agent=U`` for each unit of a platform's guest agent, which must be installed (enabled, or static when
udev starts it). What differs per family comes from the distro table as arguments too: ``--proxy-glob=G``
(files where a build proxy would show), ``--leftover-glob=G`` (downloaded packages or lists),
``--keyboard-file=P``, ``--read-glob=NAME=G`` (the files' text as ``read[NAME]``) and
``--probe=NAME=ARGV`` (a JSON argv whose rc, stdout and stderr are ``probes[NAME]``).
It first waits for the end of start-up; ``seconds`` says how long that and each group of facts took.
"""
import glob
import grp
import hashlib
import json
import pwd
import stat
import os
import socket
import subprocess
import sys
import time


def out(argv, timeout=120):
    """The command's standard output, or '' when it is not installed or hangs."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ''
    return proc.stdout.strip()


def read(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def btime():
    for line in read('/proc/stat').splitlines():
        if line.startswith('btime '):
            return int(line.split()[1])
    return 0


def globbed(patterns):
    return [p for pattern in patterns for p in sorted(glob.glob(pattern))]


def proxy_files(patterns):
    return [p for p in globbed(patterns) + ['/etc/environment'] if os.path.isfile(p) and 'proxy' in read(p).lower()]


def layout():
    """Mounted file systems, active swap, LVM volumes, the root file system's and its disk's sizes, firmware."""
    mounts = json.loads(out(['findmnt', '--json', '--real', '--list', '--output', 'TARGET,SOURCE,FSTYPE,OPTIONS,UUID'])
                        or '{"filesystems": []}')['filesystems']
    swaps = [line.split()[0] for line in read('/proc/swaps').splitlines()[1:] if line.strip()]
    lvs = json.loads(out(['lvs', '--reportformat', 'json', '-o', 'lv_name,vg_name,lv_active']) or '{"report": [{"lv": []}]}')
    root = os.statvfs('/')
    disk = out(['lsblk', '--noheadings', '--nodeps', '--bytes', '--output', 'SIZE', '/dev/vda'])
    return {'mounts': mounts, 'swaps': swaps, 'lvs': lvs['report'][0]['lv'],
            'root_bytes': root.f_blocks * root.f_frsize, 'disk_bytes': int(disk or 0),
            'efi': os.path.isdir('/sys/firmware/efi'),
            'secure_boot': read_bytes(glob.glob('/sys/firmware/efi/efivars/SecureBoot-*'))[-1:] == b'\x01'}


def read_bytes(paths):
    try:
        with open(paths[0], 'rb') as f:
            return f.read()
    except (OSError, IndexError):
        return b''


def probe(argv):
    """rc, stdout and stderr of a command (rc 127 when it is not there)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {'rc': 127, 'stdout': '', 'stderr': str(exc)}
    return {'rc': proc.returncode, 'stdout': proc.stdout.strip(), 'stderr': proc.stderr}


def values(args, option):
    """The values of every ``--OPTION=VALUE`` argument, in order."""
    prefix = '--%s=' % option
    return [a[len(prefix):] for a in args if a.startswith(prefix)]


def key_values(text):
    """KEY=value lines (shell style, quotes dropped) as a dict."""
    pairs = {}
    for line in text.splitlines():
        if '=' in line and not line.lstrip().startswith('#'):
            key, value = line.split('=', 1)
            pairs[key.strip()] = value.strip().strip('"\'')
    return pairs


def units_state(units):
    """systemctl is-enabled and is-active of each unit, one unit a call ('' when there is no such unit)."""
    return {u: {'enabled': out(['systemctl', 'is-enabled', u]), 'active': out(['systemctl', 'is-active', u])}
            for u in units}


def path_state(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    kind = 'link' if stat.S_ISLNK(st.st_mode) else 'directory' if stat.S_ISDIR(st.st_mode) else 'file'
    info = {'state': kind, 'mode': '%04o' % stat.S_IMODE(st.st_mode)}
    try:
        info['owner'] = pwd.getpwuid(st.st_uid).pw_name
        info['group'] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        info['owner'], info['group'] = str(st.st_uid), str(st.st_gid)
    if kind == 'link':
        info['target'] = os.readlink(path)
    elif kind == 'file':
        with open(path, 'rb') as f:
            info['sha256'] = hashlib.sha256(f.read()).hexdigest()
    return info


def firewall():
    """The input hook's policy and the ports its rules accept by destination port alone, per protocol."""
    text = out(['nft', '-j', 'list', 'ruleset'])
    if not text:
        return None
    try:
        ruleset = json.loads(text).get('nftables', [])
    except ValueError:
        return None
    inputs, ports = set(), {'tcp': [], 'udp': []}
    policy = None
    for item in ruleset:
        chain = item.get('chain')
        if chain and chain.get('hook') == 'input':
            inputs.add((chain['family'], chain['table'], chain['name']))
            policy = chain.get('policy')
    for item in ruleset:
        rule = item.get('rule')
        if not rule or (rule['family'], rule['table'], rule['chain']) not in inputs:
            continue
        exprs = rule.get('expr', [])
        matches = [e['match'] for e in exprs if 'match' in e]
        if not any('accept' in e for e in exprs) or len(matches) != 1:
            continue
        left, right = matches[0].get('left', {}), matches[0].get('right')
        payload = left.get('payload', {}) if isinstance(left, dict) else {}
        if payload.get('field') == 'dport' and payload.get('protocol') in ports:
            values = right['set'] if isinstance(right, dict) and 'set' in right else [right]
            ports[payload['protocol']] += [v for v in values if isinstance(v, int)]
    return {'input_policy': policy, 'accepted': {k: sorted(set(v)) for k, v in ports.items()}}


def cloud_init():
    if not os.path.exists('/usr/bin/cloud-init'):
        return None
    status = out(['cloud-init', 'status', '--wait'], timeout=300)
    try:
        with open('/run/cloud-init/status.json', encoding='utf-8') as f:
            datasource = json.load(f).get('v1', {}).get('datasource')
    except (OSError, ValueError):
        datasource = None
    return {'status': status.replace('status:', '').strip(), 'datasource': datasource}


def sshd_settings():
    wanted = ('port', 'passwordauthentication', 'permitrootlogin', 'kbdinteractiveauthentication')
    settings = {}
    for line in out(['/usr/sbin/sshd', '-T']).splitlines():
        key, _sep, value = line.partition(' ')
        if key in wanted:
            settings.setdefault(key, value)
    return settings


def system_settings(keyboard_file):
    localtime = os.path.realpath('/etc/localtime') if os.path.exists('/etc/localtime') else ''
    return {
        'timezone': localtime.split('/usr/share/zoneinfo/', 1)[-1] if localtime else 'Etc/UTC',
        'timezone_abbrev': out(['date', '+%Z']),
        'locale': key_values(read('/etc/locale.conf')),
        'locales_available': out(['locale', '-a']).splitlines(),
        'keyboard': key_values(read(keyboard_file)) if keyboard_file else {},
        'apparmor': {'enabled': read('/sys/module/apparmor/parameters/enabled').strip(),
                     'profiles': len(read('/sys/kernel/security/apparmor/profiles').splitlines())},
        'firewall': firewall(),
        'cloud_init': cloud_init(),
        'sshd': sshd_settings(),
    }


def timed(seconds, group, gather):
    """What ``gather()`` returns; the seconds it took go to ``seconds[group]``."""
    started = time.monotonic()
    found = gather()
    seconds[group] = round(time.monotonic() - started, 2)
    return found


def main(args):
    units = [a for a in args if not a.startswith('--')]
    reads = dict(v.split('=', 1) for v in values(args, 'read-glob'))
    probes = dict(v.split('=', 1) for v in values(args, 'probe'))
    seconds = {}
    # Waits for the end of start-up first (no module does); the state it ends in, or the one it is in after 240 s.
    state = {'state': timed(seconds, 'start-up', lambda: out(['systemctl', 'is-system-running', '--wait'], timeout=240)
                            or out(['systemctl', 'is-system-running']))}
    state.update(timed(seconds, 'units', lambda: {
        'failed_units': out(['systemctl', '--failed', '--no-legend', '--plain']).splitlines(),
        'enabled': dict(zip(units, out(['systemctl', 'is-enabled'] + units).splitlines())) if units else {},
        'units': units_state(values(args, 'unit')),
        'agent_units': units_state(values(args, 'agent')),
    }))
    state.update(timed(seconds, 'files', lambda: {
        'root': json.loads(out(['findmnt', '--json', '--output', 'SOURCE,FSTYPE,OPTIONS,UUID,PARTUUID,LABEL,PARTLABEL',
                                '--mountpoint', '/']) or '{"filesystems": [{}]}')['filesystems'][0],
        'files': {p: read(p) for p in ('/etc/fstab', '/etc/machine-id', '/etc/resolv.conf')},
        'btime': btime(),
        'host_keys': {p: os.stat(p).st_mtime for p in glob.glob('/etc/ssh/ssh_host_*_key')},
        'proxy_files': proxy_files(values(args, 'proxy-glob')),
        'package_leftovers': globbed(values(args, 'leftover-glob')),
        'paths': {p: path_state(p) for p in values(args, 'path')},
        'hostname': socket.gethostname(),
        'read': {name: {p: read(p) for p in globbed([pattern])} for name, pattern in reads.items()},
        'cmdline': read('/proc/cmdline').split(),
    }))
    state['default_routes'] = timed(seconds, 'network', lambda: [
        r.get('dev') for r in json.loads(out(['ip', '-j', 'route', 'show', 'default']) or '[]')])
    state['layout'] = timed(seconds, 'layout', layout)
    state['probes'] = timed(seconds, 'probes', lambda: {name: probe(json.loads(argv)) for name, argv in probes.items()})
    state.update(timed(seconds, 'settings', lambda: system_settings((values(args, 'keyboard-file') or [''])[-1])))
    state['seconds'] = seconds
    json.dump(state, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1:])
