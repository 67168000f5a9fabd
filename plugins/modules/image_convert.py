#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Convert a disk image to another format with qemu-img."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_convert
short_description: Convert a disk image with qemu-img, check the result and checksum it
version_added: 0.1.0
description:
  - Converts O(src) to O(dest) in O(format) with C(qemu-img convert), then checks the result before it is
    renamed into place, and writes C(DEST.sha256) beside it.
  - "Formats: V(raw), V(qcow2), V(vmdk) (streamOptimized, which VMware and OVA imports take), V(vhd) (a fixed VHD
    whose virtual size is kept exact with C(force_size), as Azure requires), V(vhdx), V(vdi)."
  - "Checks after conversion: C(qemu-img check) where the format has one (qcow2, vmdk, vhdx, vdi);
    C(qemu-img info) shows the format and the source's virtual size; C(qemu-img compare) reads the result
    back and finds it identical to O(src); a vmdk is streamOptimized; a vhd is fixed (its footer says so,
    the file is the virtual size plus the 512-byte footer) and its virtual size is a whole number of MiB."
  - The image is written under a temporary name and renamed into place only when complete, checked and
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
    description: Format of O(src) (qemu-img's name).
    type: str
    default: raw
  dest:
    description: Image to write.
    type: path
    required: true
  format:
    description: Output format.
    type: str
    choices: [raw, qcow2, vmdk, vhd, vhdx, vdi]
    required: true
  compress:
    description: Compress the output (qcow2 only, with zstd; a streamOptimized vmdk is always compressed). The
      disk's content is the same, only the file is smaller.
    type: bool
    default: false
  options:
    description: Further format options passed as C(-o key=value), added to the format's own.
    type: dict
    default: {}
  force:
    description: Convert even when O(dest) is up to date.
    type: bool
    default: false
requirements:
  - qemu-img (qemu-utils) on the build host
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
  - osimage.builder.progress
"""

EXAMPLES = r"""
- name: Make a compressed qcow2
  osimage.builder.image_convert:
    src: /var/tmp/osimage/build1/disk.raw
    dest: /srv/images/debian.qcow2
    format: qcow2
    compress: true

- name: Make a fixed VHD for Azure
  osimage.builder.image_convert:
    src: /var/tmp/osimage/build1/disk.raw
    dest: /srv/images/debian.vhd
    format: vhd
"""

RETURN = r"""
dest:
  description: The converted image.
  returned: always
  type: str
format:
  description: Its format.
  returned: always
  type: str
bytes:
  description: Size of the file, in bytes.
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
seconds:
  description: Seconds the conversion and its checks took.
  returned: when changed
  type: float
checks:
  description: The checks made after conversion, each with C(name) and C(detail).
  returned: when changed
  type: list
  elements: dict
"""

import json
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import progress
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.formats import CHECKABLE, COMPRESSIBLE, DISK_FORMATS, FORMATS, MIB, UNORDERED
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

VHD_FOOTER = 512
VHD_FIXED = 2


def info(runner, path, fmt=None):
    argv = ['qemu-img', 'info', '--output=json'] + (['-f', fmt] if fmt else []) + [path]
    _rc, out, _err = runner.run(argv, what='qemu-img info')
    return json.loads(out)


def up_to_date(runner, params):
    dest, src = params['dest'], params['src']
    if params['force'] or not os.path.isfile(dest) or not stamp.published_sha256(dest):
        return False
    if os.path.getmtime(dest) < os.path.getmtime(src):
        return False
    # A fixed VHD has its footer at the end only and probes as raw, so the format is named, not probed.
    return info(runner, dest, FORMATS[params['format']]['qemu']).get('format') == FORMATS[params['format']]['qemu']


def vhd_footer(path):
    """(cookie, disk type, current size) from a VHD's 512-byte footer."""
    with open(path, 'rb') as f:
        f.seek(-VHD_FOOTER, os.SEEK_END)
        footer = f.read(VHD_FOOTER)
    return footer[:8], struct.unpack('>I', footer[60:64])[0], struct.unpack('>Q', footer[48:56])[0]


def check(runner, params, path):
    """Check the converted file; return the checks made and its virtual size, or raise ValueError naming the check
    that failed."""
    fmt, qemu = params['format'], FORMATS[params['format']]['qemu']
    checks = []
    if fmt in CHECKABLE:
        runner.run(['qemu-img', 'check', '-f', qemu, path], what='qemu-img check of the %s' % fmt)
        checks.append({'name': 'qemu-img check', 'detail': 'no errors'})
    src_size = info(runner, params['src'], params['src_format'])['virtual-size']
    facts = info(runner, path, qemu)
    if facts['format'] != qemu or facts['virtual-size'] != src_size:
        raise ValueError('qemu-img info shows %s of %d bytes, expected %s of %d bytes'
                         % (facts['format'], facts['virtual-size'], qemu, src_size))
    checks.append({'name': 'qemu-img info', 'detail': '%s, virtual size %d' % (qemu, src_size)})
    if fmt == 'vmdk':
        create_type = facts.get('format-specific', {}).get('data', {}).get('create-type')
        if create_type != 'streamOptimized':
            raise ValueError('the vmdk is %s, not streamOptimized' % create_type)
        checks.append({'name': 'vmdk subformat', 'detail': create_type})
    if fmt == 'vhd':
        cookie, disk_type, size = vhd_footer(path)
        if cookie != b'conectix' or disk_type != VHD_FIXED or size != src_size or size % MIB \
                or os.path.getsize(path) != size + VHD_FOOTER:
            raise ValueError('the vhd is not a fixed VHD of %d bytes (a whole number of MiB) plus its footer: '
                             'cookie %r, disk type %d, size %d, file %d bytes'
                             % (src_size, cookie, disk_type, size, os.path.getsize(path)))
        checks.append({'name': 'vhd fixed and 1 MiB aligned', 'detail': 'virtual size %d = %d MiB' % (size, size // MIB)})
    rc, out, err = runner.run(['qemu-img', 'compare', '-f', params['src_format'], '-F', qemu, params['src'], path],
                              check=False)
    if rc != 0:
        raise ValueError('qemu-img compare: the %s does not read back as the source: %s' % (fmt, (out + err).strip()))
    checks.append({'name': 'reads back identical to the source', 'detail': 'qemu-img compare'})
    return checks, facts['virtual-size']


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            src_format=dict(type='str', default='raw'),
            dest=dict(type='path', required=True),
            format=dict(type='str', required=True, choices=list(DISK_FORMATS)),
            compress=dict(type='bool', default=False),
            options=dict(type='dict', default={}),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    runner = Runner(module)
    dest = os.path.abspath(params['dest'])
    fmt = params['format']
    if not os.path.isfile(params['src']):
        module.fail_json(msg="src '%s' is not a file" % params['src'])
    if params['compress'] and fmt not in COMPRESSIBLE:
        module.fail_json(msg="format '%s' cannot be compressed; compress works for %s" % (fmt, ', '.join(COMPRESSIBLE)))
    changed = not up_to_date(runner, params)
    if module.check_mode or not changed:
        result = dict(changed=changed, dest=dest, format=fmt)
        if not changed:
            result.update(bytes=os.path.getsize(dest), virtual_size=info(runner, dest, FORMATS[fmt]['qemu'])['virtual-size'],
                          sha256=stamp.published_sha256(dest))
        module.exit_json(**result)

    started = time.monotonic()
    argv = ['qemu-img', 'convert', '-f', params['src_format'], '-O', FORMATS[fmt]['qemu']]
    if fmt in UNORDERED:
        argv.append('-W')
    options = dict(FORMATS[fmt]['options'])
    if params['compress']:
        argv.append('-c')
        options.update(COMPRESSIBLE[fmt])
    for key, value in sorted(dict(options, **params['options']).items()):
        argv += ['-o', '%s=%s' % (key, value)]
    with runner.artifact(dest) as tmp:
        meter = None
        if progress.enabled():  # qemu-img -p prints how far it is
            argv.append('-p')
            meter = progress.QemuImgLines(progress.Reporter('converted', 'bytes'),
                                          info(runner, params['src'], params['src_format'])['virtual-size'])
        runner.run(argv + [params['src'], tmp], what='qemu-img convert to %s' % fmt, lines=meter)
        # The checksum is read on the other core while qemu-img checks the file and reads it back; it is
        # published only once every check passed.
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(stamp.sha256_file, tmp)
            try:
                checks, virtual_size = check(runner, params, tmp)
            except ValueError as exc:
                module.fail_json(msg='the converted %s failed its check: %s' % (fmt, exc))
            digest = stamp.publish(tmp, dest, hashing.result())
    module.exit_json(changed=True, dest=dest, format=fmt, bytes=os.path.getsize(dest), virtual_size=virtual_size,
                     sha256=digest, cmd=argv, checks=checks, seconds=round(time.monotonic() - started, 1))


if __name__ == '__main__':
    main()
