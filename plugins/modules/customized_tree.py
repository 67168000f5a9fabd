#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a build's root tree from the cache of customized trees, or store a customized one there."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: customized_tree
short_description: Restore or store a customized root tree in the build cache
version_added: 0.4.0
description:
  - The cache of customized trees, C(CACHE_DIR/customized/KEY), lets a build whose request differs from an earlier
    one only in the late keys (the hostname) and its build id skip bootstrapping and customizing; the customize
    play then replays only the roles that read a late key. Such a build keeps the disk UUIDs of the tree it
    restores (its O(uuid_seed)), so that nothing which names them (fstab, boot loader) is written again.
  - An entry's key is the fingerprint of O(key) (the request's tree key, fact C(osimage_stamp.tree) of
    M(osimage.builder.validate_request)) and of the bootstrap cache entry the tree grew from, with its creation
    time, so that a bootstrap from the mirror anew makes new entries.
  - O(state=restored) copies (or O(move)s) a current entry to O(path), which must not exist yet. It misses when
    there is no such entry, the bootstrap cache entry O(bootstrap_fingerprint) is gone or expired, or the entry's
    file system UUIDs derive from another O(uuid_seed).
  - O(state=stored) copies (or O(move)s) the customized tree at O(path) into a new entry (beside it, then
    renamed, under the entry's lock, so an interrupted build leaves no entry). It then removes the entries whose
    bootstrap entry is gone and the least recently used beyond eight. A full cache file system gives a warning,
    no entry and no failure.
author: osimage developers (@osimage)
options:
  path:
    description: The build's root tree (its chroot mounts undone; with O(state=stored), bootstrapped by
      M(osimage.builder.debian_bootstrap) or M(osimage.builder.rpm_bootstrap), whose stamp beside it names
      their tree cache entry).
    type: path
    required: true
  cache_dir:
    description: The builds' cache directory (holds the bootstrap tree cache, C(trees/), and C(customized/)).
    type: path
    required: true
  key:
    description: The request's tree key, fact C(osimage_stamp.tree).
    type: str
    required: true
  state:
    description: V(restored) copies a cached tree to O(path); V(stored) caches the tree at O(path).
    type: str
    choices: [restored, stored]
    default: restored
  bootstrap_fingerprint:
    description: The fingerprint of the bootstrap cache entry the build uses, fact C(osimage_stamp.bootstrap) of
      M(osimage.builder.validate_request). Required when O(state=restored).
    type: str
  move:
    description:
      - Rename instead of copying when O(path) and O(cache_dir) are on one file system.
      - With O(state=restored) the entry leaves the cache until the build stores its tree back (a build that fails
        or is killed before that leaves a miss, never a wrong entry); with O(state=stored) O(path) is gone
        afterwards (for a build's last step, before its directory is removed).
    type: bool
    default: false
  uuid_seed:
    description:
      - The seed the build's file system UUIDs derive from, C(osimage.disk.uuid_seed) of the resolved build.
      - With O(state=stored) the entry records it; with O(state=restored) only an entry that recorded it is a hit.
        Without it, any entry is (and the caller writes the UUIDs into the tree itself).
    type: str
    version_added: 0.6.0
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Restore the customized tree of an earlier build with the same inputs
  osimage.builder.customized_tree:
    path: /var/tmp/osimage/3f2a9c1d0e4b/root
    cache_dir: /var/cache/osimage
    key: "{{ osimage_stamp.tree }}"
    bootstrap_fingerprint: "{{ osimage_stamp.bootstrap }}"
    uuid_seed: "{{ osimage.disk.uuid_seed }}"
    move: true
  register: tree

- name: Keep the customized tree for the next build
  osimage.builder.customized_tree:
    path: /var/tmp/osimage/3f2a9c1d0e4b/root
    cache_dir: /var/cache/osimage
    key: "{{ osimage_stamp.tree }}"
    state: stored
    uuid_seed: "{{ osimage.disk.uuid_seed }}"
    move: true
'''

RETURN = r'''
hit:
  description: Whether O(path) is (or, in check mode, would be) a tree restored from the cache.
  returned: when O(state=restored)
  type: bool
  sample: true
stored:
  description: Whether a new entry was (or would be) stored.
  returned: when O(state=stored)
  type: bool
  sample: true
entry:
  description: The cache entry restored or stored; null when there is none.
  returned: always
  type: str
  sample: /var/cache/osimage/customized/9d3e5a0c7b21f4e6a8d9c0b1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import customized_tree
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner


def restored(module, runner, p):
    boot = customized_tree.bootstrap_entry(p['cache_dir'], p['bootstrap_fingerprint'])
    if boot is None:
        module.exit_json(changed=False, hit=False, entry=None)
    key = customized_tree.entry_key(p['key'], boot)
    entry = customized_tree.entry_path(p['cache_dir'], key)
    restored_from = stamp.read(p['path'] + customized_tree.RESTORED_SUFFIX)
    if customized_tree.fits(restored_from, p['uuid_seed'], key) and os.path.isdir(p['path']):
        module.exit_json(changed=False, hit=True, entry=entry)
    if not customized_tree.fits(customized_tree.current(p['cache_dir'], key), p['uuid_seed']):
        module.exit_json(changed=False, hit=False, entry=None)
    if os.path.lexists(p['path']):
        module.fail_json(msg="'%s' exists: a cached tree is restored only where there is none yet" % p['path'])
    if module.check_mode:
        module.exit_json(changed=True, hit=True, entry=entry)
    hit = customized_tree.restore(runner, p['cache_dir'], key, p['path'], p['move'], p['uuid_seed'])
    module.exit_json(changed=hit, hit=hit, entry=entry if hit else None)


def stored(module, runner, p):
    boot = customized_tree.origin(p['cache_dir'], p['path'])
    if not boot:  # bootstrapped without the cache, or its entry was replaced since: nothing to key the tree by
        module.exit_json(changed=False, stored=False, entry=None)
    key = customized_tree.entry_key(p['key'], boot)
    entry = customized_tree.entry_path(p['cache_dir'], key)
    if customized_tree.current(p['cache_dir'], key) is not None:
        module.exit_json(changed=False, stored=False, entry=entry)
    if module.check_mode:
        module.exit_json(changed=True, stored=True, entry=entry)
    done = customized_tree.store(runner, p['cache_dir'], key, p['path'], boot, p['move'], p['uuid_seed'])
    module.exit_json(changed=done, stored=done, entry=entry if done else None)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            cache_dir=dict(type='path', required=True),
            key=dict(type='str', required=True, no_log=False),
            state=dict(type='str', default='restored', choices=['restored', 'stored']),
            bootstrap_fingerprint=dict(type='str', no_log=False),
            move=dict(type='bool', default=False),
            uuid_seed=dict(type='str', no_log=False),
        ),
        required_if=[('state', 'restored', ['bootstrap_fingerprint'])],
        supports_check_mode=True,
    )
    p = module.params
    runner = Runner(module)
    if p['state'] == 'restored':
        restored(module, runner, p)
    stored(module, runner, p)


if __name__ == '__main__':
    main()
