# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API file systems of a build chroot: what to mount, what is mounted, and how to undo it.

Every mount carries the source name ``osimage-<build id>``, so a later cleanup can tell the
mounts of a killed build from anything else on the host.
"""

from __future__ import annotations

import os
import signal
import time

# (path in the tree, type, options), mounted in this order and unmounted in reverse.
API_MOUNTS = (
    ('proc', 'proc', 'nosuid,nodev,noexec'),
    ('sys', 'sysfs', 'ro,nosuid,nodev,noexec'),
    ('dev', 'tmpfs', 'mode=755,nosuid,size=16m'),
    ('dev/pts', 'devpts', 'newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec'),
    ('dev/shm', 'tmpfs', 'mode=1777,nosuid,nodev'),
    ('run', 'tmpfs', 'mode=755,nosuid,nodev'),
)
# A private /dev: only these devices exist in the chroot, never the host's disks.
DEVICES = (('null', 1, 3), ('zero', 1, 5), ('full', 1, 7), ('random', 1, 8), ('urandom', 1, 9), ('tty', 5, 0))
DEV_LINKS = (('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'), ('stdout', '/proc/self/fd/1'),
             ('stderr', '/proc/self/fd/2'), ('ptmx', 'pts/ptmx'))
TAG = 'osimage-'


def _unescape(field):
    return field.replace('\\040', ' ').replace('\\011', '\t').replace('\\012', '\n').replace('\\134', '\\')


def mounts():
    """[(mount point, source, fstype)] of this mount namespace, in mount order."""
    found = []
    with open('/proc/self/mountinfo', encoding='utf-8', errors='surrogateescape') as f:
        for line in f:
            fields = line.split()
            sep = fields.index('-')
            found.append((_unescape(fields[4]), _unescape(fields[sep + 2]), fields[sep + 1]))
    return found


def mounts_under(root):
    """Mount points at or below ``root``, deepest first."""
    root = os.path.realpath(root)
    inside = [m for m, _src, _t in mounts() if m == root or m.startswith(root + '/')]
    return sorted(set(inside), key=lambda m: (m.count('/'), m), reverse=True)


def parent_of(pid):
    """The parent PID of ``pid`` (0 when it is gone)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def descendants(pid):
    """PIDs of every process below ``pid``."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            children.setdefault(parent_of(int(entry)), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _link(pid, name):
    try:
        return os.readlink('/proc/%s/%s' % (pid, name))
    except OSError:
        return None


def _args(pid):
    try:
        with open('/proc/%s/cmdline' % pid, 'rb') as f:
            return f.read().decode('utf-8', 'surrogateescape').split('\0')
    except OSError:
        return []


def _inside(path, root):
    return path == root or path.startswith(root + '/')


def pids_in(root):
    """PIDs of processes inside ``root``: those chrooted to ``root`` or below, and every process of a sandbox
    (module_utils/sandbox.py) started on it.

    A sandboxed process's root link reads ``/`` from here, so a sandbox is found by its launcher: a process
    of our own PID namespace (which nothing inside a sandbox can join) that made a new one for its
    children and names ``root`` in its arguments. Every process of that new namespace is inside."""
    root = os.path.realpath(root)
    own_ns = _link('self', 'ns/pid')
    found, links, sandboxes = [], {}, set()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        proc_root, pid_ns = _link(entry, 'root'), _link(entry, 'ns/pid')
        links[int(entry)] = pid_ns
        if proc_root and _inside(proc_root, root):
            found.append(int(entry))
        elif pid_ns == own_ns and _link(entry, 'ns/pid_for_children') not in (None, own_ns):
            if any(a.startswith('/') and _inside(os.path.realpath(a), root) for a in _args(entry)[1:]):
                found.append(int(entry))
                sandboxes.add(_link(entry, 'ns/pid_for_children'))
    return sorted(set(found) | {pid for pid, ns in links.items() if ns in sandboxes})


def kill_processes(root, grace=5.0):
    """Stop every process running inside ``root``: SIGTERM, then SIGKILL after ``grace`` seconds."""
    pids = pids_in(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = pids_in(root)
        if not pids:
            break
    return pids


def populate_dev(dev_fd):
    """Create the device nodes and links of a private /dev (``dev_fd`` is an fd of the new tmpfs)."""
    for name, major, minor in DEVICES:
        os.mknod(name, 0o666 | 0o020000, os.makedev(major, minor), dir_fd=dev_fd)
        os.chmod(name, 0o666, dir_fd=dev_fd)
    for name, target in DEV_LINKS:
        os.symlink(target, name, dir_fd=dev_fd)
    for name in ('pts', 'shm'):
        os.mkdir(name, 0o755, dir_fd=dev_fd)
