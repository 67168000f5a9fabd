# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partition layouts: sizes, alignment, the sfdisk script that writes them and reading them back."""

from __future__ import annotations

import json
import re

SECTOR = 512
MIB = 1024 * 1024
ALIGN_SECTORS = MIB // SECTOR  # every partition starts on a 1 MiB boundary
GPT_BACKUP_SECTORS = 33        # backup GPT header + entries at the end of the disk

UNITS = {'': 1, 'b': 1, 'k': 1024, 'kib': 1024, 'm': MIB, 'mib': MIB, 'g': 1024 * MIB, 'gib': 1024 * MIB,
         't': 1024 ** 4, 'tib': 1024 ** 4, 'kb': 1000, 'mb': 1000 ** 2, 'gb': 1000 ** 3, 'tb': 1000 ** 4}
SIZE_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$')

# Partition types by role: GPT type GUID and MBR system id.
TYPES = {
    'bios_boot': ('21686148-6E6F-744E-6565-6446656E6549', None),
    'esp': ('C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'ef'),
    'linux': ('0FC63DAF-8483-4772-8E79-3D69D8477DE4', '83'),
    'root_x86_64': ('4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', '83'),
    'root_aarch64': ('B921B045-1DF0-41C3-AF44-4C6F280D3FAE', '83'),
    'swap': ('0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', '82'),
    'lvm': ('E6D6D379-F507-44C2-A23C-238F2A3DF928', '8e'),
}


class LayoutError(ValueError):
    """A partition layout that cannot be made."""


def parse_size(value):
    """Bytes in a size given as an integer (bytes) or a string such as '4GiB', '512M', '1.5G'."""
    if isinstance(value, bool):
        raise LayoutError('a size must be a number or a string such as 4GiB, not %r' % (value,))
    if isinstance(value, int):
        return value
    match = SIZE_RE.match(str(value))
    if not match or match.group(2).lower() not in UNITS:
        raise LayoutError("'%s' is not a size: use bytes or a number with a unit such as 512MiB or 4GiB" % (value,))
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def plan(disk_bytes, table, partitions):
    """Place partitions on a disk: return [{..., start, sectors}] in sectors, 1 MiB aligned.

    ``partitions`` entries carry ``type`` (a key of TYPES) and ``size`` (bytes, or 'rest' for the
    one partition that takes what is left).
    """
    if table not in ('gpt', 'mbr'):
        raise LayoutError("partition table '%s' is not gpt or mbr" % table)
    total = disk_bytes // SECTOR
    end = total - (GPT_BACKUP_SECTORS if table == 'gpt' else 0)
    rest = [p for p in partitions if p['size'] == 'rest']
    if len(rest) > 1:
        raise LayoutError('only one partition can take the rest of the disk')
    if table == 'mbr' and len(partitions) > 4:
        raise LayoutError('an MBR table holds at most 4 primary partitions')
    fixed = 0
    for part in partitions:
        if part['type'] not in TYPES:
            raise LayoutError("partition type '%s' is not one of %s" % (part['type'], ', '.join(sorted(TYPES))))
        if table == 'mbr' and TYPES[part['type']][1] is None:
            raise LayoutError("a '%s' partition exists only on GPT disks" % part['type'])
        if part['size'] != 'rest':
            fixed += _align_up(part['size'] // SECTOR + (1 if part['size'] % SECTOR else 0))
    free = _align_down(end) - ALIGN_SECTORS - fixed
    if free < (ALIGN_SECTORS if rest else 0):
        raise LayoutError('the partitions need %d MiB but the disk holds %d MiB'
                          % ((fixed + ALIGN_SECTORS) * SECTOR // MIB, disk_bytes // MIB))
    placed, start = [], ALIGN_SECTORS
    for part in partitions:
        sectors = free if part['size'] == 'rest' else _align_up(-(-part['size'] // SECTOR))
        placed.append(dict(part, start=start, sectors=sectors))
        start += sectors
    return placed


def sfdisk_script(table, placed, disk_id=None):
    """The sfdisk input that writes ``placed`` (from :func:`plan`)."""
    lines = ['label: %s' % ('gpt' if table == 'gpt' else 'dos'), 'unit: sectors']
    if disk_id:
        lines.append('label-id: %s' % disk_id)
    if table == 'gpt':
        lines.append('first-lba: %d' % ALIGN_SECTORS)
    for part in placed:
        gpt_type, mbr_type = TYPES[part['type']]
        fields = ['start=%d' % part['start'], 'size=%d' % part['sectors']]
        if table == 'gpt':
            fields.append('type=%s' % gpt_type)
            if part.get('partuuid'):
                fields.append('uuid=%s' % part['partuuid'])
            if part.get('name'):
                fields.append('name="%s"' % part['name'])
        else:
            fields.append('type=%s' % mbr_type)
            if part.get('bootable'):
                fields.append('bootable')
        lines.append(', '.join(fields))
    return '\n'.join(lines) + '\n'


def read_table(runner, image):
    """The partition table of an image file as ``sfdisk --json`` reads it back."""
    _rc, out, _err = runner.run(['sfdisk', '--json', image], what='reading the partition table')
    return json.loads(out)['partitiontable']


def _align_up(sectors):
    return -(-sectors // ALIGN_SECTORS) * ALIGN_SECTORS


def _align_down(sectors):
    return sectors // ALIGN_SECTORS * ALIGN_SECTORS
