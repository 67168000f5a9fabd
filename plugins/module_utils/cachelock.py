# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An exclusive lock on a cache entry, so parallel builds fill it once and never read it half made.

``osimage clean`` removes the lock file of an entry a killed build left (while holding its lock), so a lock is
only held when the file locked is still the one at the path: otherwise it is taken again on the new file."""

from __future__ import annotations

import fcntl
import os


def _same_file(fd, path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


class CacheLock:
    """Context manager holding ``flock(LOCK_EX)`` on ``path``; a None path locks nothing."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        while self.path:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, self.path):
                self.fd = fd
                break
            os.close(fd)  # removed or replaced while we waited: the lock is on a file nobody else will take
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False


def try_lock(path):
    """An fd holding the lock of ``path`` if it is free (None when another process holds it or it is gone)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if not _same_file(fd, path):
        os.close(fd)
        return None
    return fd
