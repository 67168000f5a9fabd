# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find and release what a build left on the host, by the build id recorded on each resource.

Mounts carry the source name ``osimage-<id>``, the boot test's domain is ``osimage-<id>`` with its run
directory ``<work_dir>/boot-osimage-<id>``, and the build directory is ``<work_dir>/<id>``. Nothing that
does not carry the id is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from ansible_collections.osimage.builder.plugins.module_utils import chroot
from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot


def release(build_id, work_dir):
    """Release every resource of build ``build_id``; return a list of what was released."""
    tag = chroot.TAG + build_id
    released = []
    if libvirt_boot.HAS_LIBVIRT:
        try:
            if libvirt_boot.stop(tag, os.path.join(work_dir, 'boot-' + tag)):
                released.append('domain ' + tag)
        except libvirt_boot.BootError:
            pass
    ours = [mnt for mnt, source, _type in chroot.mounts() if source == tag]
    trees = {os.path.dirname(m) if os.path.basename(m) in ('proc', 'sys', 'dev', 'run') else None for m in ours}
    for tree in filter(None, trees):
        chroot.kill_processes(tree)
    for mnt in sorted(set(ours), key=lambda m: m.count('/'), reverse=True):
        if subprocess.run(['umount', mnt], capture_output=True, check=False).returncode != 0:
            subprocess.run(['umount', '--lazy', mnt], capture_output=True, check=False)
        released.append('mount ' + mnt)
    build_dir = os.path.join(work_dir, build_id)
    if os.path.isdir(build_dir) and not any(m.startswith(build_dir + '/') for m, _s, _t in chroot.mounts()):
        shutil.rmtree(build_dir)
        released.append('directory ' + build_dir)
    return released
