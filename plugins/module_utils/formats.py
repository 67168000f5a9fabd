# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The output formats: one table for the request schema, the build and the checks after conversion.

``kind`` says how a format is made: ``disk`` by qemu-img from the raw disk, ``ova`` and ``gce`` are
archives of a disk, ``tar`` is the root tree, ``iso`` a live ISO of it. ``boots`` says whether the boot test can start it
(archives are unpacked first).
"""

from __future__ import annotations

MIB = 1024 ** 2

FORMATS = {
    'raw': {'suffix': 'raw', 'kind': 'disk', 'qemu': 'raw', 'options': {}, 'boots': True},
    'qcow2': {'suffix': 'qcow2', 'kind': 'disk', 'qemu': 'qcow2', 'options': {}, 'boots': True},
    'vmdk': {'suffix': 'vmdk', 'kind': 'disk', 'qemu': 'vmdk', 'options': {'subformat': 'streamOptimized'},
             'boots': True},
    # Azure: a fixed VHD whose virtual size is a whole number of MiB; force_size keeps the exact size
    # instead of qemu's CHS rounding.
    'vhd': {'suffix': 'vhd', 'kind': 'disk', 'qemu': 'vpc', 'options': {'subformat': 'fixed', 'force_size': 'on'},
            'boots': True},
    'vhdx': {'suffix': 'vhdx', 'kind': 'disk', 'qemu': 'vhdx', 'options': {}, 'boots': True},
    'vdi': {'suffix': 'vdi', 'kind': 'disk', 'qemu': 'vdi', 'options': {}, 'boots': True},
    'ova': {'suffix': 'ova', 'kind': 'archive', 'boots': True},
    'gce': {'suffix': 'gce.tar.gz', 'kind': 'archive', 'boots': True},
    'tar': {'suffix': 'tar.zst', 'kind': 'tree', 'boots': False},
    # A hybrid BIOS/UEFI live ISO of the root tree; booted from a CD-ROM drive.
    'iso': {'suffix': 'iso', 'kind': 'iso', 'boots': True},
}
DISK_FORMATS = tuple(f for f, spec in FORMATS.items() if spec['kind'] == 'disk')
ARCHIVE_FORMATS = tuple(f for f, spec in FORMATS.items() if spec['kind'] != 'disk')
# Formats a request may no longer name, with what to write instead.
RENAMED = {'vpc': "is now called 'vhd' (a fixed VHD, 1 MiB aligned, as Azure requires); write vhd"}
# qemu-img check exists for these (vpc and raw have no consistency check).
CHECKABLE = ('qcow2', 'vmdk', 'vhdx', 'vdi')
# Formats qemu-img compresses (-c), with the options that choose how: zstd writes the default image's qcow2
# (800 MiB plain) as 274 MiB in 3.5 s where zlib takes 23 s for 281 MiB.
COMPRESSIBLE = {'qcow2': {'compression_type': 'zstd'}}


def file_name(name, fmt):
    """The output file name of image ``name`` in format ``fmt``."""
    return '%s.%s' % (name, FORMATS[fmt]['suffix'])
