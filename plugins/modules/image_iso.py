#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a bootable hybrid BIOS/UEFI live ISO of an image's root tree."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_iso
short_description: Make a hybrid BIOS/UEFI live ISO of an image's root tree and check its boot catalog
version_added: 0.1.0
description:
  - Packs O(root) into C(live/filesystem.squashfs) (mksquashfs) beside the tree's kernel and initramfs
    (O(initrd)), which must hold the family's live boot hook (O(live_needs); the ISO boots with O(live_args)).
  - "BIOS: an El Torito no-emulation boot image made by the tree's own GRUB image maker (O(grub_mkimage)
    C(-O i386-pc-eltorito)), and GRUB's C(boot_hybrid.img) as the MBR, so the same file also boots from a USB stick."
  - "UEFI: an EFI System partition image (C(mkfs.vfat) on a file, C(EFI/BOOT/BOOTX64.EFI) copied in with mtools)
    holding the tree's own O(grub_mkimage) C(-O x86_64-efi) (the tree needs the family's GRUB EFI modules, the
    'live' need), appended as a GPT partition and named as the second El Torito boot image."
  - Both GRUB images find the ISO by its volume label and read C(/boot/grub/grub.cfg), which boots
    C(/live/vmlinuz) on the serial console and the screen with C(fstab=no), so that systemd does not wait
    for the disk's file systems (the ESP, swap, a separate C(/var)) that the tree's C(/etc/fstab) names.
  - Assembled with xorriso; then the boot catalog is read back (C(xorriso -report_el_torito)) and must list a
    BIOS and a UEFI boot image. Written under a temporary name and renamed into place, with C(DEST.sha256).
  - Always rewrites (C(changed=true)); in check mode nothing is written.
author: osimage developers (@osimage)
options:
  root:
    description: The image's root tree (not mounted, no chroot mounts).
    type: path
    required: true
  dest:
    description: The ISO file to write.
    type: path
    required: true
  work_dir:
    description: Scratch directory for the ISO's tree; removed afterwards.
    type: path
    required: true
  label:
    description: ISO 9660 volume label (upper-case letters, digits and _).
    type: str
    default: OSIMAGE_LIVE
  title:
    description: The GRUB menu entry's title.
    type: str
    default: Live system
  cmdline:
    description: Kernel arguments added after O(live_args) and the consoles.
    type: list
    elements: str
    default: []
  initrd:
    description: Glob of the initramfs files in the tree's C(/boot) (the distro table's C(initrd_glob)); the last one is used.
    type: str
    required: true
  live_needs:
    description: Paths in the tree that the live boot hook installs (the distro table's C(live_needs)), checked first.
    type: list
    elements: str
    required: true
  live_args:
    description: Kernel arguments that make the initramfs boot the squashfs (the distro table's C(live_args)).
    type: list
    elements: str
    required: true
  grub_mkimage:
    description: The tree's GRUB image maker, run in the build sandbox (the distro table's C(grub.mkimage)).
    type: str
    required: true
  grub_lib:
    description:
      - The tree's directory of GRUB platform directories (the distro table's C(grub.lib)), which must hold
        C(i386-pc/boot_hybrid.img) and C(x86_64-efi/linux.mod).
    type: path
    required: true
requirements:
  - xorriso, squashfs-tools, dosfstools and mtools on the build host
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
- name: Make a live ISO
  osimage.builder.image_iso:
    root: /var/tmp/osimage/build1/root
    dest: /srv/images/live.iso
    work_dir: /var/tmp/osimage/build1/iso
    initrd: "{{ osimage.os.initrd_glob }}"
    live_needs: "{{ osimage.os.live_needs }}"
    live_args: "{{ osimage.os.live_args }}"
    grub_mkimage: "{{ osimage.os.grub.mkimage }}"
    grub_lib: "{{ osimage.os.grub.lib }}"
'''

RETURN = r'''
dest:
  description: The ISO.
  returned: always
  type: str
bytes:
  description: Its size.
  returned: unless check mode
  type: int
sha256:
  description: Its sha256.
  returned: unless check mode
  type: str
