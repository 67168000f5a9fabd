#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Convert a disk image to another format with qemu-img."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_convert
short_description: Convert a disk image with qemu-img and checksum the result
version_added: 0.1.0
description:
  - Converts O(src) to O(dest) in O(format) with C(qemu-img convert), checks the result with
    C(qemu-img check) (formats that support it) and writes C(DEST.sha256) beside it.
  - The image is written under a temporary name and renamed into place only when complete and
    checksummed, so a failed conversion never removes or truncates an existing O(dest).
  - Nothing is done when O(dest) is newer than O(src), has the requested format and its checksum file
    exists, unless O(force=true).
author: osimage developers (@osimage)
options:
  src:
    description: Source image.
    type: path
    required: true
  src_format:
    description: Format of O(src).
    type: str
    default: raw
  dest:
    description: Image to write.
    type: path
    required: true
  format:
    description: Output format (qemu-img's name; V(vpc) is VHD).
    type: str
    choices: [raw, qcow2, vmdk, vhdx, vpc, vdi]
    required: true
  compress:
    description: Compress the output (qcow2 and vmdk only).
    type: bool
    default: false
  options:
    description: Format options passed as C(-o key=value), for example C(subformat=streamOptimized).
    type: dict
    default: {}
  force:
    description: Convert even when O(dest) is up to date.
    type: bool
    default: false
notes:
  - Supports check mode.
requirements:
  - qemu-img (qemu-utils) on the build host
'''

EXAMPLES = r'''
- name: Make a compressed qcow2
  osimage.builder.image_convert:
    src: /var/tmp/osimage/build1/disk.raw
    dest: /srv/images/debian.qcow2
    format: qcow2
    compress: true
'''

RETURN = r'''
dest:
  description: The converted image.
  returned: always
  type: str
format:
  description: Its format.
  returned: always
  type: str
bytes:
  description: Size of the file on disk, in bytes.
  returned: always
  type: int
virtual_size:
  description: Virtual disk size in bytes.
  returned: always
  type: int
sha256:
  description: sha256 of the file.
  returned: always
  type: str
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

CHECKABLE = ('qcow2', 'vhdx', 'vdi')
COMPRESSIBLE = ('qcow2', 'vmdk')


def info(runner, path):
    _rc, out, _err = runner.run(['qemu-img', 'info', '--output=json', path], what='qemu-img info')
    return json.loads(out)


def read_sha(path):
    try:
        with open(path + '.sha256', encoding='utf-8') as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def up_to_date(runner, params):
    dest, src = params['dest'], params['src']
    if params['force'] or not os.path.isfile(dest) or not read_sha(dest):
        return False
    if os.path.getmtime(dest) < os.path.getmtime(src):
        return False
    return info(runner, dest).get('format') == params['format']


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            src_format=dict(type='str', default='raw'),
            dest=dict(type='path', required=True),
            format=dict(type='str', required=True, choices=['raw', 'qcow2', 'vmdk', 'vhdx', 'vpc', 'vdi']),
            compress=dict(type='bool', default=False),
            options=dict(type='dict', default={}),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    runner = Runner(module)
    dest = os.path.abspath(params['dest'])
    if not os.path.isfile(params['src']):
        module.fail_json(msg="src '%s' is not a file" % params['src'])
    if params['compress'] and params['format'] not in COMPRESSIBLE:
        module.fail_json(msg="format '%s' cannot be compressed; compress works for %s"
                             % (params['format'], ', '.join(COMPRESSIBLE)))
    changed = not up_to_date(runner, params)
    if module.check_mode or not changed:
        result = dict(changed=changed, dest=dest, format=params['format'])
        if not changed:
            result.update(bytes=os.path.getsize(dest), virtual_size=info(runner, dest)['virtual-size'],
                          sha256=read_sha(dest))
        module.exit_json(**result)

    tmp = '%s.tmp-%d' % (dest, os.getpid())
    argv = ['qemu-img', 'convert', '-f', params['src_format'], '-O', params['format']]
    if params['compress']:
        argv.append('-c')
    for key, value in sorted(params['options'].items()):
        argv += ['-o', '%s=%s' % (key, value)]
    try:
        runner.run(argv + [params['src'], tmp], what='qemu-img convert to %s' % params['format'])
        if params['format'] in CHECKABLE:
            runner.run(['qemu-img', 'check', '-f', params['format'], tmp], what='qemu-img check')
        virtual_size = info(runner, tmp)['virtual-size']
        digest = stamp.sha256_file(tmp)
        with open(tmp + '.sha256', 'w', encoding='utf-8') as f:
            f.write('%s  %s\n' % (digest, os.path.basename(dest)))
        os.replace(tmp, dest)
        os.replace(tmp + '.sha256', dest + '.sha256')
    finally:
        for leftover in (tmp, tmp + '.sha256'):
            if os.path.exists(leftover):
                os.unlink(leftover)
    module.exit_json(changed=True, dest=dest, format=params['format'], bytes=os.path.getsize(dest),
                     virtual_size=virtual_size, sha256=digest, cmd=argv)


if __name__ == '__main__':
    main()
