#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open a copy of an existing disk image as a mounted root tree, and close it again."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: retrofit_tree
short_description: Mount a copy of an existing disk image's file systems as a root tree, or undo it
version_added: 0.2.0
description:
  - With O(state=mounted), converts O(src) (any format C(qemu-img) reads) to a raw copy at O(path); O(src) is
    only read, never written.
  - Reads the copy's partition table with C(sfdisk --json) and each partition's file system with
    C(blkid -p --offset) on the file (no partition scanning, no device-mapper). An LVM physical volume, a LUKS
    volume, a RAID or ZFS member anywhere in the image, or an fstab entry on a file system osimage does not
    open, is refused with what was found.
  - Attaches a loop device at each openable partition's offset, checks its file system first (C(e2fsck -n),
    then C(e2fsck -p) when it is dirty; C(xfs_repair -n); C(btrfs check --readonly)) and says so in
    RV(fsck); mounts the partition that holds C(/etc/fstab) at O(root), then the file systems that fstab names
    (by UUID, LABEL, PARTUUID, PARTLABEL or device name) under it. Swap and the EFI system partition are left
    alone.
  - Every loop device and mount is undone when any step fails; on success they stay until O(state=absent),
    which unmounts everything under O(root) (deepest first), removes the O(root) directory (which detaches the
    copies of its mounts in other mount namespaces) and detaches every loop device over O(path).
  - Returns what the image runs (os-release, distro, release, arch) and its firmware, for the retrofit's request.
author: osimage developers (@osimage)
options:
  src:
    description: The image to retrofit (raw, qcow2, vmdk, vpc, vhdx, vdi). Required with O(state=mounted).
    type: path
  path:
    description: The raw working copy to write (and later convert to the outputs).
    type: path
    required: true
  root:
    description: The directory the root file system is mounted on.
    type: path
    required: true
  state:
    description: V(mounted) opens the copy, V(absent) closes it.
    type: str
    choices: [mounted, absent]
    default: mounted
  fsck:
    description: Check (and repair in the copy) each file system before mounting it.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Nothing is converted or mounted; C(changed) says whether it would be.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
requirements:
  - qemu-img, sfdisk, blkid, losetup and mount on the build host; e2fsck, xfs_repair or btrfs for the file
    systems the image has
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Open a copy of a vendor's image
  osimage.builder.retrofit_tree:
    src: /srv/images/appliance.qcow2
    path: /var/tmp/osimage/abc123/disk.raw
    root: /var/tmp/osimage/abc123/root
  register: opened

- name: Close it again
  osimage.builder.retrofit_tree:
    path: /var/tmp/osimage/abc123/disk.raw
    root: /var/tmp/osimage/abc123/root
    state: absent
'''

RETURN = r'''
path:
  description: The raw copy.
  returned: always
  type: str
source_format:
  description: The format C(qemu-img) read O(src) in.
  returned: state=mounted
  type: str
table:
  description: The partition table, C(label) (dos or gpt) and C(id).
  returned: state=mounted
  type: dict
partitions:
  description: Each partition with C(number), C(start) and C(bytes) in the image, C(type), C(partuuid), and the
    C(fstype), C(uuid) and C(label) blkid found.
  returned: state=mounted
  type: list
  elements: dict
mounts:
  description: What is mounted under O(root), parents first (C(mountpoint), C(partition), C(filesystem), C(uuid)).
  returned: state=mounted
  type: list
  elements: dict
skipped:
  description: fstab entries left unmounted (swap, the ESP, optional devices) with why.
  returned: state=mounted
  type: list
  elements: dict
fsck:
  description: Per checked file system, C(partition), C(filesystem), C(dirty) (the read-only check found a problem)
    and C(repaired).
  returned: state=mounted
  type: list
  elements: dict
image:
  description: What the image is, for the request (C(distro), C(release), C(arch), C(table), C(firmware),
    C(bytes)) and its C(os_release).
  returned: state=mounted
  type: dict
refused:
  description: True when the module failed because of the image (a layout or file system it does not open, an
    unknown distribution, errors fsck cannot repair), not because a step failed; C(osimage retrofit) exits 2.
  returned: failure
  type: bool
released:
  description: The mounts, directory and loop devices O(state=absent) undid.
  returned: state=absent
  type: list
  elements: str
