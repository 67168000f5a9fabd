# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every bootstrap module shares: the stamp beside the tree, building beside it and renaming into place,
and the cache of finished trees keyed by the fingerprint of their inputs."""

from __future__ import annotations

import errno
import os
import shutil
import time

from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils import tree
from ansible_collections.osimage.builder.plugins.module_utils.cachelock import CacheLock
from ansible_collections.osimage.builder.plugins.module_utils.runner import NO_SPACE

STAMP_SUFFIX = '.osimage-bootstrap.json'
# Seconds a cached tree is copied instead of bootstrapped again (the modules' tree_cache_max_age default).
TREE_CACHE_MAX_AGE = 86400


def debian_inputs(args):
    """What decides a debian_bootstrap tree (its cache key): the arguments ``args`` that shape it."""
    keys = ('suite', 'mirror', 'architecture', 'variant', 'tool', 'components', 'keyring', 'extra_sources')
    inputs = {k: args[k] for k in keys}
    inputs['include'] = sorted(set(args['include']))
    return inputs


def rpm_inputs(args):
    """What decides an rpm_bootstrap tree (its cache key): the arguments ``args`` that shape it."""
    keys = ('backend', 'releasever', 'architecture', 'dbpath', 'install_weak_deps')
    inputs = {k: args[k] for k in keys}
    inputs['repositories'] = sorted(({k: r[k] for k in ('name', 'baseurl', 'gpgkey')} for r in args['repositories']),
                                    key=lambda r: r['name'])
    inputs['packages'] = sorted(set(args['packages']))
    return inputs


def _debian_args(build, packages):
    mmdebstrap = build['bootstrap']['tool'] == 'mmdebstrap'
    return {'suite': build['release'], 'mirror': build['mirror'], 'components': build['os']['components'],
            'keyring': build['os'].get('keyring'), 'extra_sources': build['os']['sources'] if mmdebstrap else [],
            'architecture': build['os']['arch_name'], 'tool': build['bootstrap']['tool'],
            'variant': build['bootstrap']['variant'], 'include': packages,
            # Not among debian_inputs: reading a snapshot's expired indexes does not change the tree.
            'apt_options': [build['os']['snapshot_config']] if build['location'].get('mirror_snapshot') else []}


def _rpm_args(build, packages):
    return {'backend': build['bootstrap']['tool'], 'releasever': build['os']['version'],
            'architecture': build['os']['arch_name'], 'repositories': build['os']['repositories'],
            'dbpath': build['os']['rpm_dbpath'], 'install_weak_deps': False, 'packages': packages}


# Per bootstrap module (the distro table's FAMILIES[family]['bootstrap']['module']): the arguments a resolved
# build gives it, and what of them decides the tree.
MODULES = {'debian_bootstrap': {'args': _debian_args, 'inputs': debian_inputs},
           'rpm_bootstrap': {'args': _rpm_args, 'inputs': rpm_inputs}}


def request_args(build):
    """The arguments of the family's bootstrap module for resolved ``build`` (less where, cache and proxy): the
    release's base system, kernel and network stack, the disk's tools and, unless they come from the request's
    own repositories (which exist only inside the tree), the request's packages. The family's role passes them
    on as they are, and build_stamp fingerprints them, so a build knows its bootstrap cache entry beforehand."""
    os_ = build['os']
    packages = os_['packages']['base'] + os_['packages']['kernel'] + os_['packages']['network'] + \
        ([] if build['repositories'] else build['packages']['install']) + build['disk']['packages']
    return MODULES[os_['bootstrap']['module']]['args'](build, packages)


def request_fingerprint(build):
    """The fingerprint of the bootstrap cache entry resolved ``build`` uses (its bootstrap module's
    ``fingerprint``)."""
    module = MODULES[build['os']['bootstrap']['module']]
    return stamp.fingerprint(module['inputs'](build['bootstrap']['args']))


def cached_tree_stamp(cache_dir, fingerprint):
    """Where the stamp of the cached tree of ``fingerprint`` is kept ({inputs, created, fingerprint})."""
    return os.path.join(cache_dir, 'trees', fingerprint + '.json')


def start(module, path, inputs, maker):
    """The module's result for a tree made of ``inputs`` at ``path``. Exits when there is nothing to do (the
    tree is current, or check mode); fails when ``path`` holds something ``maker`` (the module) did not make."""
    key = stamp.fingerprint(inputs)
    result = dict(changed=False, path=path, fingerprint=key, cached=False)
    old = stamp.read(path + STAMP_SUFFIX)
    if old and old.get('fingerprint') == key and os.path.isdir(path):
        module.exit_json(**result)
    if os.path.lexists(path) and not old and os.listdir(path):
        module.fail_json(msg="'%s' exists and was not made by %s; remove it or choose another path"
                             % (path, maker))
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)
    return result


def build(runner, path, inputs, result, cache_dir, max_age, make):
    """Make the tree with ``make(partial)``, or copy it from ``cache_dir``'s tree cache, beside ``path``; rename
    it into place and write its stamp. A fresh tree is cached when ``cache_dir`` is set and ``max_age`` > 0."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    partial = path + '.partial'
    remove_tree(runner, partial)
    cached_tree, created = None, None
    if cache_dir and max_age > 0:
        os.makedirs(os.path.join(cache_dir, 'trees'), exist_ok=True)
        cached_tree = os.path.join(cache_dir, 'trees', result['fingerprint'])
    try:
        with CacheLock(cached_tree + '.lock' if cached_tree else None):
            cached_stamp = stamp.read(cached_tree_stamp(cache_dir, result['fingerprint'])) if cached_tree else None
            if cached_stamp and time.time() - cached_stamp['created'] < max_age and os.path.isdir(cached_tree):
                copy_tree(runner, cached_tree, partial)
                result['cached'], created = True, cached_stamp['created']
            else:
                make(partial)
                entry = dict(inputs, created=time.time(), fingerprint=result['fingerprint'])
                if cached_tree and store_tree(runner, partial, cached_tree, entry):
                    created = entry['created']
        if os.path.lexists(path + STAMP_SUFFIX):
            os.unlink(path + STAMP_SUFFIX)
        remove_tree(runner, path)
        os.rename(partial, path)
        # cache_created: which bootstrap cache entry the tree is (osimage.builder.customized_tree keys by it)
        stamp.write(path + STAMP_SUFFIX, dict(inputs, fingerprint=result['fingerprint'], cache_created=created))
    finally:
        if os.path.lexists(partial):
            remove_tree(runner, partial)


