"""Print, as one JSON document, the state of a running system that osimage's verify checks look at.

Runs inside the guest with its own python3 (one process instead of one Ansible task per fact, which
matters under software emulation). Arguments: the units that must be enabled, then after ``--`` the
units of a platform's guest agent, which must be installed (enabled, or static when udev starts them).
"""
import glob
import json
import os
import socket
import subprocess
import sys


def out(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
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


def proxy_files():
    paths = glob.glob('/etc/apt/apt.conf.d/*') + ['/etc/environment']
    return [p for p in paths if os.path.isfile(p) and 'proxy' in read(p).lower()]


def unit_states(units):
    """What systemctl is-enabled says of each unit (enabled, static, disabled...; '' when there is no such unit)."""
    return {unit: out(['systemctl', 'is-enabled', unit]) for unit in units}


def main(units, agent_units=()):
    root = json.loads(out(['findmnt', '--json', '--output', 'SOURCE,FSTYPE,OPTIONS,UUID', '--mountpoint', '/'])
                      or '{"filesystems": [{}]}')['filesystems'][0]
    routes = json.loads(out(['ip', '-j', 'route', 'show', 'default']) or '[]')
    state = {
        'state': out(['systemctl', 'is-system-running']),
        'failed_units': out(['systemctl', '--failed', '--no-legend', '--plain']).splitlines(),
        'root': root,
        'files': {p: read(p) for p in ('/etc/fstab', '/etc/machine-id', '/etc/resolv.conf')},
        'btime': btime(),
        'host_keys': {p: os.stat(p).st_mtime for p in glob.glob('/etc/ssh/ssh_host_*_key')},
        'proxy_files': proxy_files(),
        'package_leftovers': glob.glob('/var/cache/apt/archives/*.deb') + glob.glob('/var/lib/apt/lists/*_Packages*'),
        'enabled': dict(zip(units, out(['systemctl', 'is-enabled'] + units).splitlines())) if units else {},
        'hostname': socket.gethostname(),
        'default_routes': [r.get('dev') for r in routes],
        'cmdline': read('/proc/cmdline').split(),
        'agent_units': unit_states(list(agent_units)),
    }
    json.dump(state, sys.stdout)


if __name__ == '__main__':
    ARGS = sys.argv[1:]
    SPLIT = ARGS.index('--') if '--' in ARGS else len(ARGS)
    main(ARGS[:SPLIT], ARGS[SPLIT + 1:])
