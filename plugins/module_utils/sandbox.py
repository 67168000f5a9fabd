# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build sandbox: run a command inside an image root tree so that it cannot reach the host.

``python3 -IS sandbox.py ROOT [COMMAND [ARG]...]`` works like ``chroot ROOT COMMAND...`` (so that mmdebstrap
and debootstrap can use it as their ``chroot``), but the command runs in new mount, PID, IPC and UTS namespaces:

- the tree becomes ``/`` by pivot_root and the host's file systems are detached, so that no path
  (``/proc/1/root``, a second chroot's ``..``) leads back to the host;
- a fresh ``/proc`` shows only the sandbox's processes, with ``/proc/sys`` and ``/proc/sysrq-trigger``
  read-only, and ``/sys`` is a fresh read-only sysfs;
- the capability bounding set lacks what reaches past those namespaces (DROPPED_CAPS);
- when the command ends, or the launcher dies, every process it left behind is killed.

The network is the host's: package managers download inside the tree. Standard library only: this file also
runs as a script, outside Ansible.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x04000000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP = 1, 24
# glibc has no pivot_root(); its system call number per host machine.
PIVOT_ROOT = {'x86_64': 155, 'i686': 217, 'aarch64': 41, 'riscv64': 41, 'loongarch64': 41, 'ppc64le': 203,
              's390x': 217, 'armv7l': 218}
# Capabilities a command in the tree has no use for in a package install and that act on the host past the
# namespaces (linux/capability.h numbers): reading any file by handle, network configuration and raw
# packets on the host's network, modules, raw I/O, tracing, accounting, mounting and every other
# CAP_SYS_ADMIN operation, reboot, the clock, device nodes (a node of a host disk is the host disk),
# audit, MAC policy, the kernel log, BPF and perf.
DROPPED_CAPS = {'dac_read_search': 2, 'net_admin': 12, 'net_raw': 13, 'sys_module': 16, 'sys_rawio': 17,
                'sys_ptrace': 19, 'sys_pacct': 20, 'sys_admin': 21, 'sys_boot': 22, 'sys_time': 25, 'mknod': 27,
                'audit_control': 30, 'mac_override': 32, 'mac_admin': 33, 'syslog': 34, 'wake_alarm': 35,
                'block_suspend': 36, 'audit_read': 37, 'perfmon': 38, 'bpf': 39, 'checkpoint_restore': 40}
READ_ONLY_PROC = ('sys', 'sysrq-trigger', 'irq', 'bus')
EXIT_SETUP = 125  # as chroot(8): the sandbox itself failed

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(Exception):
    """The sandbox could not be set up."""


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError('%s: %s' % (what, os.strerror(err)))


def _mount(source, target, fstype, flags):
    enc = [None if v is None else v.encode() for v in (source, target, fstype)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None), 'mount %s' % target)


def _plain_dir(path):
    """A directory that is not a symlink (a symlink in the tree may point anywhere)."""
    return os.path.isdir(path) and not os.path.islink(path)


def _read_only_bind(path):
    _mount(path, path, None, MS_BIND | MS_REC)
    _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def enter(root):
    """Make ``root`` this process's ``/`` with a fresh /proc and /sys; the caller is PID 1 of a new namespace."""
    with open('/proc/sys/kernel/cap_last_cap', encoding='ascii') as f:  # the host's, before the pivot
        last = int(f.read())
    _mount(None, '/', None, MS_REC | MS_PRIVATE)  # nothing below propagates to the host
    _mount(root, root, None, MS_BIND | MS_REC)    # pivot_root needs a mount point; keeps chroot_env's mounts
    proc = os.path.join(root, 'proc')
    if _plain_dir(proc):
        _mount('proc', proc, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for name in READ_ONLY_PROC:
            if os.path.exists(os.path.join(proc, name)):
                _read_only_bind(os.path.join(proc, name))
    sys_dir = os.path.join(root, 'sys')
    if _plain_dir(sys_dir):
        while os.path.ismount(sys_dir):  # the tree's (rw, with submounts, or the same superblock): detach here
            _check(_libc.umount2(sys_dir.encode(), MNT_DETACH), 'detaching %s' % sys_dir)
        _mount('sysfs', sys_dir, 'sysfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise SandboxError('pivot_root: no system call number known for %s' % os.uname().machine)
    _check(_libc.syscall(number, b'.', b'.'), 'pivot_root %s' % root)
    _check(_libc.umount2(b'.', MNT_DETACH), 'detaching the host root')
    os.chdir('/')
    for cap in sorted(DROPPED_CAPS.values()):
        if cap <= last:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), 'dropping capability %d' % cap)


def command(root, launcher=None):
    """The argv prefix that runs a command in the sandbox on ``root``, like ``['chroot', root]``. ``launcher`` is
    a copy made by install(): in a module, this file is inside Ansible's zip, not on disk."""
    return ([launcher] if launcher else [sys.executable, '-IS', os.path.abspath(__file__)]) + [root]


def install(directory, name='chroot'):
    """Write this launcher as the executable ``directory/name`` (run by this Python) and return its path; with a
    ``directory`` first in PATH, mmdebstrap's and debootstrap's ``chroot`` is the sandbox."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('#!%s -IS\n' % sys.executable + __loader__.get_source(__name__))
    os.chmod(path, 0o700)
    return path


def _exit_code(status):
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _run(argv):
    """In PID 1: run ``argv`` as a child, reap every orphan, and exit with the command's status."""
    child = os.fork()
    if child == 0:
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        # Not os.execvp: it imports from the host's standard library, which is gone after the pivot.
        dirs = [''] if '/' in argv[0] else os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin').split(':')
        error = None
        for directory in dirs:
            try:
                os.execv(os.path.join(directory, argv[0]), argv)
            except OSError as exc:
                error = error if isinstance(exc, FileNotFoundError) and error else exc
        sys.stderr.write('osimage sandbox: cannot run %s: %s\n' % (argv[0], error.strerror))
        os._exit(127 if isinstance(error, FileNotFoundError) else 126)
    while True:
        pid, status = os.wait()
        if pid == child:
            os._exit(_exit_code(status))  # PID 1 leaving kills whatever the command left running


def main(args):
    if not args or args[0] in ('-h', '--help'):
        sys.stderr.write('usage: sandbox.py ROOT [COMMAND [ARG]...]\n')
        return EXIT_SETUP
    root = os.path.realpath(args[0])
    argv = args[1:] or ['/bin/sh', '-i']
    for sig in (signal.SIGINT, signal.SIGQUIT):  # the command decides; the launcher waits for it
        signal.signal(sig, signal.SIG_IGN)
    try:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), 'unshare')
    except SandboxError as exc:
        sys.stderr.write('osimage sandbox: %s\n' % exc)
        return EXIT_SETUP
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), 'prctl')
            enter(root)
        except (SandboxError, OSError) as exc:
            sys.stderr.write('osimage sandbox: %s\n' % exc)
            os._exit(EXIT_SETUP)
        _run(argv)
    _pid, status = os.waitpid(pid, 0)
    return _exit_code(status)


if __name__ == '__main__':
    raise SystemExit(main(sys.argv[1:]))
