# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request's ``disk``: what a layout must satisfy, and the partitions, volumes and mounts it makes.

``errors`` checks what the schema cannot (one ``rest``, an ESP for UEFI, sizes that fit the disk, ...);
``resolve`` turns a valid ``disk`` into the partitions (BIOS boot partition and ESP as the firmware needs),
LVM volumes, fstab entries, the root and /boot file systems the boot loader uses, and the packages the
image needs for them. Pure data: nothing here touches the host.
"""

from __future__ import annotations

from ansible_collections.osimage.builder.plugins.module_utils.disk import LayoutError, parse_size, plan
from ansible_collections.osimage.builder.plugins.module_utils.filesystems import new_uuid

MIB = 1024 * 1024
ESP = '/boot/efi'
DEFAULT_ESP = {'name': 'esp', 'size': '128MiB', 'filesystem': 'vfat', 'mountpoint': ESP, 'label': 'ESP'}
DEFAULT_ROOT = {'name': 'root', 'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/', 'label': 'root'}
# Smallest file system each mkfs makes (FAT32 needs 65525 clusters; mkfs.xfs refuses less than 300 MiB).
MIN_BYTES = {'ext4': 16 * MIB, 'xfs': 300 * MIB, 'btrfs': 128 * MIB, 'vfat': 33 * MIB, 'swap': 1 * MIB,
             'lvm': 8 * MIB}
ROOT_FILESYSTEMS = ('ext4', 'xfs', 'btrfs')
# Bootloader -> firmwares it boots.
BOOTLOADER_FIRMWARES = {'grub': ('bios', 'uefi', 'hybrid'), 'systemd-boot': ('uefi',), 'extlinux': ('bios',)}
# A Unified Kernel Image holds the kernel and the initramfs: the ESP must hold several.
UKI_ESP_SIZE = '512MiB'


def firmware_of(disk):
    """disk.firmware, by default hybrid on GPT and bios on MBR."""
    return disk.get('firmware') or ('bios' if disk.get('table') == 'mbr' else 'hybrid')


def for_arch(disk, machine):
    """A copy of ``disk`` with the architecture's defaults (distros.ARCHES): its firmware by table when none is
    given, and the partition type of /."""
    table = disk.get('table', 'gpt')
    firmware = disk.get('firmware') or (machine['firmware_default'].get(table) if isinstance(table, str) else None)
    return dict(disk, firmware=firmware, root_type=machine['root_type'])


def requested(disk):
    """The partitions the user asked for, or the default layout for the disk's firmware."""
    if disk.get('partitions'):
        return disk['partitions']
    firmware = firmware_of(disk)
    esp = dict(DEFAULT_ESP, size=UKI_ESP_SIZE) if disk.get('bootloader') == 'systemd-boot' else DEFAULT_ESP
    return ([esp] if firmware in ('uefi', 'hybrid') else []) + [DEFAULT_ROOT]


def _size(value):
    return value if value == 'rest' else parse_size(value)


