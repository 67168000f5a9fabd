#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partition a raw disk image and write each partition's file system into it."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: disk_image
short_description: Partition a raw disk image and fill its file systems from directory trees
version_added: 0.1.0
description:
  - Creates a sparse raw disk image at O(path) with a GPT or MBR partition table, every partition
    aligned to 1 MiB, and makes each partition's file system at its offset in the image, populated from a
    directory tree. With O(root), each mount point's subtree goes to its own file system.
  - ext4 is made in place (C(mke2fs -d -E offset=)); vfat (mkfs.vfat and mtools), btrfs (C(--rootdir)) and
    swap are made as files and copied to their offset. xfs and btrfs subvolumes are filled through a loop
    mount of their file, which is always unmounted and detached. No kernel partition scanning, no vfat
    driver, no device-mapper.
  - O(lvm) makes a volume group on the partition whose file system is V(lvm) through a loop device over its
    byte range, with logical volumes that are never activated; each volume's file system is written at the
    offset LVM reports for its extents.
  - The image is written under a temporary name and renamed into place only when complete; a failure
    never touches an existing image at O(path).
  - The partition table is read back with C(sfdisk --json) and checked against the plan.
  - A stamp of the inputs (including a fingerprint of each source tree) is kept beside the image;
    running again with the same inputs changes nothing.
author: osimage developers (@osimage)
options:
  path:
    description: The raw image file to create.
    type: path
    required: true
  size:
    description: Virtual size of the disk, in bytes or with a unit such as V(4GiB).
    type: raw
    required: true
  table:
    description: Partition table type.
    type: str
    choices: [gpt, mbr]
    default: gpt
  root:
    description:
      - The image's root tree. Each partition with a file system and a O(partitions[].mountpoint) but no
        O(partitions[].source) is filled from the tree's directory at that mount point.
    type: path
  partitions:
    description: The partitions, in disk order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Partition name (GPT) and a key in the result.
        type: str
        required: true
      type:
        description: What the partition is for.
        type: str
        choices: [bios_boot, esp, linux, root_x86_64, root_aarch64, swap, lvm]
        default: linux
      size:
        description: Size in bytes or with a unit, or V(rest) for the remaining space (one partition at most).
        type: raw
        required: true
      filesystem:
        description: File system made in the partition.
        type: str
        choices: [ext4, xfs, btrfs, vfat, swap, lvm, none]
        default: none
      uuid:
        description: File system UUID. A random one is used when omitted.
        type: str
      label:
        description: File system label.
        type: str
      source:
        description: Directory whose content fills the file system.
        type: path
      subvolumes:
        description: btrfs subvolumes, each filled from the tree's directory at its mount point.
        type: list
        elements: dict
        default: []
      mountpoint:
        description: Where the file system is mounted in the image; with O(root), where its content comes from.
        type: str
      bootable:
        description: Set the legacy boot flag (MBR only).
        type: bool
        default: false
  lvm:
    description: The volume group made on the V(lvm) partition.
    type: dict
    suboptions:
      vg:
        description: Volume group name.
        type: str
        required: true
      volumes:
        description: Logical volumes, in order (name, size, filesystem, uuid, label, mountpoint); the last one's size may be V(rest).
        type: list
        elements: dict
        required: true
requirements:
  - sfdisk (util-linux) and mke2fs (e2fsprogs) on the build host; mkfs.vfat and mcopy, mkfs.btrfs, mkfs.xfs,
    mkswap, losetup and lvm when a layout uses them
attributes:
  check_mode:
    support: full
    details: Reports the planned partition table.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
  - osimage.builder.progress
'''

EXAMPLES = r'''
- name: A GPT disk with a BIOS boot partition and an ext4 root
  osimage.builder.disk_image:
    path: /var/tmp/osimage/build1/disk.raw
    size: 3GiB
    partitions:
      - {name: bios, type: bios_boot, size: 1MiB}
      - {name: root, type: root_x86_64, size: rest, filesystem: ext4, mountpoint: /,
         uuid: 6f1d0c6e-3c1a-4d55-9d7b-3f8e3c7b2a10}
    root: /var/tmp/osimage/build1/root
'''

RETURN = r'''
path:
  description: The image.
  returned: always
  type: str
