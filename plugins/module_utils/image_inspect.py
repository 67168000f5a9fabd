# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An existing disk image, read without partition scanning or device-mapper: its partitions, the file system in
each (``blkid -p`` at the partition's offset in the file), its root's fstab mapped to those partitions, and what
it runs (os-release). Pure data but for :func:`probe`; refuses what cannot be opened safely, naming it.
"""

from __future__ import annotations

import os
import re
import shlex

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils.disk import SECTOR, TYPES

# File systems osimage opens (loop device at the partition's offset, checked, then mounted).
OPENABLE = ('ext2', 'ext3', 'ext4', 'xfs', 'btrfs')
# Found in a partition, never opened, with why: the image cannot be retrofitted safely while they hold a system.
REFUSED = {
    'LVM2_member': 'an LVM physical volume (its logical volumes need device-mapper, which osimage does not use)',
    'crypto_LUKS': 'a LUKS encrypted volume (opening it needs its key and device-mapper)',
    'linux_raid_member': 'a Linux software RAID member (md is not assembled here)',
    'zfs_member': 'a ZFS pool member (ZFS is not opened here)',
}
# fstab entries that are kept but not mounted for the retrofit: swap, and the EFI system partition (this host
# has no vfat driver; the image's boot files live under /boot).
LEFT_ALONE = ('swap', 'vfat')
# Per file system: the read-only check, and the repair run when it finds a problem (None: mounting repairs, as
# xfs replays its log). e2fsck exits 1 when it corrected errors; that is a success.
FSCK = {
    'ext2': (['e2fsck', '-n', '-f'], ['e2fsck', '-p', '-f']),
    'ext3': (['e2fsck', '-n', '-f'], ['e2fsck', '-p', '-f']),
    'ext4': (['e2fsck', '-n', '-f'], ['e2fsck', '-p', '-f']),
    'xfs': (['xfs_repair', '-n'], None),
    'btrfs': (['btrfs', 'check', '--readonly'], None),
}
NOT_BLOCK = ('proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'none', 'nfs', 'nfs4', 'cifs', 'overlay', 'bind',
             'efivarfs', 'securityfs', 'cgroup', 'cgroup2', 'debugfs', 'hugetlbfs', 'mqueue', 'fuse')
DEVICE_RE = re.compile(r'^/dev/(?:(?:[shvx]|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p|loop\d+p)(\d+)$')
BY_RE = re.compile(r'^/dev/disk/by-(uuid|label|partuuid|partlabel)/(.+)$')


class ImageError(ValueError):
    """An image osimage cannot open safely; the message names what was found."""


def partitions(table):
    """[{number, start, bytes, type, partuuid, name}] from ``sfdisk --json``'s partition table (starts in bytes)."""
    found = []
    for part in table.get('partitions', []):
        number = int(re.search(r'(\d+)$', part['node']).group(1))
        found.append({'number': number, 'start': part['start'] * SECTOR, 'bytes': part['size'] * SECTOR,
                      'type': str(part.get('type', '')).upper(), 'partuuid': (part.get('uuid') or '').lower(),
                      'name': part.get('name')})
    return found


def probe_argv(image, part):
    """``blkid`` low-level probing of one partition's bytes in the image file: no loop device, no scan."""
    return ['blkid', '-p', '-o', 'export', '--offset', str(part['start']), '--size', str(part['bytes']), image]


def parse_probe(text):
    """{TYPE, UUID, LABEL, ...} from ``blkid -o export``; {} when nothing was recognised."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep and key != 'DEVNAME':
            found[key] = value
    return found


def extended(part, table_label):
    """True for an MBR extended partition (a container, not a file system)."""
    return table_label == 'dos' and part['type'].lower() in ('5', 'f', '85')


def refusals(parts):
    """Messages for every partition that holds something osimage will not open (LVM, LUKS, RAID, ZFS)."""
    return ['partition %d holds %s' % (p['number'], REFUSED[p['fstype']]) for p in parts if p.get('fstype') in REFUSED]


def root_candidates(parts):
    """Partitions that may hold the root file system, largest first."""
    return sorted((p for p in parts if p.get('fstype') in OPENABLE), key=lambda p: -p['bytes'])


def parse_fstab(text):
    """Block-device entries of an fstab: [{spec, mountpoint, filesystem, options, passno}], in file order."""
    entries = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        fields = shlex.split(line) if '"' in line else line.split()
        if len(fields) < 3:
            continue
        spec, mnt, fstype = fields[0], fields[1].replace('\\040', ' '), fields[2]
        if fstype in NOT_BLOCK or spec in NOT_BLOCK:
            continue
        entries.append({'spec': spec, 'mountpoint': mnt, 'filesystem': fstype,
                        'options': fields[3].split(',') if len(fields) > 3 else ['defaults'],
                        'passno': int(fields[5]) if len(fields) > 5 and fields[5].isdigit() else 0})
    return entries


def find_partition(spec, parts):
    """The partition an fstab spec names (UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/by-*, /dev/sdXN,
    /dev/vdXN, /dev/nvme0n1pN ...); None when none does. A /dev/mapper name raises: it needs device-mapper."""
    spec = spec.strip('"')
    match = BY_RE.match(spec)
    if match:
        spec = '%s=%s' % ({'uuid': 'UUID', 'label': 'LABEL', 'partuuid': 'PARTUUID', 'partlabel': 'PARTLABEL'}
                          [match.group(1)], match.group(2))
    key, sep, value = spec.partition('=')
    if sep:
        field = {'UUID': 'uuid', 'LABEL': 'label', 'PARTUUID': 'partuuid', 'PARTLABEL': 'name'}.get(key.upper())
        if not field:
            return None
        want = value.strip('"')
        for part in parts:
            have = part.get(field) or ''
            if have == want or (field in ('uuid', 'partuuid') and have.lower() == want.lower()):
                return part
        return None
    if spec.startswith('/dev/mapper/') or re.match(r'^/dev/dm-\d+$', spec) or re.match(r'^/dev/[^/]+/[^/]+$', spec):
        raise ImageError("fstab mounts %s, a device-mapper (LVM or LUKS) volume, which osimage does not open" % spec)
    match = DEVICE_RE.match(spec)
    if match:
        return next((p for p in parts if p['number'] == int(match.group(1))), None)
    return None


def plan_mounts(fstab, parts, root):
    """The file systems to mount under the build root, parents first: [{mountpoint, partition, filesystem,
    options, uuid}], and the fstab entries left alone (swap, the ESP) or optional and absent, with why."""
    mounts, skipped = [], []
    by_mount = {}
    for entry in fstab:
        try:
            part = find_partition(entry['spec'], parts)
        except ImageError:
            if 'nofail' in entry['options'] or 'noauto' in entry['options']:
                skipped.append(dict(entry, why='a device-mapper volume, optional (nofail or noauto)'))
                continue
            raise
        if entry['mountpoint'] == '/' and part is None:
            part = root  # the root was found by its content; its fstab may name it as the kernel sees it
        if part is None:
            if 'nofail' in entry['options'] or 'noauto' in entry['options']:
                skipped.append(dict(entry, why='no partition of the image, optional (nofail or noauto)'))
                continue
            raise ImageError("fstab entry %s (%s) names no partition of the image; partitions found: %s"
                             % (entry['spec'], entry['mountpoint'], describe(parts)))
        fstype = part.get('fstype')
        if entry['filesystem'] in LEFT_ALONE or fstype in LEFT_ALONE:
            skipped.append(dict(entry, partition=part['number'], why='%s is not opened for a retrofit'
                                % (fstype or entry['filesystem'])))
            continue
        if fstype not in OPENABLE:
            raise ImageError("fstab mounts %s at %s from partition %d, which holds %s; osimage opens only %s"
                             % (entry['spec'], entry['mountpoint'], part['number'], what_is(part), ', '.join(OPENABLE)))
        if not entry['mountpoint'].startswith('/') or '..' in entry['mountpoint'].split('/'):
            raise ImageError("fstab mount point %r is not an absolute path" % entry['mountpoint'])
        if entry['mountpoint'] in by_mount:
            raise ImageError('fstab mounts %s twice' % entry['mountpoint'])
        item = {'mountpoint': entry['mountpoint'], 'partition': part['number'], 'filesystem': fstype,
                'options': [o for o in entry['options'] if o.startswith('subvol')], 'uuid': part.get('uuid')}
        by_mount[entry['mountpoint']] = item
        mounts.append(item)
    if '/' not in by_mount:
        mounts.append({'mountpoint': '/', 'partition': root['number'], 'filesystem': root['fstype'], 'options': [],
                       'uuid': root.get('uuid')})
    elif by_mount['/']['partition'] != root['number']:
        raise ImageError('fstab mounts partition %d at /, but the root file system was found in partition %d'
                         % (by_mount['/']['partition'], root['number']))
    mounts.sort(key=lambda m: (m['mountpoint'] != '/', m['mountpoint'].rstrip('/').count('/'), m['mountpoint']))
    return mounts, skipped


def what_is(part):
    if part.get('fstype') in REFUSED:
        return REFUSED[part['fstype']]
    return part.get('fstype') or 'no file system osimage recognises'


def describe(parts):
    return ', '.join('%d (%s%s)' % (p['number'], what_is(p), ', UUID %s' % p['uuid'] if p.get('uuid') else '')
                     for p in parts) or 'none'


def firmware(table_label, parts):
    """bios, uefi or hybrid, from the partitions: an ESP boots UEFI, an MBR or a BIOS boot partition BIOS."""
    esp = any(p['type'] in (TYPES['esp'][0], TYPES['esp'][1].upper()) for p in parts)
    bios = table_label == 'dos' or any(p['type'] == TYPES['bios_boot'][0] for p in parts)
    if esp and bios:
        return 'hybrid'
    return 'uefi' if esp else 'bios'


def parse_os_release(text):
    """The KEY=value pairs of an os-release file."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and not key.startswith('#'):
            found[key] = value.strip().strip('"\'')
    return found


def distro_of(os_release, arch):
    """(distro, release) of distros.DISTROS for an os-release; ImageError naming what osimage supports."""
    ids = [os_release.get('ID', '')] + os_release.get('ID_LIKE', '').split()
    distro = next((i for i in ids if i in distros.DISTROS), None)
    if not distro:
        raise ImageError("the image runs %s (ID=%s), which osimage does not know; it knows %s"
                         % (os_release.get('PRETTY_NAME', 'an unnamed system'), os_release.get('ID', ''),
                            ', '.join(distros.DISTROS)))
    releases = distros.DISTROS[distro]['releases']
    version = os_release.get('VERSION_ID', '')
    for candidate in (os_release.get('VERSION_CODENAME'), version, version.split('.')[0]):
        if candidate in releases:
            return distro, candidate
        for name, rel in releases.items():
            if candidate and rel.get('version') == candidate:
                return distro, name
    raise ImageError("the image runs %s %s, a release osimage does not know; it knows %s"
                     % (distro, os_release.get('VERSION_CODENAME') or version or '(no version)', ', '.join(releases)))


# ELF e_machine -> osimage arch
ELF_MACHINES = {0x3e: 'amd64', 0xb7: 'arm64'}


def arch_of(elf_header):
    """The osimage arch of a program from the first bytes of its ELF header; None when it is not one osimage knows."""
    if len(elf_header) < 20 or elf_header[:4] != b'\x7fELF':
        return None
    machine = int.from_bytes(elf_header[18:20], 'little' if elf_header[5] == 1 else 'big')
    return ELF_MACHINES.get(machine)


def read_file(root, relpath, limit=1 << 20):
    """The first ``limit`` bytes of a file of the tree, its symlinks resolved inside the tree (an absolute
    target is taken from the tree's root, as the image sees it); None when it is absent."""
    path = relpath.strip('/')
    for _hop in range(16):
        full = os.path.join(root, path)
        if os.path.islink(full):
            target = os.readlink(full)
            path = os.path.normpath(target.lstrip('/') if target.startswith('/')
                                    else os.path.join(os.path.dirname(path), target))
            if path.startswith('..'):
                return None
            continue
        if not os.path.isfile(full):
            return None
        with open(full, 'rb') as f:
            return f.read(limit)
    return None
