# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One command runner for every osimage module: argv lists only, never a shell."""

from __future__ import annotations

# Which Debian package provides each host tool, so a missing one is named with its fix.
PROVIDERS = {
    'mmdebstrap': 'mmdebstrap',
    'debootstrap': 'debootstrap',
    'sfdisk': 'fdisk',
    'mke2fs': 'e2fsprogs',
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

    def run(self, argv, data=None, check=True, what=None, **kwargs):
        """Run argv (argv[0] is looked up on PATH) and return (rc, stdout, stderr)."""
        argv = [self.which(argv[0])] + [str(a) for a in argv[1:]]
        rc, out, err = self.module.run_command(argv, data=data, binary_data=data is not None, **kwargs)
        if check and rc != 0:
            self.fail(argv, rc, out, err, what)
        return rc, out, err

    def fail(self, argv, rc, out, err, what=None):
        tail = (err or out or '').strip().splitlines()[-20:]
        msg = '%s failed (exit %s)' % (what or argv[0].rsplit('/', 1)[-1], rc)
        if tail:
            msg += ': ' + '\n'.join(tail)
        self.module.fail_json(msg=msg, cmd=argv, rc=rc, stdout=out, stderr=err)
