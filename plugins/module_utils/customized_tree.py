# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cache of customized root trees, CACHE_DIR/customized/KEY (with KEY.json and KEY.lock beside it).

A build whose request differs from a cached build's only in build_stamp.LATE_KEYS and its build id restores that
build's tree instead of bootstrapping and customizing, and keeps its disk UUIDs: an entry records the UUID seed its
file systems' UUIDs derive from (layout.resolve), validation resolves a build that will restore it with that seed
(``uuid_seed``), and the customize play replays only the roles that read a late key (playbooks/tasks/customize.yml).
KEY is the fingerprint of the request's tree key (build_stamp.tree_request, with the collection's code, its
controller files and repository indexes) and of the bootstrap cache entry the tree grew from (its fingerprint and
creation time): a bootstrap from the mirror anew makes new entries. An entry is copied beside its place and renamed
into it (or a finished build's tree, which the build would remove, is renamed into it) under its lock, and never
changed while it is an entry (a build may rename it out, which makes it none, and store it back). Storing one
removes the entries whose bootstrap entry is gone or expired and the least recently used beyond KEEP (a build locks
an entry only while it copies it out, so removing one never harms a build).
"""

from __future__ import annotations

import os
import time

from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils import cachelock
from ansible_collections.osimage.builder.plugins.module_utils import stamp

KIND = 'customized'
# Entries kept: each is a whole root tree (the default image's is about 800 MiB); they also go with their
# bootstrap entry (bootstrap.TREE_CACHE_MAX_AGE).
KEEP = 8
# Beside a restored tree: which entry it is (the module's idempotence).
RESTORED_SUFFIX = '.osimage-customized.json'


def entry_path(cache_dir, key):
    return os.path.join(cache_dir, KIND, key)


def bootstrap_entry(cache_dir, fingerprint, created=None):
    """{fingerprint, created} of the bootstrap cache entry ``fingerprint`` while it is current (and was created at
    ``created`` when given); None when it is gone, replaced or expired: a build bootstraps anew then."""
    cached = stamp.read(bootstrap.cached_tree_stamp(cache_dir, fingerprint))
    if not cached or (created is not None and cached.get('created') != created):
        return None
    if time.time() - cached['created'] >= bootstrap.TREE_CACHE_MAX_AGE:
        return None
    return {'fingerprint': fingerprint, 'created': cached['created']}


def entry_key(tree_key, boot_entry):
    """The entry of a request's tree key customized from the bootstrap cache entry ``boot_entry``."""
    return stamp.fingerprint({'tree': tree_key, 'bootstrap': boot_entry})


def current(cache_dir, key):
    """The stamp of entry ``key`` if it is whole and its bootstrap entry is still current, else None."""
    data = stamp.read(entry_path(cache_dir, key) + '.json')
    if not data or not os.path.isdir(entry_path(cache_dir, key)):
        return None
    boot = data.get('bootstrap') or {}
    if bootstrap_entry(cache_dir, boot.get('fingerprint', ''), boot.get('created')) is None:
        return None
    return data


def uuid_seed(cache_dir, tree_key, bootstrap_fingerprint):
    """The UUID seed of the current entry for request tree key ``tree_key`` grown from the bootstrap cache entry
    ``bootstrap_fingerprint``; None when there is none (or it recorded no seed)."""
    boot = bootstrap_entry(cache_dir, bootstrap_fingerprint)
    data = boot and current(cache_dir, entry_key(tree_key, boot))
    return (data or {}).get('uuid_seed')


def fits(data, seed, key=None):
    """Whether the entry stamp or restore record ``data`` has UUID seed ``seed`` (any when None) and names entry
    ``key`` (any when None)."""
    return bool(data) and seed in (None, data.get('uuid_seed')) and key in (None, data.get('entry'))


def restore(runner, cache_dir, key, path, move=False, seed=None):
    """Copy entry ``key`` to ``path`` (beside it, then renamed) under the entry's lock; False on a miss (with
    ``seed``, also when the entry's file systems have UUIDs of another seed). With ``move``, on one file system, the
    entry is renamed to ``path`` instead: it leaves the cache until the build stores its tree back (store with
    ``move``), and a build that fails or is killed before leaves a miss."""
    entry = entry_path(cache_dir, key)
    if not os.path.isdir(os.path.dirname(entry)):
        return False
    with cachelock.CacheLock(entry + '.lock'):
        data = current(cache_dir, key)
        if not fits(data, seed):
            return False
        if move and os.stat(entry).st_dev == os.stat(os.path.dirname(path)).st_dev:
            os.unlink(entry + '.json')  # no longer an entry from here on
            os.rename(entry, path)
        else:
            bootstrap.remove_tree(runner, path + '.partial')
            try:
                bootstrap.copy_tree(runner, entry, path + '.partial')
                os.rename(path + '.partial', path)
            finally:
                bootstrap.remove_tree(runner, path + '.partial')
            os.utime(entry + '.json')  # recently used
    stamp.write(path + RESTORED_SUFFIX,
                {'entry': key, 'bootstrap': data['bootstrap'], 'uuid_seed': data.get('uuid_seed')})
    return True


def origin(cache_dir, path):
    """The bootstrap cache entry the tree at ``path`` grew from, by the bootstrap module's stamp beside it or, for a
    restored tree, the restore record; None when it was made without the cache or that entry is no longer current."""
    made = stamp.read(path + bootstrap.STAMP_SUFFIX)
    if made and made.get('cache_created'):
        return bootstrap_entry(cache_dir, made['fingerprint'], made['cache_created'])
    boot = (stamp.read(path + RESTORED_SUFFIX) or {}).get('bootstrap')
    return bootstrap_entry(cache_dir, boot['fingerprint'], boot['created']) if boot else None


def store(runner, cache_dir, key, path, boot_entry, move=False, seed=None):
    """Make entry ``key`` a copy of the customized tree ``path`` (with ``move``, ``path`` itself when it is on the
    cache's file system), its file systems' UUIDs of seed ``seed``, unless a current one exists (another build
    stored it); then prune. True when stored."""
    entry = entry_path(cache_dir, key)
    os.makedirs(os.path.dirname(entry), exist_ok=True)
    with cachelock.CacheLock(entry + '.lock'):
        if current(cache_dir, key) is not None:
            return False
        stored = bootstrap.store_tree(runner, path, entry,
                                      {'bootstrap': boot_entry, 'created': time.time(), 'uuid_seed': seed}, move)
    prune(runner, cache_dir, keep_key=key)
    return stored


def prune(runner, cache_dir, keep_key=None, keep=KEEP):
    """Remove the entries that are no longer current and the least recently used beyond ``keep``, each while its
    lock is free (a build copying it out holds it); return the keys removed."""
    kind = os.path.join(cache_dir, KIND)
    keys = [n[:-len('.json')] for n in os.listdir(kind) if n.endswith('.json')]
    live = sorted((k for k in keys if current(cache_dir, k) is not None),
                  key=lambda k: (k == keep_key, os.stat(entry_path(cache_dir, k) + '.json').st_mtime), reverse=True)
    removed = []
    for key in [k for k in keys if k not in live[:keep]]:
        entry = entry_path(cache_dir, key)
        fd = cachelock.try_lock(entry + '.lock')
        if fd is None:
            continue
        try:
            os.unlink(entry + '.json')  # no longer an entry from here on
            bootstrap.remove_tree(runner, entry)
            os.unlink(entry + '.lock')
        finally:
            os.close(fd)
        removed.append(key)
    return removed
