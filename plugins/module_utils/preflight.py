# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the build host against a resolved request, before any privileged step: free space, mirror."""

from __future__ import annotations

import os

from ansible_collections.osimage.builder.plugins.module_utils import release_index
from ansible_collections.osimage.builder.plugins.module_utils.disk import parse_size
from ansible_collections.osimage.builder.plugins.module_utils.runner import says_full
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


def out_of_space(failure, resolved, results=(), free=free_space):
    """A failed build's message ``failure`` when the disk was full but the message does not say where (an Ansible
    module's or a command's own error, as in the tree; ``results``: of the tasks that failed, rescued ones too):
    with the last line of their output that says so, and the build's directories that lack the space it needs
    now that its own files are gone, or all three when none does (something else filled one while it ran), each
    with its free space and this build's need. Any other ``failure`` as it is."""
    said = [line.strip() for result in results for key in ('stderr', 'stdout', 'module_stderr')
            for line in str(result.get(key) or '').splitlines() if says_full(line)]
    if said and not says_full(failure):
        failure += ': ' + said[-1]
    if not says_full(failure) or 'out of space:' in failure:
        return failure
    short = space_errors(resolved, free) or [
        (key, '%s has %s free; this build needs about %s there' % (path, human(free(path)), human(need)))
        for key, need in needs(resolved).items() for path in [resolved[key]]]
    return '%s\nout of space: %s' % (failure, '; '.join('%s: %s' % e for e in short))


def _unreadable(url, problem):
    if url.startswith('file://'):
        return '%s does not exist' % url
    return 'cannot fetch %s (%s): check the URL and the network' % (url, problem)


def mirror_errors(resolved, timeout=15):
    """[(key, message)] when a mirror does not serve an index the build reads (the distro table's probes: each suite
    of an apt release, each repository of an rpm one), or serves one that has expired (the family's
    ``probe_expiry`` field is past), which the package manager refuses unless the mirror is a snapshot
    (location.mirror_snapshot). One small read of each, all at once."""
    errors = []
    os_ = resolved['os']
    field = None if resolved['location'].get('mirror_snapshot') else os_.get('probe_expiry')
    found = release_index.fetch_all([[p['url']] for p in os_['probes']], resolved['location'].get('proxy'), timeout,
                                    limit=release_index.HEADER)
    for probe, (url, data, problem) in zip(os_['probes'], found):
        key = 'location.' + probe['key']
        until = field and data is not None and release_index.expired(data, field)
        if data is None:
            errors.append((key, _unreadable(url, problem)))
        elif until:
            errors.append((key, '%s expired on %s (its %s): %s refuses it, so this mirror is stale or a snapshot; '
                                'point %s at a current mirror, or set location.mirror_snapshot: true to build from '
                                'a snapshot' % (url, until, field, os_['package_manager'], key)))
    return errors


def family_errors(resolved):
    """[(key, message)] when the distro's family cannot make a whole image yet."""
    if resolved['os'].get('builds_images', True):
        return []
    return [('distro', "no %s family image has been built and booted by osimage's tests yet (its mirrors are out of "
                       "their reach), so whole builds are refused: osimage makes its root tree and installs its "
                       "packages (the rpm_bootstrap and rpm_packages modules); build a Debian or Ubuntu image"
             % resolved['family'])]


def repository_errors(resolved, indexes=None):
    """[(key, message)] for extra repositories that do not serve their index (per suite where they have suites), or
    serve one that has expired (the family's ``probe_expiry``). ``indexes``: release_index.repositories' answer,
    read now when not given."""
    errors = []
    field = resolved['os'].get('probe_expiry')
    for i, repo, (url, data, problem) in release_index.repositories(resolved) if indexes is None else indexes:
        key = 'repositories[%d].uri' % i
        until = field and data is not None and release_index.expired(data, field)
        if data is None:
            errors.append((key, 'cannot fetch %s (%s): check the URI%s and the network'
                           % (url, problem, ', the suite' if repo.get('suites') else '')))
        elif until:
            errors.append((key, '%s expired on %s (its %s): %s refuses it; ask for a current copy of the repository '
                                'or remove it' % (url, until, field, resolved['os']['package_manager'])))
    return errors


def check(resolved, indexes=None):
    """Raise RequestError naming every problem of the host for this build (``indexes``: as repository_errors)."""
    errors = family_errors(resolved) or space_errors(resolved) + mirror_errors(resolved) + \
        repository_errors(resolved, indexes)
    if errors:
        raise RequestError(errors)
