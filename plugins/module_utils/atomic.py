# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic writes: every artifact, report and stamp is written under a temporary name beside its destination and
renamed over it, so a reader never sees half a file and a failed step leaves the previous one intact. The
temporary names (DEST.tmp-PID) are what leftovers.release removes after a killed build."""

from __future__ import annotations

import contextlib
import os


def temp_dir_prefix(kind):
    """The prefix of this process's private temporary directories of ``kind``: osimage-KIND-PID-, which
    leftovers.release_temp_dirs removes once the process is gone."""
    return 'osimage-%s-%d-' % (kind, os.getpid())


def temp_name(dest):
    """The temporary name ``dest`` is written under by this process."""
    return '%s.tmp-%d' % (dest, os.getpid())


@contextlib.contextmanager
def replacing(dest):
    """Yield a temporary path beside ``dest`` to write; rename it over ``dest`` if the block ends without an
    exception, remove it otherwise."""
    tmp = temp_name(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_text(dest, text):
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    with replacing(dest) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