def remove_host_copies(root, rels):
    """Drop the files at ``rels`` that are the build host's own copies (not a package's file)."""
    for rel in rels:
        try:
            saved = tree.snapshot(root, rel)
        except FileNotFoundError:
            continue
        try:
            with open('/' + rel, encoding='latin-1') as f:
                host = f.read()
        except OSError:
            host = None
        if saved['kind'] == 'file' and saved['content'] == host:
            tree.remove(root, rel)


def remove_tree(runner, path):
    """Remove a tree we made; refuse when something is still mounted inside it."""
    if not os.path.lexists(path):
        return
    prefix = os.path.realpath(path) + '/'
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        for line in f:
            mnt = line.split()[4]
            if mnt.startswith(prefix):
                runner.module.fail_json(msg="'%s' still has '%s' mounted; run chroot_env state=absent first"
                                            % (path, mnt))
    shutil.rmtree(path)


def copy_tree(runner, src, dest):
    runner.run(['cp', '-a', '--reflink=auto', src, dest], what='copying the root tree')


def replace_tree(runner, src, dest):
    """Make ``dest`` (a cache entry) a copy of ``src``; ``dest`` is never seen half copied. A cache is an
    optimisation: when its file system is full, this warns, leaves nothing of the copy and returns False."""
    remove_tree(runner, dest + '.partial')
    argv = ['cp', '-a', '--reflink=auto', src, dest + '.partial']
    rc, out, err = runner.run(argv, check=False)
    if rc != 0:
        remove_tree(runner, dest + '.partial')
        if NO_SPACE not in out + err:
            runner.fail(argv, rc, out, err, 'copying the root tree')
        warn_full(runner.module, dest, src)
        return False
    remove_tree(runner, dest)
    os.rename(dest + '.partial', dest)
    return True


def store_tree(runner, src, dest, data, move=False):
    """Make ``dest`` (a cache entry) a copy of ``src`` with its stamp ``data`` at DEST.json, under the entry's lock
    (the caller's); True when stored. With ``move``, ``src`` is renamed into place instead when it is on the same
    file system. A full cache file system leaves no entry, warns and returns False."""
    if move and os.stat(src).st_dev == os.stat(os.path.dirname(dest)).st_dev:
        remove_tree(runner, dest)
        os.rename(src, dest)
    elif not replace_tree(runner, src, dest):
        return False
    try:
        stamp.write(dest + '.json', data)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        remove_tree(runner, dest)  # a tree without its stamp is no entry
        warn_full(runner.module, dest, src)
        return False
    return True


def tree_size(root):
    """Bytes the files of ``root`` take on disk (hard links counted once)."""
    seen, total = set(), 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def warn_full(module, dest, src):
    """Warn that the cache directory of ``dest`` has no room for a copy of ``src``."""
    directory = os.path.dirname(dest)
    st = os.statvfs(directory)
    module.warn('the cache directory %s is full: caching %s there needs about %d MiB (%d MiB free); the build goes '
                'on without caching it: free space there or point cache_dir elsewhere'
                % (directory, os.path.basename(dest), tree_size(src) // 2 ** 20, st.f_bavail * st.f_frsize // 2 ** 20))
