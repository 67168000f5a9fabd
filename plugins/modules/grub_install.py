#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install GRUB's BIOS boot code into a disk image file."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: grub_install
short_description: Write GRUB's BIOS boot sector and core image into a disk image file
version_added: 0.1.0
description:
  - Does what C(grub-bios-setup) does, on a plain image file and without probing any device, so it works
    where C(grub-install) cannot (no loop partitions, no udev, no device-mapper).
  - Writes O(core_img) into the BIOS boot partition (GPT) or the gap after the MBR (MBR tables), and the
    boot code of O(boot_img) into sector 0, keeping the partition table. Both block pointers are set to
    where the core image lies.
  - O(core_img) is made by C(grub-mkimage -O i386-pc) with the image's own GRUB, with an early config
    that finds the root file system by UUID (see the bootloader role).
  - Compares before writing; C(changed) is true only when bytes on the disk changed.
author: osimage developers (@osimage)
options:
  disk:
    description: The raw disk image.
    type: path
    required: true
  boot_img:
    description: GRUB's C(boot.img), usually C(usr/lib/grub/i386-pc/boot.img) in the image tree.
    type: path
    required: true
  core_img:
    description: The core image made for this disk.
    type: path
    required: true
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
- name: Make the image bootable from BIOS
  osimage.builder.grub_install:
    disk: /var/tmp/osimage/build1/disk.raw
    boot_img: /var/tmp/osimage/build1/root/usr/lib/grub/i386-pc/boot.img
    core_img: /var/tmp/osimage/build1/root/boot/grub/i386-pc/core.img
'''

RETURN = r'''
core_sector:
  description: First sector of the core image on the disk.
  returned: always
  type: int
  sample: 2048
core_sectors:
  description: Length of the core image in sectors.
  returned: always
  type: int
'''

import os
import struct

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils.disk import SECTOR, TYPES, read_table
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

# Offsets in GRUB's boot.img (include/grub/i386/pc/boot.h)
BPB_START = 0x3
BPB_END = 0x5a
KERNEL_SECTOR = 0x5c
DRIVE_CHECK = 0x66
NT_MAGIC = 0x1b8
PART_END = 0x200
# The block list at the end of the core image's first sector: start (u64), length (u16), segment (u16)
BLOCKLIST = SECTOR - 12


def core_area(module, runner, disk):
    """(first sector, sectors available) for the core image."""
    table = read_table(runner, disk)
    parts = table.get('partitions', [])
    if table['label'] == 'gpt':
        for part in parts:
            if part['type'].upper() == TYPES['bios_boot'][0]:
                return part['start'], part['size']
        module.fail_json(msg='the GPT disk has no BIOS boot partition for GRUB')
    first = min((p['start'] for p in parts), default=2048)
    return 1, first - 1


def boot_sector(boot, mbr, core_sector):
    """boot.img's code with the disk's BPB and partition table kept and its pointer set."""
    sector = bytearray(boot[:SECTOR])
    sector[BPB_START:BPB_END] = mbr[BPB_START:BPB_END]
    sector[DRIVE_CHECK:DRIVE_CHECK + 2] = b'\x90\x90'  # hard disk: trust the BIOS drive number
    sector[NT_MAGIC:PART_END] = mbr[NT_MAGIC:PART_END]
    struct.pack_into('<Q', sector, KERNEL_SECTOR, core_sector)
    return bytes(sector)


def core_image(core, core_sector):
    """The core image with its block list pointing at the sectors that follow its first one."""
    sectors = -(-len(core) // SECTOR)
    data = bytearray(core.ljust(sectors * SECTOR, b'\0'))
    struct.pack_into('<QH', data, BLOCKLIST, core_sector + 1, sectors - 1)
    return bytes(data)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            disk=dict(type='path', required=True),
            boot_img=dict(type='path', required=True),
            core_img=dict(type='path', required=True),
        ),
        supports_check_mode=True,
    )
    runner = Runner(module)
    params = module.params
    for key in ('disk', 'boot_img', 'core_img'):
        if not os.path.isfile(params[key]):
            module.fail_json(msg="%s '%s' is not a file" % (key, params[key]))
    with open(params['boot_img'], 'rb') as f:
        boot = f.read()
    with open(params['core_img'], 'rb') as f:
        core = f.read()
    if len(boot) != SECTOR:
        module.fail_json(msg="boot_img '%s' is %d bytes, not %d" % (params['boot_img'], len(boot), SECTOR))
    start, room = core_area(module, runner, params['disk'])
    core = core_image(core, start)
    if len(core) // SECTOR > room:
        module.fail_json(msg='the core image needs %d sectors but only %d are free for it'
                             % (len(core) // SECTOR, room))
    with open(params['disk'], 'r+b') as f:
        mbr = f.read(SECTOR)
        sector0 = boot_sector(boot, mbr, start)
        f.seek(start * SECTOR)
        changed = f.read(len(core)) != core or mbr != sector0
        if changed and not module.check_mode:
            f.seek(start * SECTOR)
            f.write(core)
            f.seek(0)
            f.write(sector0)
            f.flush()
            os.fsync(f.fileno())
    module.exit_json(changed=changed, core_sector=start, core_sectors=len(core) // SECTOR)


if __name__ == '__main__':
    main()
