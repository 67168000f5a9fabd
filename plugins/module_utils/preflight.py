# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the build host against a resolved request, before any privileged step: free space, mirror."""

from __future__ import annotations

import os
import urllib.request

from ansible.module_utils.urls import open_url
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import RequestError

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


def _fetch_error(url, proxy, timeout):
    """Why ``url`` cannot be fetched (through ``proxy`` when given, as the build will); None when it can."""
    if url.startswith('file://'):
        return None if os.path.isfile(url[len('file://'):]) else 'it does not exist'
    try:
        if proxy:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({'http': proxy, 'https': proxy}))
            with opener.open(urllib.request.Request(url, method='HEAD'), timeout=timeout):
                return None
        with open_url(url, method='HEAD', timeout=timeout):
            return None
    except (OSError, ValueError) as exc:
        return str(getattr(exc, 'reason', exc))


def mirror_errors(resolved, timeout=15):
    """[(key, message)] when the mirror does not serve the release (the distro table's probes)."""
    errors = []
    for url in resolved['os']['probes']:
        problem = _fetch_error(url, resolved.get('location', {}).get('proxy'), timeout)
        if problem is not None and url.startswith('file://'):
            errors.append(('mirror', '%s does not exist' % url))
        elif problem is not None:
            errors.append(('mirror', 'cannot fetch %s (%s): check the URL and the network' % (url, problem)))
    return errors


def family_errors(resolved):
    """[(key, message)] when the distro's family cannot make a whole image yet."""
    if resolved['os'].get('builds_images', True):
        return []
    return [('distro', "the %s family's in-tree package step (its role's main tasks) and boot loader step are not "
                       "written yet: osimage makes only its root tree (the rpm_bootstrap module); build a Debian or "
                       "Ubuntu image"
             % resolved['family'])]


def repository_errors(resolved, timeout=15):
    """[(key, message)] for extra repositories that do not serve their suites."""
    errors = []
    proxy = resolved.get('location', {}).get('proxy')
    for i, repo in enumerate(resolved.get('repositories', [])):
        for suite in repo.get('suites', []):
            base = '%s/dists/%s/' % (repo['uri'].rstrip('/'), suite)
            problem = _fetch_error(base + 'InRelease', proxy, timeout)
            if problem and _fetch_error(base + 'Release', proxy, timeout):
                errors.append(('repositories[%d].uri' % i, 'cannot fetch %sInRelease (%s): check the URI, the '
                               'suite and the network' % (base, problem)))
    return errors


def check(resolved):
    """Raise RequestError naming every problem of the host for this build."""
    errors = family_errors(resolved) or space_errors(resolved) + mirror_errors(resolved) + repository_errors(resolved)
    if errors:
        raise RequestError(errors)
