# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stamps that make modules idempotent: a fingerprint of a step's inputs kept beside its output."""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.osimage.builder.plugins.module_utils import atomic


def fingerprint(inputs):
    """sha256 of a JSON-serialisable value, independent of key order."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode('utf-8')).hexdigest()


def tree_fingerprint(root):
    """Cheap fingerprint of a directory tree: every entry's path, type, size, mode, owner and mtime."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest.update(('%s\0%o\0%d\0%d\0%d\0%d\n' % (os.path.relpath(path, root), st.st_mode, st.st_size,
                                                         st.st_uid, st.st_gid, st.st_mtime_ns)).encode('utf-8',
                                                                                                       'surrogateescape'))
    return digest.hexdigest()


def file_fingerprint(path):
    """Cheap fingerprint of one file: its size, inode, mtime and ctime (a rewrite or replacement changes them)."""
    st = os.stat(path)
    return '%d:%d:%d:%d' % (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def read(path):
    """The stamp stored at ``path``, or None."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write(path, data):
    """Store a stamp atomically."""
    atomic.write_text(path, json.dumps(data, sort_keys=True, indent=2))


def sha256_file(path, chunk=4 * 1024 * 1024):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(tmp, dest, digest=None):
    """Write ``tmp``'s ``.sha256`` (``digest`` when the caller computed it) beside it, then rename both into place at
    ``dest``; return the digest."""
    digest = digest or sha256_file(tmp)
    with open(tmp + '.sha256', 'w', encoding='utf-8') as f:
        f.write('%s  %s\n' % (digest, os.path.basename(dest)))
    os.replace(tmp, dest)
    os.replace(tmp + '.sha256', dest + '.sha256')
    return digest


def published_sha256(dest):
    """The digest in ``dest``'s ``.sha256``, or None."""
    try:
        with open(dest + '.sha256', encoding='utf-8') as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def artifact_stamp(dest):
    """Where the stamp of the artifact ``dest`` is kept: beside it."""
    return dest + '.osimage.json'


def recorded(dest, key):
    """The result recorded when ``dest`` was made from inputs of fingerprint ``key``, if ``dest`` is still that
    file (same size and mtime, its ``.sha256`` the recorded digest); otherwise None: it is to be made."""
    old = read(artifact_stamp(dest))
    try:
        st = os.stat(dest)
    except OSError:
        return None
    if not old or old.get('fingerprint') != key or old.get('mtime_ns') != st.st_mtime_ns:
        return None
    result = old.get('result') or {}
    if result.get('bytes') != st.st_size or result.get('sha256') != published_sha256(dest):
        return None
    return result


def record(dest, key, result):
    """Keep ``result`` (with ``bytes`` and ``sha256``) beside the just published ``dest``, made from inputs of
    fingerprint ``key``, for :func:`recorded`."""
    write(artifact_stamp(dest), {'fingerprint': key, 'mtime_ns': os.stat(dest).st_mtime_ns, 'result': result})


def discard(tmp):
    """Remove what an unpublished ``tmp`` left (the file and its checksum)."""
    for leftover in (tmp, tmp + '.sha256'):
        if os.path.exists(leftover):
            os.unlink(leftover)