def _check_items(items, key, errors):
    """Per-item rules for partitions or volumes; returns [(key, item)] of the items that are well-formed."""
    good = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get('filesystem'), str):
            continue
        here, fs = '%s[%d]' % (key, i), item['filesystem']
        size = item.get('size')
        if isinstance(size, bool) or not isinstance(size, (str, int)):
            continue
        try:
            size = _size(size)
        except LayoutError as exc:
            errors.append((here + '.size', str(exc)))
            continue
        if size != 'rest' and size < MIN_BYTES.get(fs, 0):
            errors.append((here + '.size', '%s is too small for %s: give at least %d MiB'
                           % (item['size'], fs, MIN_BYTES[fs] // MIB)))
        mnt = item.get('mountpoint')
        if fs in ('swap', 'lvm') and mnt:
            errors.append((here + '.mountpoint', 'a %s partition is not mounted; remove the mountpoint' % fs))
        elif fs not in ('swap', 'lvm') and not mnt:
            errors.append((here + '.mountpoint', 'a %s file system needs a mountpoint such as /data' % fs))
        elif fs == 'vfat' and mnt == '/':
            errors.append((here + '.filesystem', 'the root file system cannot be vfat; use ext4, xfs or btrfs'))
        elif fs == 'vfat' and mnt != ESP:
            errors.append((here + '.mountpoint', 'vfat is only for the EFI system partition: mount it at %s' % ESP))
        elif mnt == '/' and fs not in ROOT_FILESYSTEMS:
            errors.append((here + '.filesystem', 'the root file system must be ext4, xfs or btrfs'))
        if item.get('subvolumes') and fs != 'btrfs':
            errors.append((here + '.subvolumes', 'only btrfs has subvolumes; remove them or use filesystem btrfs'))
        good.append((here, dict(item, size=size)))
    return good


def _check_rest(good, key, errors):
    rest = [k for k, item in good if item['size'] == 'rest']
    if len(rest) > 1:
        errors.append((rest[1] + '.size', "only one of %s can take the rest; give the others a size" % key))


def _mounts_of(good):
    for here, item in good:
        if item.get('mountpoint'):
            yield here + '.mountpoint', item['mountpoint']
        for j, sub in enumerate(item.get('subvolumes') or []):
            if isinstance(sub, dict) and sub.get('mountpoint'):
                yield '%s.subvolumes[%d].mountpoint' % (here, j), sub['mountpoint']


def errors(disk, disk_bytes=None):
    """(key, message) for every rule of ``disk`` the schema cannot express."""
    if not isinstance(disk, dict):
        return []
    found = []
    firmware, table = firmware_of(disk), disk.get('table', 'gpt')
    bootloader = disk.get('bootloader', 'grub')
    if firmware == 'hybrid' and table == 'mbr':
        found.append(('disk.firmware', 'hybrid boot needs table gpt (a BIOS boot partition and an ESP); '
                                       'with table mbr use firmware bios or uefi'))
    if disk.get('secure_boot') is True and firmware == 'bios':
        found.append(('disk.secure_boot', 'Secure Boot needs UEFI: set disk.firmware to uefi or hybrid'))
    if disk.get('secure_boot') is True and bootloader != 'grub':
        found.append(('disk.secure_boot', 'Secure Boot uses the signed shim and GRUB: set disk.bootloader to grub'))
    if bootloader in BOOTLOADER_FIRMWARES and firmware not in BOOTLOADER_FIRMWARES[bootloader]:
        found.append(('disk.bootloader', '%s does not boot %s firmware; set disk.firmware to %s'
                      % (bootloader, firmware, ' or '.join(BOOTLOADER_FIRMWARES[bootloader]))))
    parts = requested(disk)
    if not isinstance(parts, list):
        return found
    good = _check_items(parts, 'disk.partitions', found)
    _check_rest(good, 'the partitions', found)
    lvm = disk.get('lvm')
    pvs = [k for k, p in good if p['filesystem'] == 'lvm']
    volumes = []
    if isinstance(lvm, dict) and isinstance(lvm.get('volumes'), list):
        volumes = _check_items(lvm['volumes'], 'disk.lvm.volumes', found)
        _check_rest(volumes, 'the volumes', found)
        if volumes and volumes[-1][1]['size'] != 'rest' and any(v['size'] == 'rest' for _k, v in volumes):
            found.append(('disk.lvm.volumes', "the volume that takes the rest must be the last one"))
        names = [v.get('name') for _k, v in volumes]
        if len(set(names)) != len(names):
            found.append(('disk.lvm.volumes', 'volume names must be unique'))
        if len(pvs) != 1:
            found.append(('disk.lvm', 'LVM needs exactly one partition with filesystem lvm (its physical volume)'))
    elif pvs:
        found.append((pvs[0] + '.filesystem', 'a partition with filesystem lvm needs disk.lvm with its volumes'))
    mounts = {}
    for here, mnt in _mounts_of(good + volumes):
        if mnt in mounts:
            found.append((here, '%s is mounted twice (also by %s)' % (mnt, mounts[mnt])))
        mounts.setdefault(mnt, here)
    if good and '/' not in mounts:
        found.append(('disk.partitions', 'nothing is mounted at /: give a partition or volume mountpoint /'))
    if firmware in ('uefi', 'hybrid') and good and not any(
            p['filesystem'] == 'vfat' and p.get('mountpoint') == ESP for _k, p in good):
        found.append(('disk.partitions', 'firmware %s needs an EFI system partition: add {size: 128MiB, '
                                         'filesystem: vfat, mountpoint: %s}' % (firmware, ESP)))
    on_lvm = {v.get('mountpoint') for _k, v in volumes}
    if on_lvm & {'/', '/boot'} and not any(p.get('mountpoint') == '/boot' for _k, p in good):
        found.append(('disk.partitions', 'the boot loader reads the kernel from a partition: with / on LVM '
                                         'add a /boot partition such as {size: 512MiB, filesystem: ext4, '
                                         'mountpoint: /boot}'))
    if bootloader == 'extlinux':
        found += _extlinux_errors(good)
    if not found and disk_bytes:
        found += _fit(disk, disk_bytes)
    return found


def _extlinux_errors(parts):
    """extlinux reads the kernel from an ext4 partition: the one mounted at /boot, or else at /."""
    by_mount = {p.get('mountpoint'): (k, p) for k, p in parts}
    here, part = by_mount.get('/boot') or by_mount.get('/') or (None, None)
    if part and part['filesystem'] != 'ext4':
        return [(here + '.filesystem', 'extlinux boots from ext4 here: make %s ext4, or add a /boot partition '
                                       'such as {size: 512MiB, filesystem: ext4, mountpoint: /boot}'
                 % part['mountpoint'])]
    return []  # / on LVM without a /boot partition is refused for every boot loader


def _fit(disk, disk_bytes):
    """Do the partitions fit the disk, and the volumes their physical volume?"""
    try:
        placed = plan(disk_bytes, disk.get('table', 'gpt'), partitions(disk))
    except LayoutError as exc:
        return [('disk.partitions', '%s; make the disk larger (disk.size) or the partitions smaller' % exc)]
    lvm = disk.get('lvm')
    pv = [p for p in placed if p['filesystem'] == 'lvm']
    if lvm and pv:
        # LVM keeps its metadata in the first MiB of the PV and allocates 4 MiB extents.
        room = (pv[0]['sectors'] * 512 - MIB) // (4 * MIB) * (4 * MIB)
        fixed = sum(-(-parse_size(v['size']) // (4 * MIB)) * 4 * MIB for v in lvm['volumes'] if v['size'] != 'rest')
        need = fixed + (4 * MIB if any(v['size'] == 'rest' for v in lvm['volumes']) else 0)
        if need > room:
            return [('disk.lvm.volumes', 'the volumes need %d MiB but the physical volume holds %d MiB'
                     % (need // MIB, room // MIB))]
    return []


def _type(part, table, root_type):
    if part['filesystem'] == 'vfat':
        return 'esp'
    if part['filesystem'] in ('swap', 'lvm'):
        return part['filesystem']
    return root_type if part.get('mountpoint') == '/' and table == 'gpt' else 'linux'


def _name(part, taken):
    mnt = part.get('mountpoint')
    base = part.get('name') or {'/': 'root', ESP: 'esp', None: part['filesystem']}.get(
        mnt, (mnt or '').strip('/').replace('/', '-'))
    name, n = base, 2
    while name in taken:
        name, n = '%s%d' % (base, n), n + 1
    taken.add(name)
    return name


def partitions(disk, build_id=None):
    """The partitions to make, in disk order, each with name, type, size (bytes or 'rest') and file system;
    with ``build_id``, each file system's UUID too. / gets the architecture's ``disk['root_type']`` (for_arch) on GPT."""
    firmware, table = firmware_of(disk), disk.get('table', 'gpt')
    out, taken = [], set()
    if table == 'gpt' and firmware in ('bios', 'hybrid') and disk.get('bootloader', 'grub') == 'grub':
        out.append({'name': 'bios', 'type': 'bios_boot', 'size': MIB, 'filesystem': 'none'})
        taken.add('bios')
    mounts = {p.get('mountpoint') for p in requested(disk)}
    boot_mount = '/boot' if '/boot' in mounts else '/'
    for req in requested(disk):
        part = {'name': _name(req, taken), 'type': _type(req, table, disk.get('root_type', 'linux')), 'size': _size(req['size']),
                'filesystem': req['filesystem']}
        for key in ('mountpoint', 'label', 'options'):
            if req.get(key):
                part[key] = req[key]
        if req.get('subvolumes'):
            part['subvolumes'] = [dict(s) for s in req['subvolumes']]
        if build_id and part['filesystem'] != 'lvm':
            part['uuid'] = new_uuid(part['filesystem'], '%s/partition/%s' % (build_id, part['name']))
        if table == 'mbr':
            part['bootable'] = req.get('mountpoint') == boot_mount and firmware == 'bios'
        out.append(part)
    return out


def volumes(disk, build_id):
    """The LVM logical volumes to make, each with a UUID for its file system."""
    lvm = disk.get('lvm') or {}
    return [dict(v, size=_size(v['size']), uuid=new_uuid(v['filesystem'], '%s/volume/%s' % (build_id, v['name'])))
            for v in lvm.get('volumes', [])]


def _mount_options(item):
    if item.get('options'):
        return list(item['options'])
    if item['filesystem'] == 'ext4' and item.get('mountpoint') == '/':
        return ['errors=remount-ro']
    return {'vfat': ['umask=0077'], 'swap': ['sw']}.get(item['filesystem'], ['defaults'])


def mounts(parts, vols, vg):
    """fstab entries, parents before children: {spec, mountpoint, filesystem, options, passno}."""
    entries = []
    for item in parts + vols:
        if item['filesystem'] in ('none', 'lvm'):
            continue
        spec = 'UUID=%s' % item['uuid']
        entries.append({'spec': spec, 'mountpoint': item.get('mountpoint') or 'none', 'filesystem': item['filesystem'],
                        'options': _mount_options(item), 'uuid': item['uuid'],
                        'device': '/dev/mapper/%s-%s' % (vg, item['name'].replace('-', '--')) if item in vols else None,
                        'passno': 0 if item['filesystem'] in ('swap', 'btrfs', 'xfs') else
                        (1 if item.get('mountpoint') == '/' else 2)})
        for sub in item.get('subvolumes') or []:
            if sub.get('mountpoint'):
                entries.append({'spec': spec, 'mountpoint': sub['mountpoint'], 'filesystem': 'btrfs',
                                'options': ['subvol=%s' % sub['name']] + list(sub.get('options') or []),
                                'uuid': item['uuid'], 'subvolume': sub['name'], 'passno': 0})
    return sorted(entries, key=lambda e: (e['mountpoint'] != 'none', e['mountpoint'].count('/'),
                                          e['mountpoint']))


def needs(disk, parts, vols):
    """What the image needs for this layout, as the distro table's neutral names (distros.packages): file
    system tools, LVM, the boot loader for each firmware, growpart."""
    need = [item['filesystem'] for item in parts + vols if item['filesystem'] in ('xfs', 'btrfs', 'vfat', 'lvm')]
    firmware = firmware_of(disk)
    if disk.get('bootloader') in ('systemd-boot', 'extlinux'):
        need.append(disk['bootloader'])
    elif firmware in ('uefi', 'hybrid'):
        need += ['grub-efi'] + (['secure-boot'] if disk.get('secure_boot') else [])
    if disk.get('bootloader', 'grub') == 'grub' and firmware in ('bios', 'hybrid'):
        need.append('grub-bios')
    if disk.get('grow', True):
        need.append('growpart')
    return sorted(set(need))


def resolve(disk, build_id):
    """Fill ``disk`` (defaults applied, valid) with partitions, volumes, mounts, root, boot and needs.

    File system UUIDs derive from ``build_id``: the same build resolved again (by the driver, the playbook
    or a later boot test) has the same UUIDs."""
    disk['firmware'] = firmware_of(disk)
    parts, vols = partitions(disk, build_id), volumes(disk, build_id)
    vg = (disk.get('lvm') or {}).get('vg', 'vg0')
    entries = mounts(parts, vols, vg)
    by_mount = {e['mountpoint']: e for e in entries}
    root, boot = by_mount['/'], by_mount.get('/boot', by_mount['/'])
    disk.update(partitions=parts, volumes=vols, mounts=entries, needs=needs(disk, parts, vols))
    disk['root'] = {'uuid': root['uuid'], 'filesystem': root['filesystem'],
                    'device': root.get('device') or 'UUID=%s' % root['uuid']}
    disk['boot'] = {'uuid': boot['uuid'], 'filesystem': boot['filesystem'],
                    'prefix': '' if '/boot' in by_mount else '/boot',
                    'partition': next((n for n, p in enumerate(parts, 1) if p.get('mountpoint') == boot['mountpoint']),
                                      None)}
    last = parts[-1]
    disk['grow'] = bool(disk.get('grow', True)) and (last.get('mountpoint') == '/' or (
        last['filesystem'] == 'lvm' and any(v.get('mountpoint') == '/' and v['size'] == 'rest' for v in vols)))
    if disk['grow']:
        # Before it grows, root cannot be larger than the disk less every partition and volume of a fixed size.
        fixed = sum(item['size'] for item in parts + (vols if last['filesystem'] == 'lvm' else [])
                    if item['size'] != 'rest')
        disk['grow_target'] = {'partition': len(parts), 'lvm': last['filesystem'] == 'lvm',
                               'device': root.get('device') or 'UUID=%s' % root['uuid'],
                               'unsized_root_bytes': disk['size_bytes'] - fixed}
    return disk
