# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The output formats: one table for the request schema, the build and the checks after conversion.

``kind`` says how a format is made: ``disk`` by qemu-img from the raw disk, ``ova`` and ``gce`` are
archives of a disk, ``tar`` is the root tree, ``iso`` a live ISO of it, ``oci`` a container image of it. ``boots`` says whether the boot test can start it
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
    # The root tree as an OCI image: an oci-archive file, and its image layout directory NAME.oci beside it.
    'oci': {'suffix': 'oci.tar', 'kind': 'oci', 'boots': False},
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
# Formats whose clusters qemu-img may write out of order (-W), which overlaps compressing and writing: the default
# image's compressed qcow2 took 3.6 s instead of 4.5 s, 0.2 % larger. A streamOptimized vmdk or a fixed vhd must be
# written in order.
UNORDERED = ('qcow2',)


def file_name(name, fmt):
    """The output file name of image ``name`` in format ``fmt``."""
    return '%s.%s' % (name, FORMATS[fmt]['suffix'])


# formats: [oci]. What its layer leaves out unless oci.kernel is true: the kernel, its modules, initramfs and
# device trees, and the boot loader's files (tar --exclude patterns, anchored at the root tree's ./).
OCI_KERNEL_PATHS = ('./boot/*', './vmlinuz', './vmlinuz.old', './initrd.img', './initrd.img.old',
                    './usr/lib/modules/*', './lib/modules/*', './usr/lib/linux-image-*', './usr/lib/grub')
# What a container runtime mounts itself: these directories are kept, empty.
OCI_RUNTIME_PATHS = ('./dev/*', './proc/*', './sys/*', './run/*')
OCI_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'default': {},
    'properties': {
        'kernel': {'type': 'boolean', 'default': False,
                   'x-hint': 'true to keep the kernel, /boot and the boot loader in the layer (default false)'},
        'command': {'type': 'array', 'minItems': 1, 'default': ['/bin/bash'],
                    'prefixItems': [{'type': 'string', 'pattern': r'^/[^\s]*$',
                                     'x-hint': 'an absolute path such as /bin/bash or /sbin/init'}],
                    'items': {'type': 'string', 'x-hint': 'an argument as a string'},
                    'x-hint': 'a list: the program the container starts (an absolute path such as /bin/bash or '
                              '/sbin/init), then its arguments'},
    },
}


def oci_errors(request, wanted):
    """The oci key is the oci format's options: refused when ``wanted`` (the formats) does not name oci."""
    if 'oci' in request and 'oci' not in wanted:
        return [('oci', "holds the options of the oci format, which formats does not name: add oci to formats "
                        "or remove oci")]
    return []