size:
  description: Virtual size in bytes.
  returned: always
  type: int
table:
  description: The partition table as read back by C(sfdisk --json) (planned table in check mode).
  returned: always
  type: dict
partitions:
  description: Each partition with its C(start) and C(sectors), file system and UUID.
  returned: always
  type: list
  elements: dict
volumes:
  description: Each logical volume with its C(offset) and C(bytes) in the image, file system and UUID.
  returned: always
  type: list
  elements: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import disk
from ansible_collections.osimage.builder.plugins.module_utils import filesystems
from ansible_collections.osimage.builder.plugins.module_utils import lvm
from ansible_collections.osimage.builder.plugins.module_utils import progress
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

FILESYSTEMS = ['ext4', 'xfs', 'btrfs', 'vfat', 'swap', 'lvm', 'none']


def clean_table(table, path):
    """The table as read back, named after the image rather than the temporary file it was made in."""
    parts = [{k: v for k, v in p.items() if k != 'node'} for p in table.get('partitions', [])]
    return dict(table, device=path, partitions=parts)


def check_table(module, table, placed):
    found = table.get('partitions', [])
    if len(found) != len(placed):
        module.fail_json(msg='the partition table read back has %d partitions, %d were planned'
                             % (len(found), len(placed)), table=table)
    for got, want in zip(found, placed):
        if (got['start'], got['size']) != (want['start'], want['sectors']):
            module.fail_json(msg="partition '%s' was written at %s+%s, planned at %s+%s"
                                 % (want['name'], got['start'], got['size'], want['start'], want['sectors']),
                             table=table)


def make_volumes(runner, image, part, spec):
    """Make the volume group on ``part``; return its volumes with their byte ranges in ``image``."""
    offset, size = part['start'] * disk.SECTOR, part['sectors'] * disk.SECTOR
    with filesystems.loop_device(runner, image, offset, size) as dev:
        found = lvm.create(runner, dev, spec['vg'], [
            {'name': v['name'], 'bytes': None if v['size'] == 'rest' else disk.parse_size(v['size'])}
            for v in spec['volumes']])
    return [dict(v, offset=offset + found[v['name']][0], bytes=found[v['name']][1]) for v in spec['volumes']]


def targets(placed, volumes):
    """Every file system to make: partitions and logical volumes with their byte ranges."""
    out = [dict(p, offset=p['start'] * disk.SECTOR, bytes=p['sectors'] * disk.SECTOR)
           for p in placed if p['filesystem'] in filesystems.MAKERS]
    return out + [v for v in volumes if v.get('filesystem', 'none') in filesystems.MAKERS]


def mountpoints(items):
    found = []
    for item in items:
        if item.get('mountpoint') and not item.get('source'):
            found.append(item['mountpoint'])
        found += [s['mountpoint'] for s in item.get('subvolumes') or [] if s.get('mountpoint')]
    return found


def make_all(runner, image, items, root, workdir):
    """Make each item's file system, filled from its mount point's subtree of ``root``."""
    if not root:
        for item in items:
            filesystems.make(runner, image, item, workdir)
        return
    with filesystems.split_tree(root, mountpoints(items), os.path.join(workdir, 'split')) as sources:
        for item in items:
            target = dict(item)
            if item.get('mountpoint') and not item.get('source'):
                target['source'] = sources[item['mountpoint']]
            target['subvolumes'] = [dict(s, source=sources.get(s.get('mountpoint'))) for s in item.get('subvolumes') or []]
            filesystems.make(runner, image, target, workdir)


ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    size=dict(type='raw', required=True),
    root=dict(type='path'),
    table=dict(type='str', default='gpt', choices=['gpt', 'mbr']),
    partitions=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        type=dict(type='str', default='linux', choices=sorted(disk.TYPES)),
        size=dict(type='raw', required=True),
        filesystem=dict(type='str', default='none', choices=FILESYSTEMS),
        uuid=dict(type='str'),
        label=dict(type='str'),
        source=dict(type='path'),
        mountpoint=dict(type='str'),
        bootable=dict(type='bool', default=False),
        subvolumes=dict(type='list', elements='dict', default=[]),
    )),
    lvm=dict(type='dict', options=dict(
        vg=dict(type='str', required=True),
        volumes=dict(type='list', elements='dict', required=True),
    )),
)


