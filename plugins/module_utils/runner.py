# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One command runner for every osimage module: argv lists only, never a shell."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import subprocess
import threading

from ansible_collections.osimage.builder.plugins.module_utils import apt_fetch, atomic, stamp

# Which Debian package provides each host tool, so a missing one is named with its fix.
PROVIDERS = {
    'mmdebstrap': 'mmdebstrap',
    'debootstrap': 'debootstrap',
    'sfdisk': 'fdisk',
    'mke2fs': 'e2fsprogs',
    'e2fsck': 'e2fsprogs',
    'blkid': 'util-linux',
    'xfs_repair': 'xfsprogs',
    'btrfs': 'btrfs-progs',
    'qemu-img': 'qemu-utils',
    'mount': 'mount',
    'umount': 'mount',
    'dpkg-query': 'dpkg',
    'cp': 'coreutils',
    'xorriso': 'xorriso',
    'mksquashfs': 'squashfs-tools',
    'mkfs.vfat': 'dosfstools',
    'mmd': 'mtools',
    'mcopy': 'mtools',
    'chroot': 'coreutils',
    'extlinux': 'extlinux',
    'rpm': 'rpm',
    'dnf': 'dnf',
    'zypper': 'zypper',
}


NO_SPACE = 'No space left on device'
# apt refuses before it writes: "E: You don't have enough free space in /ROOT/var/cache/apt/archives/."
APT_NO_SPACE = "You don't have enough free space in "


def says_full(text):
    """Whether a tool's output ``text`` says the disk was full."""
    return NO_SPACE in text or APT_NO_SPACE in text


def fullest_directory(paths):
    """'DIR has N MiB free' for the directory among ``paths`` (absolute paths, or their parent directories)
    with the least free space: which one a command that ran out of space was writing into."""
    free = {}
    for path in paths:
        directory = path if os.path.isdir(path) else os.path.dirname(path)
        if path.startswith('/') and os.path.isdir(directory):
            st = os.statvfs(directory)
            free[directory] = st.f_bavail * st.f_frsize
    if not free:
        return None
    directory = min(free, key=free.get)
    return '%s has %d MiB free' % (directory, free[directory] // (1024 * 1024))


LINE_END = re.compile(rb'[\r\n]')


def stream(argv, lines, data=None, environ_update=None, cwd=None):
    """Run ``argv`` like AnsibleModule.run_command (``data`` on stdin as is, the environment updated by
    ``environ_update``) and return (rc, stdout, stderr), calling ``lines`` with each non-empty line of stdout or
    stderr as it is printed (a carriage return, which progress meters print, ends a line too)."""
    env = dict(os.environ, **(environ_update or {}))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    if data is not None:
        def feed():
            with proc.stdin:
                proc.stdin.write(data if isinstance(data, bytes) else data.encode('utf-8'))
        threading.Thread(target=feed, daemon=True).start()
    output = {proc.stdout: b'', proc.stderr: b''}
    pending = dict.fromkeys(output, b'')
    with selectors.DefaultSelector() as selector:
        for pipe in output:
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            for key, _mask in selector.select():
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    chunk = b'\n'  # the last line, unended
                else:
                    output[key.fileobj] += chunk
                *complete, pending[key.fileobj] = LINE_END.split(pending[key.fileobj] + chunk)
                for line in complete:
                    if line.strip():
                        lines(line.decode('utf-8', 'replace'))
    rc = proc.wait()
    return rc, output[proc.stdout].decode('utf-8', 'surrogateescape'), output[proc.stderr].decode('utf-8', 'surrogateescape')


class Runner:
    """Runs host commands for a module and fails the module with a clear message on error."""

    def __init__(self, module):
        self.module = module
        self._paths = {}

    def which(self, name):
        """Absolute path of a host tool, or fail naming the package that provides it."""
        if name not in self._paths:
            path = self.module.get_bin_path(name, required=False, opt_dirs=['/usr/sbin', '/sbin'])
            if not path:
                package = PROVIDERS.get(name, name)
                self.module.fail_json(msg="'%s' is not installed on the build host; install the '%s' package"
                                          % (name, package))
            self._paths[name] = path
        return self._paths[name]

    def run(self, argv, data=None, check=True, what=None, lines=None, **kwargs):
        """Run argv (argv[0] is looked up on PATH) and return (rc, stdout, stderr); with ``lines``, each line of its
        output is also passed to ``lines`` as it comes (see stream)."""
        argv = [self.which(argv[0])] + [str(a) for a in argv[1:]]
        if lines:
            rc, out, err = stream(argv, lines, data=data, **kwargs)
        else:
            rc, out, err = self.module.run_command(argv, data=data, binary_data=data is not None, **kwargs)
        if check and rc != 0:
            self.fail(argv, rc, out, err, what)
        return rc, out, err

    @contextlib.contextmanager
    def artifact(self, dest):
        """Yield the temporary name beside ``dest`` to write an artifact under (stamp.publish renames it into
        place); whatever is left of it is removed, and a full disk while writing fails naming the directory."""
        tmp = atomic.temp_name(dest)
        try:
            yield tmp
        except OSError as exc:
            self.fail_if_no_space(exc, dest)
            raise
        finally:
            stamp.discard(tmp)

    def fail_if_no_space(self, exc, path):
        """Fail naming the directory and its free space when ``exc``, raised writing ``path``, is a full disk."""
        if getattr(exc, 'errno', None) == errno.ENOSPC:
            self.module.fail_json(msg='writing %s: out of space: %s; free space there or give the build another '
                                      'directory' % (path, fullest_directory([path])))

    def fail(self, argv, rc, out, err, what=None):
        tail = (err or out or '').strip().splitlines()[-20:]
        msg = '%s failed (exit %s)' % (what or argv[0].rsplit('/', 1)[-1], rc)
        full = says_full((err or '') + (out or '')) and fullest_directory(argv[1:])
        fetch = apt_fetch.explain('%s\n%s' % (err or '', out or ''))
        if full:
            msg += ': out of space: %s; free space there or give the build another directory' % full
        elif fetch:
            msg += ': ' + fetch
        if tail:
            msg += ': ' + '\n'.join(tail)
        self.module.fail_json(msg=msg, cmd=argv, rc=rc, stdout=out, stderr=err)
