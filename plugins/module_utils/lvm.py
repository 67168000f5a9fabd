# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM without device-mapper: a volume group whose logical volumes are never activated.

The physical volume is a loop device over the partition's byte range (no partition scanning). LVM runs
with ``--driverloaded n`` (device-mapper is not used at all), a device filter that sees only that loop
device, no udev, no metadata backups on the host; logical volumes are created with ``--activate n
--zero n``. Where each volume lies is read back with ``lvs --segments -o seg_pe_ranges``, so its file
system can be written straight into the image at that offset; the guest's initramfs activates it at boot.
"""

from __future__ import annotations

import json
import re

EXTENT = 4 * 1024 * 1024
RANGE_RE = re.compile(r'^(?P<dev>\S+):(?P<first>\d+)-(?P<last>\d+)$')


def config(dev):
    """The --config of every LVM command: only ``dev``, no udev, nothing written to the host's /etc/lvm."""
    return ('devices { filter = [ "a|^%s$|", "r|.*|" ] obtain_device_list_from_udev = 0 scan = [ "/dev" ] } '
            'activation { udev_sync = 0 udev_rules = 0 monitoring = 0 } '
            'backup { backup = 0 archive = 0 }' % dev)


def _lvm(runner, dev, argv, what):
    return runner.run(['lvm'] + argv[:1] + ['--driverloaded', 'n', '--config', config(dev)] + argv[1:], what=what)


def create(runner, dev, vg, volumes):
    """Make ``dev`` a PV of a new VG ``vg`` holding ``volumes`` ([{name, bytes or None for the rest}]).

    Returns {volume name: byte offset within ``dev``} and checks that each volume is one contiguous segment.
    """
    _lvm(runner, dev, ['pvcreate', '--yes', '--force', dev], 'making the LVM physical volume')
    _lvm(runner, dev, ['vgcreate', '--yes', '--physicalextentsize', '%dk' % (EXTENT // 1024), vg, dev],
         'making the volume group %s' % vg)
    for vol in volumes:
        size = ['--extents', '100%FREE'] if vol['bytes'] is None else ['--size', '%db' % vol['bytes']]
        _lvm(runner, dev, ['lvcreate', '--yes', '--activate', 'n', '--zero', 'n', '--wipesignatures', 'n',
                           '--name', vol['name']] + size + [vg], 'making the logical volume %s/%s' % (vg, vol['name']))
    _rc, out, _err = _lvm(runner, dev, ['pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix',
                                        '-o', 'pv_name,pe_start', dev], 'reading the physical volume')
    pe_start = int(json.loads(out)['report'][0]['pv'][0]['pe_start'])
    _rc, out, _err = _lvm(runner, dev, ['lvs', '--segments', '--reportformat', 'json', '--units', 'b',
                                        '--nosuffix', '-o', 'lv_name,seg_pe_ranges,seg_size,vg_extent_size', vg],
                          'reading the logical volumes')
    return offsets(json.loads(out)['report'][0]['seg'], pe_start)


def offsets(segments, pe_start):
    """{LV name: (byte offset in the PV, bytes)} from ``lvs --segments`` JSON rows; one segment per LV."""
    found = {}
    for seg in segments:
        if seg['lv_name'] in found:
            raise ValueError('logical volume %s is not contiguous' % seg['lv_name'])
        match = RANGE_RE.match(seg['seg_pe_ranges'].strip())
        if not match:
            raise ValueError('cannot read the extents of %s: %r' % (seg['lv_name'], seg['seg_pe_ranges']))
        extent = int(seg['vg_extent_size'])
        found[seg['lv_name']] = (pe_start + int(match['first']) * extent, int(seg['seg_size']))
    return found
