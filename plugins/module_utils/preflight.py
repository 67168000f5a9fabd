# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the build host against a resolved request, before any privileged step: free space, mirror."""

from __future__ import annotations

import datetime
import email.utils
import os
import re
import urllib.request

from ansible.module_utils.urls import open_url
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils.disk import parse_size
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import RequestError

MIB = 1024 ** 2
GIB = 1024 ** 3
# The estimate of a build's files. TREE: what the root tree of the default package set takes with its kernel
# (the cached Debian 12 bootstrap is 0.78 GiB); PACKAGE: each package the request installs on top, with its
# dependencies; the tree never outgrows the disk it must fit. CACHE: the cached bootstrap tree and packages.
TREE = 1.0 * GIB
PACKAGE = 10 * 1024 ** 2
CACHE = 1.5 * GIB


def needs(resolved):
    """{key: bytes} a build of ``resolved`` writes into work_dir, cache_dir and output_dir.

    work_dir holds the tree, a file system image of it and the raw disk (both sparse: about the tree's size),
    plus the ISO's staging and the OVA's intermediate vmdk when those are made; output_dir one file per format
    (the converted disk's data, about the tree's size; archives are smaller), and for oci the layer tar and the
    image layout staged beside the archive."""
    tree = min(TREE + PACKAGE * len(resolved['packages']['install']), parse_size(resolved['disk']['size']))
    formats = resolved['formats']
    work = 3 * tree + (tree if 'iso' in formats else 0) + (tree if 'ova' in formats and 'vmdk' not in formats else 0)
    output = tree * len(formats) + (2 * tree if 'oci' in formats else 0)
    return {'work_dir': work, 'cache_dir': CACHE, 'output_dir': output}


def human(size):
    return '%.1f GiB' % (size / GIB) if size >= GIB else '%.0f MiB' % (size / MIB)


def _existing(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def free_space(path):
    """The bytes free for writing at ``path`` (or its nearest existing parent), the root reserve left out."""
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize


def space_errors(resolved, free=free_space):
    """[(key, message)] for directories whose file system lacks the space this build needs (directories on
    one file system add up)."""
    by_fs = {}
    for key, need in needs(resolved).items():
        path = _existing(resolved[key])
        by_fs.setdefault(os.stat(path).st_dev, []).append((key, path, need))
    errors = []
    for entries in by_fs.values():
        need = sum(e[2] for e in entries)
        have = free(entries[0][1])
        if have < need:
            keys = [e[0] for e in entries]
            shared = ' (with %s on the same file system)' % ', '.join(keys[1:]) if len(keys) > 1 else ''
            parts = ' (%s)' % ', '.join('%s %s' % (e[0], human(e[2])) for e in entries) if shared else ''
            errors.append((keys[0], '%s%s has %s free; this build needs about %s there%s: free space or point '
                                    '%s elsewhere' % (resolved[keys[0]], shared, human(have), human(need), parts,
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


def _fetch(url, proxy, timeout):
    """The text at ``url`` (through ``proxy`` when given)."""
    if url.startswith('file://'):
        with open(url[len('file://'):], 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    if proxy:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({'http': proxy, 'https': proxy}))
        with opener.open(url, timeout=timeout) as response:
            return response.read().decode('utf-8', 'replace')
    with open_url(url, timeout=timeout) as response:
        return response.read().decode('utf-8', 'replace')


def expired(text, field, now=None):
    """The date of ``field`` (an RFC 2822 date, as apt's Valid-Until) in index ``text`` when it is past; else None."""
    found = re.search(r'^%s:\s*(.+?)\s*$' % re.escape(field), text, re.MULTILINE)
    if not found:
        return None
    try:
        until = email.utils.parsedate_to_datetime(found.group(1))
    except (TypeError, ValueError):
        return None
    return found.group(1) if until < (now or datetime.datetime.now(datetime.timezone.utc)) else None


def mirror_errors(resolved, timeout=15):
    """[(key, message)] when the mirror does not serve the release (the distro table's probes), or serves an index
    that has expired (the family's ``probe_expiry`` field is past), which the package manager refuses."""
    errors = []
    proxy = resolved.get('location', {}).get('proxy')
    field = resolved['os'].get('probe_expiry')
    for url in resolved['os']['probes']:
        problem = _fetch_error(url, proxy, timeout)
        if problem is not None and url.startswith('file://'):
            errors.append(('mirror', '%s does not exist' % url))
        elif problem is not None:
            errors.append(('mirror', 'cannot fetch %s (%s): check the URL and the network' % (url, problem)))
        elif field:
            try:
                until = expired(_fetch(url, proxy, timeout), field)
            except (OSError, ValueError) as exc:
                errors.append(('mirror', 'cannot fetch %s (%s): check the URL and the network' % (url, exc)))
                continue
            if until:
                errors.append(('mirror', '%s expired on %s (its %s): %s refuses it, so this mirror is stale or a '
                                         'snapshot; point location.mirror at a current mirror'
                               % (url, until, field, resolved['os']['package_manager'])))
    return errors


def family_errors(resolved):
    """[(key, message)] when the distro's family cannot make a whole image yet."""
    if resolved['os'].get('builds_images', True):
        return []
    return [('distro', "no %s family image has been built and booted by osimage's tests yet (its mirrors are out of "
                       "their reach), so whole builds are refused: osimage makes its root tree and installs its "
                       "packages (the rpm_bootstrap and rpm_packages modules); build a Debian or Ubuntu image"
             % resolved['family'])]


def repository_errors(resolved, timeout=15):
    """[(key, message)] for extra repositories that do not serve their index (per suite where they have suites)."""
    errors = []
    proxy = resolved.get('location', {}).get('proxy')
    for i, repo in enumerate(resolved.get('repositories', [])):
        for urls in distros.repository_index_urls(resolved['os'], repo):
            problem = _fetch_error(urls[0], proxy, timeout)
            if problem and all(_fetch_error(url, proxy, timeout) for url in urls[1:]):
                errors.append(('repositories[%d].uri' % i, 'cannot fetch %s (%s): check the URI%s and the network'
                               % (urls[0], problem, ', the suite' if repo.get('suites') else '')))
    return errors


def check(resolved):
    """Raise RequestError naming every problem of the host for this build."""
    errors = family_errors(resolved) or space_errors(resolved) + mirror_errors(resolved) + repository_errors(resolved)
    if errors:
        raise RequestError(errors)
