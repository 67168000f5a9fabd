# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk inside an archive a platform imports (an OVA, a GCE image tarball), unpacked to be booted."""

from __future__ import annotations

import os
import tarfile


def _member(tar, image):
    """The one disk member of an OVA (its .vmdk) or of a GCE tarball (disk.raw)."""
    wanted = [m for m in tar.getmembers()
              if m.isreg() and '/' not in m.name and (m.name.endswith('.vmdk') or m.name == 'disk.raw')]
    if len(wanted) != 1:
        raise ValueError('%s does not hold exactly one disk (a .vmdk or disk.raw): %s'
                         % (image, [m.name for m in tar.getmembers()]))
    return wanted[0]


def bootable_disk(image, run_dir):
    """``image`` itself, or for an .ova or .tar.gz the disk it holds, unpacked (sparse) into ``run_dir``."""
    if not image.endswith(('.ova', '.tar.gz')):
        return image
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    with tarfile.open(image, 'r:*') as tar:
        member = _member(tar, image)
        tar.extract(member, run_dir, set_attrs=False)
    return os.path.join(run_dir, member.name)
