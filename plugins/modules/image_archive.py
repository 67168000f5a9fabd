#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package a built image as an archive a platform imports: an OVA, a GCE tarball or the root tree."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_archive
short_description: Package an image as an OVA, a GCE image tarball or a root tree tarball, and check it
version_added: 0.1.0
description:
  - "V(ova): O(src) is a streamOptimized vmdk. Writes an OVF 1.0 descriptor for it, a manifest (.mf) with the
    SHA256 of the descriptor and the disk, and a ustar archive holding the descriptor, the manifest and the disk
    in that order, as OVF 1.0 requires (VMware and VirtualBox import it). Checked by reading it back: the order
    of the members, the descriptor parsed, every manifest hash recomputed, every referenced file and its size."
  - "V(gce): O(src) is the raw disk. Writes a gzip-compressed tar in GNU (oldgnu) format holding it as
    C(disk.raw), sparse, as Google Compute Engine requires. Checked by listing it: one member C(disk.raw) of
    the disk's size, in GNU format."
  - "V(tar): O(src) is the image's root tree. Writes it as a zstd-compressed tar with numeric owners, ACLs and
    extended attributes, sorted by name. Checked by listing it: it holds C(etc/os-release) and the tree's
    number of entries."
  - Written under a temporary name and renamed into place when complete and checked, with C(DEST.sha256)
    beside it. Always rewrites (C(changed=true)); in check mode nothing is written.
author: osimage developers (@osimage)
options:
  src:
    description: The vmdk (V(ova)), the raw disk (V(gce)) or the root tree directory (V(tar)).
    type: path
    required: true
  dest:
    description: The archive to write.
    type: path
    required: true
  format:
    description: What to write.
    type: str
    choices: [ova, gce, tar]
    required: true
  name:
    description: Name of the virtual machine in the OVF descriptor, and of its files in the OVA.
    type: str
    default: image
  memory_mib:
    description: Memory of the virtual machine in the OVF descriptor.
    type: int
    default: 1024
  vcpus:
    description: CPUs of the virtual machine in the OVF descriptor.
    type: int
    default: 2
  os_type:
    description:
      - The guest operating system the OVF descriptor names (V(ova)), the distro table's C(ovf) of the build.
      - Without it the descriptor names a generic 64-bit Linux (CIM 101, C(otherLinux64Guest)).
    type: dict
    suboptions:
      cim:
        description: The CIM_OperatingSystem OSType id, such as V(101) (Linux 64-Bit).
        type: str
        required: true
      vmware:
        description: VMware's guest id, such as V(otherLinux64Guest).
        type: str
        required: true
      description:
        description: The operating system's name in the descriptor.
        type: str
        required: true
requirements:
  - GNU tar, gzip and zstd on the build host; qemu-img for V(ova)
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
- name: Make an OVA from the streamOptimized vmdk
  osimage.builder.image_archive:
    src: /srv/images/web.vmdk
    dest: /srv/images/web.ova
    format: ova
    name: web
    os_type: "{{ osimage.os.ovf }}"

- name: Make a GCE image tarball
  osimage.builder.image_archive:
    src: /var/tmp/osimage/build1/disk.raw
    dest: /srv/images/web.gce.tar.gz
    format: gce
'''

RETURN = r'''
dest:
  description: The archive.
  returned: always
  type: str
format:
  description: V(ova), V(gce) or V(tar).
  returned: always
  type: str
bytes:
  description: Size of the archive in bytes.
  returned: unless check mode
  type: int
virtual_size:
  description: Virtual size of the disk inside (V(ova), V(gce)).
  returned: unless check mode
  type: int
sha256:
  description: sha256 of the archive.
  returned: unless check mode
  type: str
members:
  description: The archive's members in order (V(ova), V(gce)), or how many entries it holds (V(tar)).
  returned: unless check mode
  type: raw
seconds:
  description: Seconds packaging and checking took.
  returned: unless check mode
  type: float
checks:
  description: The checks made on the written archive, each with C(name) and C(detail).
  returned: unless check mode
  type: list
  elements: dict