boot_images:
  description: The El Torito boot images the catalog lists, each with C(platform) (BIOS or UEFI).
  returned: unless check mode
  type: list
  elements: dict
seconds:
  description: Seconds it took.
  returned: unless check mode
  type: float
checks:
  description: The checks made on the written ISO, each with C(name) and C(detail).
  returned: unless check mode
  type: list
  elements: dict
'''

import glob
import os
import re
import shutil
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import sandbox
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

COMMON_MODULES = ['iso9660', 'part_msdos', 'part_gpt', 'normal', 'configfile', 'linux', 'search', 'search_label',
                  'serial', 'terminal', 'echo', 'test']
BIOS_MODULES = ['biosdisk'] + COMMON_MODULES
EFI_MODULES = ['fat', 'efi_gop', 'all_video'] + COMMON_MODULES
EFI_IMG_KIB = 4096
CATALOG = re.compile(r'^El Torito boot img\s*:\s*(\d+)\s+(\S+)\s+')

GRUB_CFG = '''serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
menuentry '{title}' {{
  linux /live/vmlinuz {live} fstab=no console=tty0 console=ttyS0,115200 {cmdline}
  initrd /live/initrd.img
}}
'''


def grub_image(runner, root, mkimage, target, modules, label, out):
    """Run the tree's own GRUB image maker ``mkimage`` (in the build sandbox) and move its output to ``out``."""
    early = os.path.join(root, 'run', 'osimage-grub-early.cfg')
    made = os.path.join(root, 'run', 'osimage-grub-%s.img' % target)
    with open(early, 'w', encoding='utf-8') as f:
        f.write('search --no-floppy --set=root --label %s\nset prefix=($root)/boot/grub\n' % label)
    try:
        launcher = sandbox.install(os.path.join(runner.module.tmpdir, 'sandbox'))
        argv = [mkimage, '-O', target, '-p', '/boot/grub', '-c', '/run/osimage-grub-early.cfg',
                '-o', '/run/' + os.path.basename(made)] + modules
        runner.run(sandbox.command(root, launcher) + argv, what='%s -O %s in the tree' % (mkimage, target))
        shutil.move(made, out)
    finally:
        for path in (early, made):
            if os.path.exists(path):
                os.unlink(path)


def one(root, pattern, what):
    found = sorted(glob.glob(os.path.join(root, 'boot', pattern)))
    if not found:
        raise ValueError('the tree has no /boot/%s (%s)' % (pattern, what))
    return found[-1]


def boot_catalog(runner, iso):
    """[{'number', 'platform'}] of the El Torito catalog, read back with xorriso."""
    _rc, out, err = runner.run(['xorriso', '-indev', iso, '-report_el_torito', 'plain'], what='xorriso -report_el_torito')
    return [{'number': int(m.group(1)), 'platform': m.group(2)}
            for m in (CATALOG.match(line) for line in (out + err).splitlines()) if m]


def build(runner, params, stage, tmp):
    root, grub_lib = params['root'], params['grub_lib'].strip('/')
    hybrid_mbr = os.path.join(grub_lib, 'i386-pc', 'boot_hybrid.img')
    for needed in [hybrid_mbr, os.path.join(grub_lib, 'x86_64-efi', 'linux.mod')] + params['live_needs']:
        if not os.path.exists(os.path.join(root, needed.lstrip('/'))):
            raise ValueError("the tree has no /%s: a live ISO needs GRUB for BIOS and UEFI and the family's live "
                             "boot hook (the 'live' need)" % needed.lstrip('/'))
    os.makedirs(os.path.join(stage, 'live'))
    os.makedirs(os.path.join(stage, 'boot', 'grub', 'i386-pc'))
    shutil.copyfile(one(root, 'vmlinuz-*', 'kernel'), os.path.join(stage, 'live', 'vmlinuz'))
    shutil.copyfile(one(root, params['initrd'], 'initramfs'), os.path.join(stage, 'live', 'initrd.img'))
    with open(os.path.join(stage, 'boot', 'grub', 'grub.cfg'), 'w', encoding='utf-8') as f:
        f.write(GRUB_CFG.format(title=params['title'], live=' '.join(params['live_args']), cmdline=' '.join(params['cmdline'])))
    grub_image(runner, root, params['grub_mkimage'], 'i386-pc-eltorito', BIOS_MODULES, params['label'],
               os.path.join(stage, 'boot', 'grub', 'i386-pc', 'eltorito.img'))
    efi_grub = os.path.join(params['work_dir'], 'bootx64.efi')
    grub_image(runner, root, params['grub_mkimage'], 'x86_64-efi', EFI_MODULES, params['label'], efi_grub)
    efi_img = os.path.join(params['work_dir'], 'efi.img')
    runner.run(['mkfs.vfat', '-C', '-n', 'EFIBOOT', efi_img, str(EFI_IMG_KIB)], what='mkfs.vfat of the EFI image')
    runner.run(['mmd', '-i', efi_img, '::/EFI', '::/EFI/BOOT'], what='mmd')
    runner.run(['mcopy', '-i', efi_img, efi_grub, '::/EFI/BOOT/BOOTX64.EFI'], what='mcopy')
    runner.run(['mksquashfs', root, os.path.join(stage, 'live', 'filesystem.squashfs'), '-noappend', '-comp', 'zstd',
                '-quiet', '-no-progress'], what='mksquashfs of the root tree')
    runner.run(['xorriso', '-as', 'mkisofs', '-r', '-J', '-joliet-long', '-iso-level', '3', '-V', params['label'],
                '-partition_offset', '16', '--grub2-mbr', os.path.join(root, hybrid_mbr),
                '--mbr-force-bootable', '-append_partition', '2', '0xef', efi_img, '-appended_part_as_gpt',
                '-c', 'boot/boot.cat',
                '-b', 'boot/grub/i386-pc/eltorito.img', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
                '--grub2-boot-info',
                '-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::', '-no-emul-boot',
                '-o', tmp, stage], what='xorriso')
    images = boot_catalog(runner, tmp)
    platforms = sorted(i['platform'] for i in images)
    if platforms != ['BIOS', 'UEFI']:
        raise ValueError('the El Torito catalog lists %s; a BIOS and a UEFI boot image are needed' % (platforms or 'nothing'))
    return images, [{'name': 'El Torito catalog has a BIOS and a UEFI boot image', 'detail': 'xorriso -report_el_torito'}]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            work_dir=dict(type='path', required=True),
            label=dict(type='str', default='OSIMAGE_LIVE'),
            title=dict(type='str', default='Live system'),
            cmdline=dict(type='list', elements='str', default=[]),
            initrd=dict(type='str', required=True),
            live_needs=dict(type='list', elements='str', required=True),
            live_args=dict(type='list', elements='str', required=True),
            grub_mkimage=dict(type='str', required=True),
            grub_lib=dict(type='path', required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    dest = os.path.abspath(params['dest'])
    if not re.match(r'^[A-Z0-9_]{1,32}$', params['label']):
        module.fail_json(msg="label '%s' is not 1 to 32 upper-case letters, digits and _" % params['label'])
    if not os.path.isdir(params['root']):
        module.fail_json(msg="root '%s' is not a directory" % params['root'])
    if module.check_mode:
        module.exit_json(changed=True, dest=dest)
    runner = Runner(module)
    started = time.monotonic()
    stage = os.path.join(params['work_dir'], 'tree')
    shutil.rmtree(params['work_dir'], ignore_errors=True)
    os.makedirs(params['work_dir'], mode=0o700)
    try:
        with runner.artifact(dest) as tmp:
            try:
                images, checks = build(runner, params, stage, tmp)
            except ValueError as exc:
                module.fail_json(msg='making the ISO failed: %s' % exc)
            digest = stamp.publish(tmp, dest)
    finally:
        shutil.rmtree(params['work_dir'], ignore_errors=True)
    module.exit_json(changed=True, dest=dest, format='iso', bytes=os.path.getsize(dest), sha256=digest,
                     boot_images=images, checks=checks, seconds=round(time.monotonic() - started, 1))


if __name__ == '__main__':
    main()