def plan(module, params):
    """(size, placed partitions, logical volumes) of the request, or fail naming what is wrong with it."""
    try:
        size = disk.parse_size(params['size'])
        parts = [dict(p, size=p['size'] if p['size'] == 'rest' else disk.parse_size(p['size']))
                 for p in params['partitions']]
        placed = disk.plan(size, params['table'], parts)
    except disk.LayoutError as exc:
        module.fail_json(msg=str(exc))
    pv = [p for p in placed if p['filesystem'] == 'lvm']
    if bool(pv) != bool(params['lvm']) or len(pv) > 1:
        module.fail_json(msg='lvm needs exactly one partition whose filesystem is lvm, and that partition needs lvm')
    for part in placed:
        if part.get('source') and not os.path.isdir(part['source']):
            module.fail_json(msg="source '%s' of partition '%s' is not a directory" % (part['source'], part['name']))
    return size, placed, [dict(v) for v in (params['lvm'] or {}).get('volumes', [])]


def inputs_key(params, size, placed):
    """Fingerprint of the layout and of every tree the file systems are filled from."""
    return stamp.fingerprint({'size': size, 'table': params['table'], 'partitions': placed, 'lvm': params['lvm'],
                              'root': stamp.tree_fingerprint(params['root']) if params['root'] else None,
                              'sources': {p['name']: stamp.tree_fingerprint(p['source'])
                                          for p in placed if p.get('source')}})


def assemble(module, runner, params, path, size, placed, volumes):
    """Write the disk under a temporary name and rename it into place; return (its table, the volumes)."""
    pv = [p for p in placed if p['filesystem'] == 'lvm']
    tmp = atomic.temp_name(path)
    workdir = tmp + '.d'
    os.makedirs(workdir)
    try:
        with open(tmp, 'wb') as f:
            f.truncate(size)
        runner.run(['sfdisk', '--quiet', '--no-reread', '--no-tell-kernel', tmp],
                   data=disk.sfdisk_script(params['table'], placed).encode('ascii'),
                   what='writing the partition table')
        table = disk.read_table(runner, tmp)
        check_table(module, table, placed)
        for got, part in zip(table['partitions'], placed):
            part['partuuid'] = got.get('uuid')
        if pv:
            volumes = make_volumes(runner, tmp, pv[0], dict(params['lvm'], volumes=volumes))
        written = progress.Reporter('written', 'bytes')
        if written.path and params['root']:  # the file system makers print nothing: watch the image fill
            written.total = progress.tree_bytes(params['root'])
        with progress.Sampler(written, lambda: progress.allocated(tmp)):
            make_all(runner, tmp, targets(placed, volumes), params['root'], workdir)
        os.replace(tmp, path)
    except (ValueError, OSError) as exc:
        module.fail_json(msg='making the disk failed: %s' % exc)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if os.path.isdir(workdir):
            os.rmdir(workdir)
    return table, volumes


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    runner = Runner(module)
    path = os.path.abspath(params['path'])
    size, placed, volumes = plan(module, params)
    key = inputs_key(params, size, placed)
    for item in placed + volumes:
        if item.get('filesystem', 'none') not in ('none', 'lvm') and not item.get('uuid'):
            item['uuid'] = filesystems.new_uuid(item['filesystem'])
    stamp_path = path + '.osimage-disk.json'
    result = dict(changed=False, path=path, size=size, partitions=placed, volumes=volumes)
    old = stamp.read(stamp_path)
    if old and old.get('fingerprint') == key and os.path.isfile(path):
        result.update(partitions=old['partitions'], volumes=old.get('volumes', []),
                      table=clean_table(disk.read_table(runner, path), path))
        module.exit_json(**result)
    result['changed'] = True
    if module.check_mode:
        result['table'] = {'label': params['table'], 'partitions': placed}
        module.exit_json(**result)
    table, volumes = assemble(module, runner, params, path, size, placed, volumes)
    stamp.write(stamp_path, {'fingerprint': key, 'partitions': placed, 'volumes': volumes})
    result.update(table=clean_table(table, path), volumes=volumes)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