'''

import gzip
import hashlib
import io
import json
import os
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import ovf
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

GNU_MAGIC = b'ustar  \x00'


def virtual_size(runner, path, fmt):
    _rc, out, _err = runner.run(['qemu-img', 'info', '--output=json', '-f', fmt, path], what='qemu-img info')
    return json.loads(out)['virtual-size']


def write_ova(runner, params, tmp):
    """The OVA of the vmdk in src; returns (virtual size, members, checks)."""
    name, vmdk = params['name'], params['src']
    capacity = virtual_size(runner, vmdk, 'vmdk')
    disk_file = '%s-disk1.vmdk' % name
    descriptor = ovf.descriptor(name, disk_file, os.path.getsize(vmdk), capacity, params['memory_mib'], params['vcpus'],
                                params['os_type'])
    mf = ovf.manifest({name + '.ovf': hashlib.sha256(descriptor).hexdigest(), disk_file: stamp.sha256_file(vmdk)})
    with tarfile.open(tmp, 'w', format=tarfile.USTAR_FORMAT) as tar:
        for member, data in ((name + '.ovf', descriptor), (name + '.mf', mf)):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        info = tar.gettarinfo(vmdk, arcname=disk_file)
        info.uid = info.gid = 0
        info.uname = info.gname = 'root'
        info.mode = 0o644
        with open(vmdk, 'rb') as f:
            tar.addfile(info, f)
    found = ovf.read_back(tmp)
    if found['capacity'] != capacity:
        raise ValueError('the descriptor says %d bytes, the disk has %d' % (found['capacity'], capacity))
    return capacity, found['members'], [
        {'name': 'ustar members in OVF order', 'detail': ', '.join(found['members'])},
        {'name': 'OVF 1.0 descriptor parsed', 'detail': 'one streamOptimized disk of %d bytes, guest %s (CIM %s, %s)'
         % (capacity, found['os_type']['description'], found['os_type']['cim'], found['os_type']['vmware'])},
        {'name': 'manifest SHA256 verified', 'detail': '%d files' % (len(found['members']) - 1)}]


def write_gce(runner, params, tmp):
    """The GCE tarball of the raw disk in src; returns (virtual size, members, checks)."""
    src = params['src']
    runner.run(['tar', '--format=oldgnu', '--sparse', '--gzip', '--create', '--file', tmp,
                '--directory', os.path.dirname(src), '--transform', 's|.*|disk.raw|', os.path.basename(src)],
               what='tar of disk.raw')
    size = os.path.getsize(src)
    with tarfile.open(tmp, 'r:gz') as tar:
        members = tar.getmembers()
    with gzip.open(tmp, 'rb') as f:
        magic = f.read(512)[257:265]
    names = [m.name for m in members]
    if names != ['disk.raw'] or members[0].size != size or magic != GNU_MAGIC:
        raise ValueError('the tarball holds %s (%s bytes, magic %r); GCE needs only disk.raw of %d bytes in GNU format'
                         % (names, [m.size for m in members], magic, size))
    return size, names, [{'name': 'GNU tar holding only disk.raw', 'detail': '%d bytes, sparse' % size}]


def write_tar(runner, params, tmp):
    """The zstd tarball of the root tree in src; returns (None, entry count, checks)."""
    runner.run(['tar', '--create', '--zstd', '--file', tmp, '--directory', params['src'], '--numeric-owner',
                '--acls', '--xattrs', '--xattrs-include=*', '--one-file-system', '--sort=name', '.'],
               what='tar of the root tree')
    _rc, out, _err = runner.run(['tar', '--list', '--zstd', '--file', tmp], what='listing the root tarball')
    names = out.splitlines()
    if './etc/os-release' not in names:
        raise ValueError('the root tarball has no ./etc/os-release among its %d entries' % len(names))
    return None, len(names), [{'name': 'tar lists the root tree', 'detail': '%d entries with ./etc/os-release' % len(names)}]


WRITERS = {'ova': write_ova, 'gce': write_gce, 'tar': write_tar}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            format=dict(type='str', required=True, choices=sorted(WRITERS)),
            name=dict(type='str', default='image'),
            memory_mib=dict(type='int', default=1024),
            vcpus=dict(type='int', default=2),
            os_type=dict(type='dict', options=dict(cim=dict(type='str', required=True),
                                                   vmware=dict(type='str', required=True),
                                                   description=dict(type='str', required=True))),
        ),
        supports_check_mode=True,
    )
    params = module.params
    fmt, dest = params['format'], os.path.abspath(params['dest'])
    wants_dir = fmt == 'tar'
    if (wants_dir and not os.path.isdir(params['src'])) or (not wants_dir and not os.path.isfile(params['src'])):
        module.fail_json(msg="src '%s' is not a %s" % (params['src'], 'directory' if wants_dir else 'file'))
    if module.check_mode:
        module.exit_json(changed=True, dest=dest, format=fmt)
    runner = Runner(module)
    started = time.monotonic()
    with runner.artifact(dest) as tmp:
        try:
            size, members, checks = WRITERS[fmt](runner, params, tmp)
        except (ValueError, tarfile.TarError) as exc:
            module.fail_json(msg='the %s archive failed its check: %s' % (fmt, exc))
        digest = stamp.publish(tmp, dest)
    module.exit_json(changed=True, dest=dest, format=fmt, bytes=os.path.getsize(dest), virtual_size=size,
                     sha256=digest, members=members, checks=checks, seconds=round(time.monotonic() - started, 1))


if __name__ == '__main__':
    main()
