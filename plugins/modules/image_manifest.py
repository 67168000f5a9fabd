#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the manifest of a built image: what is inside it and how it was made."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_manifest
short_description: Write an image's manifest.json
version_added: 0.1.0
description:
  - Records the resolved request, distribution, every installed package with its version (read from the
    image tree's package database without entering it), the partition table and file system UUIDs, each
    output image with its size and sha256, and how many seconds each build stage took.
  - Written atomically; C(changed) is false when the file already holds the same content.
  - Secrets are never written; pass the request through the redaction of the validate_request action.
author: osimage developers (@osimage)
options:
  path:
    description: The manifest file to write.
    type: path
    required: true
  root:
    description: The image root tree, whose package database is read. Required without O(packages).
    type: path
  package_db:
    description: Package database format of the image (the distro table's C(package_db)). Required with O(root).
    type: str
    choices: [dpkg, rpm]
    aliases: [package_manager]
  packages:
    description:
      - The installed packages as an earlier run returned them (C(manifest.packages)), instead of reading O(root).
        A retrofit lists them while the image is open and writes its images after closing it.
    type: list
    elements: dict
  rpm_dbpath:
    description: Where the rpm database is inside the image, with O(package_db=rpm).
    type: str
    default: /usr/lib/sysimage/rpm
  request:
    description: The resolved request, secrets redacted.
    type: dict
    required: true
  disk:
    description: The result of M(osimage.builder.disk_image).
    type: dict
    required: true
  images:
    description:
      - The results of M(osimage.builder.image_convert) and M(osimage.builder.image_archive), one per format.
      - Each one's file, format, sizes, sha256, seconds and the checks made after conversion are recorded.
    type: list
    elements: dict
    required: true
  stages:
    description:
      - Stage start marks, each a two-item list of name and UNIX time, in build order.
      - A stage lasts until the next mark; the last one until now.
    type: list
    elements: list
    default: []
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
- name: Write the manifest
  osimage.builder.image_manifest:
    path: /srv/images/debian/manifest.json
    root: /var/tmp/osimage/build1/root
    package_db: "{{ osimage.os.package_db }}"
    request: "{{ osimage_public }}"
    disk: "{{ disk_result }}"
    images: "{{ convert_results.results }}"
    stages: "{{ osimage_stage_marks }}"
'''

RETURN = r'''
manifest:
  description: The manifest as written.
  returned: always
  type: dict
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import package_db
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

PARTITION_KEYS = ('name', 'type', 'start', 'sectors', 'filesystem', 'uuid', 'partuuid', 'label', 'mountpoint')
VOLUME_KEYS = ('name', 'offset', 'bytes', 'filesystem', 'uuid', 'label', 'mountpoint')
IMAGE_KEYS = ('format', 'dest', 'bytes', 'virtual_size', 'sha256', 'seconds', 'checks', 'members')


def installed_packages(params, runner):
    if params['package_db'] == 'rpm':
        return package_db.rpm_packages(params['root'], params['rpm_dbpath'], runner.run)
    return package_db.dpkg_packages(params['root'], runner.run)


def stage_seconds(marks, now):
    """[{name, seconds}] in build order: each stage lasts until the next mark, the last until now."""
    ends = [m[1] for m in marks[1:]] + [now]
    return [{'name': name, 'seconds': round(end - start, 1)} for (name, start), end in zip(marks, ends)]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            root=dict(type='path'),
            package_db=dict(type='str', choices=['dpkg', 'rpm'], aliases=['package_manager']),
            packages=dict(type='list', elements='dict'),
            rpm_dbpath=dict(type='str', default='/usr/lib/sysimage/rpm'),
            request=dict(type='dict', required=True),
            disk=dict(type='dict', required=True),
            images=dict(type='list', elements='dict', required=True),
            stages=dict(type='list', elements='list', default=[]),
        ),
        required_one_of=[('root', 'packages')],
        required_by={'root': 'package_db'},
        supports_check_mode=True,
    )
    params = module.params
    runner = Runner(module)
    req, disk = params['request'], params['disk']
    manifest = {
        'osimage_manifest': 1,
        'name': req.get('name'),
        'build_id': req.get('build_id'),
        'distro': {'name': req.get('distro'), 'release': req.get('release'), 'version': req.get('version'),
                   'arch': req.get('arch')},
        'request': req,
        'packages': params['packages'] if params['packages'] is not None else installed_packages(params, runner),
        'disk': {
            'size': disk.get('size'),
            'table': disk.get('table'),
            'partitions': [{k: p.get(k) for k in PARTITION_KEYS} for p in disk.get('partitions', [])],
            'volumes': [{k: v.get(k) for k in VOLUME_KEYS} for v in disk.get('volumes', [])],
        },
        'images': [{k: i.get(k) for k in IMAGE_KEYS if k in i} for i in params['images']],
        'stages': stage_seconds([(str(n), float(t)) for n, t in params['stages']], time.time()),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + '\n'
    old = None
    if os.path.isfile(params['path']):
        with open(params['path'], encoding='utf-8') as f:
            old = json.load(f)
    # Stage times differ on every run; only the image's content decides whether anything changed.
    changed = old is None or {k: v for k, v in old.items() if k != 'stages'} != \
        {k: v for k, v in json.loads(text).items() if k != 'stages'}
    if changed and not module.check_mode:
        atomic.write_text(params['path'], text)
    module.exit_json(changed=changed, manifest=manifest)


if __name__ == '__main__':
    main()