'''

import contextlib
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import chroot
from ansible_collections.osimage.builder.plugins.module_utils import disk
from ansible_collections.osimage.builder.plugins.module_utils import filesystems
from ansible_collections.osimage.builder.plugins.module_utils import image_inspect as inspect
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils import tree
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner


def refuse(module, msg, **extra):
    """Fail for an image osimage cannot open safely, marked ``refused``: bad input, not a failed step."""
    module.fail_json(msg=msg, refused=True, **extra)


def copy_image(runner, src, path):
    """Convert ``src`` to a raw file at ``path`` (written under a temporary name); return the source format."""
    _rc, out, _err = runner.run(['qemu-img', 'info', '--output=json', src], what='reading %s' % src)
    fmt = json.loads(out)['format']
    with atomic.replacing(path) as tmp:
        runner.run(['qemu-img', 'convert', '-f', fmt, '-O', 'raw', src, tmp], what='copying %s' % src)
    return fmt


def probe(runner, path, table):
    """The partitions of the copy with what blkid finds in each."""
    parts = inspect.partitions(table)
    for part in parts:
        if inspect.extended(part, table['label']):
            continue
        rc, out, _err = runner.run(inspect.probe_argv(path, part), check=False)
        found = inspect.parse_probe(out) if rc == 0 else {}
        part.update(fstype=found.get('TYPE'), uuid=found.get('UUID'), label=found.get('LABEL'))
    return parts


def fsck(module, runner, dev, part):
    """Check ``part``'s file system on ``dev``; repair it (in the copy) when the check finds a problem."""
    check_argv, repair_argv = inspect.FSCK[part['fstype']]
    rc, _out, _err = runner.run(check_argv + [dev], check=False)
    result = {'partition': part['number'], 'filesystem': part['fstype'], 'dirty': rc != 0, 'repaired': False}
    if rc and repair_argv:
        rc, out, err = runner.run(repair_argv + [dev], check=False)
        if rc not in (0, 1):
            refuse(module, 'the %s file system of partition %d has errors %s cannot repair unattended (exit %d):'
                           ' %s; repair the image with %s -f -y first'
                           % (part['fstype'], part['number'], repair_argv[0], rc,
                              (err or out).strip()[-500:], repair_argv[0]))
        result['repaired'] = True
    return result


def attach(stack, runner, path, part):
    """A loop device over ``part`` of ``path``, detached when ``stack`` unwinds. Callbacks, not generator context
    managers: a generator would undo its work when the module's process ends, even after ``pop_all``."""
    dev = filesystems.attach_loop(runner, path, part['start'], part['bytes'])
    stack.callback(runner.run, ['losetup', '--detach', dev], check=False)
    return dev


def mount(stack, runner, dev, fstype, mnt, options=None):
    """``dev`` mounted on ``mnt``, unmounted when ``stack`` unwinds."""
    filesystems.mount(runner, dev, fstype, mnt, options)
    stack.callback(runner.run, ['umount', mnt], check=False)


def find_root(stack, runner, loops, candidates, root):
    """Mount each candidate at ``root`` until one holds etc/fstab and os-release; return it (left mounted)."""
    for part in candidates:
        with contextlib.ExitStack() as trial:
            mount(trial, runner, loops[part['number']], part['fstype'], root)
            if inspect.read_file(root, 'etc/fstab') is not None and (
                    inspect.read_file(root, 'etc/os-release') or inspect.read_file(root, 'usr/lib/os-release')):
                stack.enter_context(trial.pop_all())
                return part
    return None


def describe_image(module, root, table, parts, size):
    release = inspect.parse_os_release((inspect.read_file(root, 'etc/os-release')
                                        or inspect.read_file(root, 'usr/lib/os-release')).decode('utf-8', 'replace'))
    arch = inspect.arch_of(inspect.read_file(root, 'bin/sh', 64) or b'')
    if not arch:
        refuse(module, 'the image\'s /bin/sh is not a program for an architecture osimage builds (%s)'
                       % ', '.join(sorted(set(inspect.ELF_MACHINES.values()))))
    try:
        distro, name = inspect.distro_of(release, arch)
    except inspect.ImageError as exc:
        refuse(module, str(exc))
    return {'distro': distro, 'release': name, 'arch': arch, 'table': 'mbr' if table['label'] == 'dos' else 'gpt',
            'firmware': inspect.firmware(table['label'], parts), 'bytes': size, 'os_release': release}


def open_image(module, runner, stack, params):
    path, root = params['path'], params['root']
    result = {'source_format': copy_image(runner, params['src'], path)}
    table = disk.read_table(runner, path)
    parts = probe(runner, path, table)
    refused = inspect.refusals(parts)
    if refused:
        refuse(module, '%s cannot be opened safely: %s' % (params['src'], '; '.join(refused)), partitions=parts)
    candidates = inspect.root_candidates(parts)
    if not candidates:
        refuse(module, '%s has no file system osimage opens (%s); its partitions: %s'
                       % (params['src'], ', '.join(inspect.OPENABLE), inspect.describe(parts)), partitions=parts)
    loops = {p['number']: attach(stack, runner, path, p) for p in candidates}
    result['fsck'] = [fsck(module, runner, loops[p['number']], p) for p in candidates] if params['fsck'] else []
    os.makedirs(root, mode=0o755, exist_ok=True)
    root_part = find_root(stack, runner, loops, candidates, root)
    if not root_part:
        refuse(module, 'no partition of %s holds a root file system (etc/fstab and os-release); partitions: %s'
                       % (params['src'], inspect.describe(parts)), partitions=parts)
    fstab = inspect.parse_fstab(inspect.read_file(root, 'etc/fstab').decode('utf-8', 'replace'))
    try:
        mounts, skipped = inspect.plan_mounts(fstab, parts, root_part)
    except inspect.ImageError as exc:
        refuse(module, str(exc), partitions=parts)
    for item in mounts[1:]:
        os.close(tree.open_dir(root, item['mountpoint'], create=True))  # never through a symlink out of the tree
        mount(stack, runner, loops[item['partition']], item['filesystem'],
              os.path.join(root, item['mountpoint'].lstrip('/')), item['options'])
    table_info = {'label': table['label'], 'id': table.get('id')}
    result.update(table=table_info, partitions=parts, mounts=mounts, skipped=skipped,
                  loops=sorted(loops.values()), image=describe_image(module, root, table, parts, os.path.getsize(path)))
    return result


def close_image(runner, path, root):
    """Unmount everything under ``root``, remove the (now empty) directory and detach every loop device over
    ``path``; what was undone. Removing the mount point detaches the copies of its mounts that other mount
    namespaces hold (namespaces made while it was mounted), which would otherwise keep the loop devices busy."""
    released = []
    if os.path.isdir(root):
        for mnt in chroot.mounts_under(root):
            runner.run(['umount', mnt], what='unmounting %s' % mnt)
            released.append('mount ' + mnt)
        os.rmdir(root)
        released.append('directory ' + root)
    _rc, out, _err = runner.run(['losetup', '--associated', path], check=False)
    for line in out.splitlines():
        dev = line.split(':', 1)[0]
        runner.run(['losetup', '--detach', dev], what='detaching %s' % dev)
        released.append('loop ' + dev)
    return released


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path'),
            path=dict(type='path', required=True),
            root=dict(type='path', required=True),
            state=dict(type='str', default='mounted', choices=['mounted', 'absent']),
            fsck=dict(type='bool', default=True),
        ),
        required_if=[('state', 'mounted', ['src'])],
        supports_check_mode=True,
    )
    params = module.params
    runner = Runner(module)
    path, root = os.path.abspath(params['path']), os.path.abspath(params['root'])
    params.update(path=path, root=root)
    state_file = path + '.osimage-retrofit.json'
    if params['state'] == 'absent':
        busy = os.path.isdir(root) or os.path.exists(state_file)
        if module.check_mode:
            module.exit_json(changed=bool(busy), path=path, released=[])
        try:
            released = close_image(runner, path, root)
        except OSError as exc:
            module.fail_json(msg='%s still holds files after unmounting (%s): move them away and close again'
                                 % (root, exc.strerror), path=path)
        if os.path.exists(state_file):
            os.unlink(state_file)
        module.exit_json(changed=bool(released or busy), path=path, released=released)
    if not os.path.isfile(params['src']):
        module.fail_json(msg="src '%s' is not a file" % params['src'])
    if os.path.realpath(params['src']) == os.path.realpath(path):
        module.fail_json(msg='path must be a new copy, not the image itself: the input is never written')
    saved = stamp.read(state_file)
    if saved and os.path.isfile(path) and root in chroot.mounts_under(root):
        module.exit_json(changed=False, path=path, **saved)
    if module.check_mode:
        module.exit_json(changed=True, path=path)
    with contextlib.ExitStack() as stack:
        result = open_image(module, runner, stack, params)
        stamp.write(state_file, result)
        stack.pop_all()  # opened: the loop devices and mounts stay until state=absent
    module.exit_json(changed=True, path=path, **result)


if __name__ == '__main__':
    main()
