#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install extlinux (syslinux for ext4) into a disk image file for BIOS boot."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: extlinux_install
short_description: Make a disk image file boot from BIOS with extlinux
version_added: 0.1.0
description:
  - Installs extlinux's C(ldlinux.sys) and C(ldlinux.c32) into O(directory) of the ext4 file system on
    partition O(partition), through a loop device limited to that partition (C(losetup --offset --sizelimit))
    and a mount under O(work_dir), so no partition scanning and no device-mapper. The mount and the loop
    device are released in every outcome.
  - Writes the boot code of O(mbr) (C(gptmbr.bin) for GPT, C(mbr.bin) for MBR, 440 bytes) into sector 0,
    keeping the disk signature and the partition table, and marks the partition as the one to boot,
    the C(LegacyBIOSBootable) attribute on GPT, the active flag on MBR.
  - extlinux reads its configuration, the kernel and the initramfs from that file system; the bootloader
    role writes C(extlinux.conf) into O(directory) in the image tree before the disk is made.
  - extlinux's own ext4 reader fails (C(I/O error)) on files with holes, and C(mke2fs -d) stores runs of zero
    blocks as holes, so every file C(extlinux.conf) loads (C(LINUX), C(KERNEL), C(INITRD)) is rewritten
    without holes.
  - C(changed) is false when the loader files are already in O(directory), the boot code is in place and
    the partition is already marked.
author: osimage developers (@osimage)
options:
  disk:
    description: The raw disk image.
    type: path
    required: true
  partition:
    description: Number (from 1) of the partition whose ext4 file system holds O(directory).
    type: int
    required: true
  directory:
    description: Directory of extlinux's files, from the root of that file system.
    type: str
    default: /boot/extlinux
  mbr:
    description: extlinux's boot code for the disk's table, for example C(usr/lib/EXTLINUX/gptmbr.bin) in the image tree.
    type: path
    required: true
  work_dir:
    description: Where the file system is mounted for the install (the build directory).
    type: path
    required: true
requirements:
  - extlinux, losetup and mount on the build host, and a kernel that mounts ext4
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
- name: Boot from BIOS with extlinux, /boot being the second partition
  osimage.builder.extlinux_install:
    disk: /var/tmp/osimage/build1/disk.raw
    partition: 2
    directory: /extlinux
    mbr: /var/tmp/osimage/build1/root/usr/lib/EXTLINUX/gptmbr.bin
    work_dir: /var/tmp/osimage/build1
'''

RETURN = r'''
table:
  description: The disk's partition table label, C(gpt) or C(dos).
  returned: always
  type: str
  sample: gpt
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils.disk import SECTOR, read_table
from ansible_collections.osimage.builder.plugins.module_utils.filesystems import SEEK_HOLE, loop_device
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

BOOT_CODE = 440  # bytes of sector 0 before the disk signature and the partition table
LEGACY_BOOTABLE = 'LegacyBIOSBootable'
LOADER_FILES = ('ldlinux.sys', 'ldlinux.c32')


def with_boot_code(sector0, code):
    """Sector 0 with ``code`` as its boot code; the disk signature and the partition table are kept."""
    if len(code) < BOOT_CODE:
        code = code.ljust(BOOT_CODE, b'\0')
    return code[:BOOT_CODE] + sector0[BOOT_CODE:SECTOR]


def is_marked(table, part):
    """Whether ``part`` (from ``sfdisk --json``) is the partition BIOS boot code chains to."""
    if table['label'] == 'gpt':
        return LEGACY_BOOTABLE in part.get('attrs', '').split()
    return bool(part.get('bootable'))


def loaded_files(config):
    """Paths (from the file system's root) of the files an extlinux configuration loads."""
    paths = []
    for line in config.splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0].upper() in ('LINUX', 'KERNEL', 'INITRD'):
            paths += [p for p in words[1].split(',') if p.strip()]
    return [p.strip() for p in paths]


def has_holes(path):
    with open(path, 'rb') as f:
        return os.lseek(f.fileno(), 0, SEEK_HOLE) < os.fstat(f.fileno()).st_size


def fill_holes(runner, mnt, directory):
    """Rewrite each file the configuration in ``directory`` loads that has holes; True when one had."""
    with open(os.path.join(mnt, directory.lstrip('/'), 'extlinux.conf'), encoding='utf-8') as f:
        config = f.read()
    sparse = [p for p in (os.path.join(mnt, rel.lstrip('/')) for rel in loaded_files(config)) if has_holes(p)]
    if not runner.module.check_mode:
        for path in sparse:
            runner.run(['cp', '--preserve=all', '--sparse=never', path, path + '.dense'],
                       what='rewriting %s without holes' % path)
            os.rename(path + '.dense', path)
    return bool(sparse)


def install_loader(runner, disk, part, directory, work_dir):
    """extlinux --install into ``directory`` of the partition's file system; True when anything changed."""
    mnt = tempfile.mkdtemp(prefix='extlinux-', dir=work_dir)
    try:
        with loop_device(runner, disk, part['start'] * SECTOR, part['size'] * SECTOR) as dev:
            runner.run(['mount', '-t', 'ext4', dev, mnt], what='mounting the file system extlinux boots from')
            try:
                target = os.path.join(mnt, directory.lstrip('/'))
                if not os.path.isfile(os.path.join(target, 'extlinux.conf')):
                    runner.module.fail_json(msg="there is no extlinux.conf in '%s' of partition %d: the bootloader "
                                                "role writes it" % (directory, part['number']))
                changed = fill_holes(runner, mnt, directory)
                if all(os.path.exists(os.path.join(target, f)) for f in LOADER_FILES):
                    return changed
                if not runner.module.check_mode:
                    runner.run([runner.which('extlinux'), '--install', target], what='extlinux --install')
                return True
            finally:
                runner.run(['umount', mnt], what='unmounting %s' % mnt)
    finally:
        os.rmdir(mnt)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            disk=dict(type='path', required=True),
            partition=dict(type='int', required=True),
            directory=dict(type='str', default='/boot/extlinux'),
            mbr=dict(type='path', required=True),
            work_dir=dict(type='path', required=True),
        ),
        supports_check_mode=True,
    )
    runner = Runner(module)
    params = module.params
    for key in ('disk', 'mbr'):
        if not os.path.isfile(params[key]):
            module.fail_json(msg="%s '%s' is not a file" % (key, params[key]))
    table = read_table(runner, params['disk'])
    parts = table.get('partitions', [])
    if not 1 <= params['partition'] <= len(parts):
        module.fail_json(msg='partition %d is not on the disk, which has %d' % (params['partition'], len(parts)))
    part = dict(parts[params['partition'] - 1], number=params['partition'])
    changed = install_loader(runner, params['disk'], part, params['directory'], params['work_dir'])
    if not is_marked(table, part):
        changed = True
        if not module.check_mode:
            mark = (['--part-attrs', params['disk'], str(part['number']), LEGACY_BOOTABLE] if table['label'] == 'gpt'
                    else ['--activate', params['disk'], str(part['number'])])
            runner.run(['sfdisk', '--quiet'] + mark, what='marking partition %d bootable' % part['number'])
    with open(params['mbr'], 'rb') as f:
        code = f.read()
    with open(params['disk'], 'r+b') as f:
        sector0 = f.read(SECTOR)
        wanted = with_boot_code(sector0, code)
        if wanted != sector0:
            changed = True
            if not module.check_mode:
                f.seek(0)
                f.write(wanted)
                f.flush()
                os.fsync(f.fileno())
    module.exit_json(changed=changed, table=table['label'])


if __name__ == '__main__':
    main()
