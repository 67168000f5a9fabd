# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the build host against a resolved request, before any privileged step: free space, mirror."""

from __future__ import annotations

import os

from ansible.module_utils.urls import open_url
from ansible_collections.osimage.builder.plugins.module_utils.request import RequestError

GIB = 1024 ** 3
# What a build of the default package set needs, with a margin: the tree and the raw disk in work_dir,
# the cached tree and packages in cache_dir, one converted image per format in output_dir.
NEEDS = {'work_dir': 2.5 * GIB, 'cache_dir': 1.5 * GIB, 'output_dir': 1.2 * GIB}


def _existing(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def space_errors(resolved, free=None):
    """[(key, message)] for directories whose file system lacks the space this build needs."""
    free = free or (lambda path: os.statvfs(path).f_bavail * os.statvfs(path).f_frsize)
    needs = dict(NEEDS, output_dir=NEEDS['output_dir'] * len(resolved['formats']))
    by_fs = {}
    for key, need in needs.items():
        path = _existing(resolved[key])
        by_fs.setdefault(os.stat(path).st_dev, []).append((key, path, need))
    errors = []
    for entries in by_fs.values():
        need = sum(e[2] for e in entries)
        have = free(entries[0][1])
        if have < need:
            keys = [e[0] for e in entries]
            shared = ' (with %s on the same file system)' % ', '.join(keys[1:]) if len(keys) > 1 else ''
            errors.append((keys[0], '%s%s has %.1f GiB free; this build needs about %.1f GiB there: free space '
                                    'or point %s elsewhere' % (resolved[keys[0]], shared, have / GIB, need / GIB,
                                                               ' or '.join(keys))))
    return errors


def mirror_errors(resolved, timeout=15):
    """[(key, message)] when the mirror does not serve the release."""
    url = '%s/dists/%s/Release' % (resolved['mirror'].rstrip('/'), resolved['release'])
    if url.startswith('file://'):
        return [] if os.path.isfile(url[len('file://'):]) else [('mirror', '%s does not exist' % url)]
    try:
        with open_url(url, method='HEAD', timeout=timeout):
            return []
    except (OSError, ValueError) as exc:
        return [('mirror', 'cannot fetch %s (%s): check the URL and the network' % (url, getattr(exc, 'reason', exc)))]


def check(resolved):
    """Raise RequestError naming every problem of the host for this build."""
    errors = space_errors(resolved) + mirror_errors(resolved)
    if errors:
        raise RequestError(errors)
