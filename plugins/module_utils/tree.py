# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File operations inside an image root tree that never follow a symlink out of it.

An image's packages may make any path a symlink to an absolute host path (``/etc/resolv.conf``
pointing at ``/run/...``). Every operation here walks the path one component at a time with
``O_NOFOLLOW`` relative to the tree, so a symlink is treated as a file of its own, never followed.
"""

from __future__ import annotations

import errno
import os
import stat

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeEscape(Exception):
    """A path inside the tree would leave it (a symlinked directory or '..')."""


def _parts(relpath):
    parts = [p for p in relpath.strip('/').split('/') if p not in ('', '.')]
    if '..' in parts:
        raise TreeEscape("'%s' contains '..'" % relpath)
    return parts


def open_dir(root, relpath, create=False, mode=0o755):
    """Return an fd of directory ``relpath`` inside ``root``; a symlink on the way is an error."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for part in _parts(relpath):
            try:
                nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, mode, dir_fd=fd)
                nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise TreeEscape("'%s' in the image is not a plain directory (component '%s')"
                                     % (relpath, part)) from exc
                raise
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def split(relpath):
    parts = _parts(relpath)
    if not parts:
        raise TreeEscape('the tree root itself is not a file')
    return '/'.join(parts[:-1]), parts[-1]


def snapshot(root, relpath):
    """What is at a path, to restore it later: {'kind': absent|link|file, ...}."""
    parent, name = split(relpath)
    fd = open_dir(root, parent)
    try:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return {'kind': 'absent'}
        if stat.S_ISLNK(st.st_mode):
            return {'kind': 'link', 'target': os.readlink(name, dir_fd=fd)}
        if stat.S_ISREG(st.st_mode):
            ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            with os.fdopen(ffd, 'rb') as f:
                content = f.read()
            return {'kind': 'file', 'content': content.decode('latin-1'), 'mode': stat.S_IMODE(st.st_mode)}
        raise TreeEscape("'%s' in the image is neither a file nor a symlink" % relpath)
    finally:
        os.close(fd)


def write_file(root, relpath, data, mode=0o644):
    """Atomically replace ``relpath`` with a regular file holding ``data`` (a symlink there is replaced, not followed)."""
    parent, name = split(relpath)
    fd = open_dir(root, parent, create=True)
    tmp = '.%s.osimage-tmp' % name
    try:
        try:
            os.unlink(tmp, dir_fd=fd)
        except FileNotFoundError:
            pass
        ffd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
        with os.fdopen(ffd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            f.write(data if isinstance(data, bytes) else data.encode('utf-8'))
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


def remove(root, relpath):
    """Remove a file or symlink in the tree; return True when something was removed."""
    parent, name = split(relpath)
    try:
        fd = open_dir(root, parent)
    except FileNotFoundError:
        return False
    try:
        os.unlink(name, dir_fd=fd)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def restore(root, relpath, saved):
    """Put back what :func:`snapshot` saw."""
    remove(root, relpath)
    if saved['kind'] == 'link':
        parent, name = split(relpath)
        fd = open_dir(root, parent, create=True)
        try:
            os.symlink(saved['target'], name, dir_fd=fd)
        finally:
            os.close(fd)
    elif saved['kind'] == 'file':
        write_file(root, relpath, saved['content'].encode('latin-1'), saved['mode'])
