"""Print, as one JSON document, the state of a running system that osimage's verify checks look at.

Runs inside the guest with its own python3 (one process instead of one Ansible task per fact, which
matters under software emulation). Arguments: the units that must be enabled.
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
def global_dns_servers():
    """systemd-resolved's global DNS servers (the configured ones, not the per-link ones from DHCP)."""
    for line in out(['resolvectl', 'dns']).splitlines():
        if line.startswith('Global:'):
            return line.split()[1:]
    return []


def apt_state():
    """Extra apt sources, keys, pins, and what apt says when it reads its preferences."""
    policy = subprocess.run(['apt-cache', 'policy'], capture_output=True, text=True, check=False)
    return {
        'sources': {p: read(p) for p in glob.glob('/etc/apt/sources.list.d/*.sources')},
        'keyrings': sorted(glob.glob('/etc/apt/keyrings/*')),
        'preferences': {p: read(p) for p in glob.glob('/etc/apt/preferences.d/*')},
        'policy_errors': [line for line in policy.stderr.splitlines() if line.startswith(('E:', 'W:'))]
        + ([] if policy.returncode == 0 else ['apt-cache policy exited with %d' % policy.returncode]),
    }


def main(units):
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
        'layout': layout(),
        'dns_servers': global_dns_servers(),
        'ntp_servers': out(['timedatectl', 'show-timesync', '--property=SystemNTPServers', '--value']).split(),
        'apt': apt_state(),
    }
    json.dump(state, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1:])
