#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record in the output directory which build its artifacts are, so that the same build is not made again."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: build_stamp
short_description: Record the fingerprint of the build an output directory holds
version_added: 0.2.0
description:
  - Writes C(OUTPUT_DIR/.osimage-build.json) after a build, with the build's fingerprint (computed by
    M(osimage.builder.validate_request), fact C(osimage_stamp.fingerprint)), the bootstrap cache entry the
    build used, the sha256 of every image the manifest names and of the manifest, and the passwords' crypt
    hashes (the file is mode 0600).
  - The next build of the same fingerprint finds the stamp and is "up to date" while the cache entry is
    unchanged and the checksums still match; nothing is rebuilt.
  - O(state=proven) records that the build's boot test passed; O(state=absent) forgets the build before its
    artifacts are replaced.
author: osimage developers (@osimage)
options:
  output_dir:
    description: The build's output directory (holds C(manifest.json) when O(state=present)).
    type: path
    required: true
  state:
    description: V(present) records a finished build, V(proven) its passed boot test, V(absent) removes the stamp.
    type: str
    choices: [present, proven, absent]
    default: present
  fingerprint:
    description: The build's fingerprint. Required unless O(state=absent).
    type: str
  bootstrap_fingerprint:
    description: The fingerprint of the bootstrap cache entry the build used (its tree cache key), fact
      C(osimage_stamp.bootstrap).
    type: str
  cache_dir:
    description: The cache directory holding the bootstrap tree cache.
    type: path
  secrets:
    description: The passwords' crypt hashes, C({root, users}) (kept so that an unchanged password reuses its hash).
    type: dict
    default: {}
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
- name: Record the build
  osimage.builder.build_stamp:
    output_dir: /srv/images/web
    fingerprint: "{{ osimage_stamp.fingerprint }}"
    bootstrap_fingerprint: "{{ osimage_stamp.bootstrap }}"
    cache_dir: /var/cache/osimage

- name: Record that its boot test passed
  osimage.builder.build_stamp:
    output_dir: /srv/images/web
    state: proven
    fingerprint: "{{ osimage_stamp.fingerprint }}"
'''

RETURN = r'''
path:
  description: The stamp file.
  returned: always
  type: str
  sample: /srv/images/web/.osimage-build.json
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import build_stamp
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.bootstrap import cached_tree_stamp


def artifacts(output_dir):
    """The manifest's images and the manifest itself, each with its sha256."""
    manifest = os.path.join(output_dir, 'manifest.json')
    with open(manifest, encoding='utf-8') as f:
        images = json.load(f).get('images', [])
    return [{'path': i['dest'], 'sha256': i['sha256']} for i in images] + \
        [{'path': manifest, 'sha256': stamp.sha256_file(manifest)}]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            output_dir=dict(type='path', required=True),
            state=dict(type='str', default='present', choices=['present', 'proven', 'absent']),
            fingerprint=dict(type='str'),
            bootstrap_fingerprint=dict(type='str'),
            cache_dir=dict(type='path'),
            secrets=dict(type='dict', default={}, no_log=True),
        ),
        required_if=[('state', 'present', ['fingerprint']), ('state', 'proven', ['fingerprint'])],
        supports_check_mode=True,
    )
    p = module.params
    path = build_stamp.stamp_path(p['output_dir'])
    if p['state'] == 'absent':
        changed = os.path.lexists(path)
        if changed and not module.check_mode:
            build_stamp.remove(p['output_dir'])
        module.exit_json(changed=changed, path=path)
    if p['state'] == 'proven':
        old = stamp.read(path) or {}
        if old.get('proven') and old.get('fingerprint') == p['fingerprint']:
            module.exit_json(changed=False, path=path)
        if not module.check_mode and not build_stamp.mark_proven(p['output_dir'], p['fingerprint']):
            module.fail_json(msg="%s does not record the build %s" % (path, p['fingerprint']), path=path)
        module.exit_json(changed=True, path=path)
    entry = None
    if p['bootstrap_fingerprint'] and p['cache_dir']:
        cached = stamp.read(cached_tree_stamp(p['cache_dir'], p['bootstrap_fingerprint']))
        if cached:
            entry = {'fingerprint': p['bootstrap_fingerprint'], 'created': cached['created']}
    if not module.check_mode:
        build_stamp.write(p['output_dir'], p['fingerprint'], p['secrets'], entry, artifacts(p['output_dir']))
    module.exit_json(changed=True, path=path)


if __name__ == '__main__':
    main()
