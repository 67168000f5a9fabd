"""Reading an image osimage did not build: partitions from sfdisk, file systems from blkid at their offsets, the
fstab mapped to partitions, and the refusals. Images are sparse files made with sfdisk and mke2fs (no root)."""

import json
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import image_inspect as inspect

MIB = 1024 * 1024
needs_tools = pytest.mark.skipif(not all(shutil.which(t) for t in ('sfdisk', 'mke2fs', 'blkid', 'mkswap')),
                                 reason='needs sfdisk, mke2fs, blkid and mkswap')


def _run(argv, data=None):
    return subprocess.run(argv, input=data, capture_output=True, text=True, check=True).stdout


def _read(image):
    """What retrofit_tree reads: the table, then blkid at each partition's offset."""
    table = json.loads(_run(['sfdisk', '--json', image]))['partitiontable']
    parts = inspect.partitions(table)
    for part in parts:
        proc = subprocess.run(inspect.probe_argv(image, part), capture_output=True, text=True, check=False)
        found = inspect.parse_probe(proc.stdout) if proc.returncode == 0 else {}
        part.update(fstype=found.get('TYPE'), uuid=found.get('UUID'), label=found.get('LABEL'))
    return table, parts


@pytest.fixture(name='mbr_image')
def fixture_mbr_image(tmp_path):
    """MBR: ext4 /boot (label boot), ext4 / (label root), swap; as a hand-made image would be."""
    image = str(tmp_path / 'disk.raw')
    with open(image, 'wb') as f:
        f.truncate(128 * MIB)
    _run(['sfdisk', '--quiet', image], 'label: dos\nstart=2048, size=32768, type=83, bootable\n'
                                       'start=34816, size=163840, type=83\nstart=198656, type=82\n')
    _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'boot', '-U', '11111111-2222-3333-4444-555555555555',
          '-E', 'offset=%d' % (2048 * 512), image, '16384k'])
    _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'root', '-E', 'offset=%d' % (34816 * 512), image, '81920k'])
    swap = str(tmp_path / 'swap')
    with open(swap, 'wb') as f:
        f.truncate(60 * 512 * 1024)
    _run(['mkswap', '-L', 'swap', swap])
    with open(swap, 'rb') as src, open(image, 'r+b') as dst:
        dst.seek(198656 * 512)
        dst.write(src.read())
    return image


@needs_tools
def test_partitions_and_file_systems_are_read_at_their_offsets(mbr_image):
    table, parts = _read(mbr_image)
    assert table['label'] == 'dos'
    assert [(p['number'], p['start'], p['fstype'], p['label']) for p in parts] == [
        (1, 2048 * 512, 'ext4', 'boot'), (2, 34816 * 512, 'ext4', 'root'), (3, 198656 * 512, 'swap', 'swap')]
    assert parts[0]['uuid'] == '11111111-2222-3333-4444-555555555555'
    assert [p['number'] for p in inspect.root_candidates(parts)] == [2, 1]
    assert inspect.firmware(table['label'], parts) == 'bios'
    assert inspect.refusals(parts) == []


@needs_tools
@pytest.mark.parametrize('boot_spec,root_spec,swap_spec', [
    ('UUID=11111111-2222-3333-4444-555555555555', 'LABEL=root', 'LABEL=swap'),
    ('/dev/sda1', '/dev/sda2', '/dev/sda3'),
    ('/dev/vda1', '/dev/disk/by-label/root', '/dev/nvme0n1p3'),
    ('LABEL=boot', '/dev/root', 'UUID=nothing-like-it'),
])
def test_fstab_entries_map_to_partitions(mbr_image, boot_spec, root_spec, swap_spec):
    _table, parts = _read(mbr_image)
    fstab = inspect.parse_fstab('# a comment\nproc /proc proc defaults 0 0\n%s / ext4 errors=remount-ro 0 1\n'
                                '%s /boot ext4 defaults 0 2\n%s none swap sw,nofail 0 0\n'
                                'tmpfs /tmp tmpfs defaults 0 0\n' % (root_spec, boot_spec, swap_spec))
    assert [e['mountpoint'] for e in fstab] == ['/', '/boot', 'none']
    mounts, skipped = inspect.plan_mounts(fstab, parts, parts[1])
    assert [(m['mountpoint'], m['partition'], m['filesystem']) for m in mounts] == [('/', 2, 'ext4'), ('/boot', 1, 'ext4')]
    assert [s['mountpoint'] for s in skipped] == ['none']


@needs_tools
def test_partuuid_names_a_gpt_partition(tmp_path):
    image = str(tmp_path / 'gpt.raw')
    with open(image, 'wb') as f:
        f.truncate(64 * MIB)
    _run(['sfdisk', '--quiet', image], 'label: gpt\nstart=2048, size=2048, type=21686148-6E6F-744E-6565-6446656E6549\n'
                                       'start=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, '
                                       'uuid=6A3B6C0E-0000-4000-8000-000000000001\n')
    _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-E', 'offset=%d' % (4096 * 512), image, '40000k'])
    table, parts = _read(image)
    assert inspect.firmware(table['label'], parts) == 'bios'
    assert parts[0]['fstype'] is None
    mounts, _skipped = inspect.plan_mounts(
        inspect.parse_fstab('PARTUUID=6a3b6c0e-0000-4000-8000-000000000001 / ext4 defaults 0 1\n'), parts, parts[1])
    assert mounts[0]['partition'] == 2


@needs_tools
def test_an_lvm_physical_volume_is_refused_by_name(tmp_path):
    image = str(tmp_path / 'lvm.raw')
    with open(image, 'wb') as f:
        f.truncate(64 * MIB)
    _run(['sfdisk', '--quiet', image], 'label: dos\nstart=2048, size=20480, type=83\nstart=22528, type=8e\n')
    # The label pvcreate writes in sector 1: LABELONE, its sector, CRC, header offset, LVM2 001 and a PV UUID.
    label = bytearray(512)
    label[0:8], label[24:64] = b'LABELONE', b'LVM2 001' + b'abcdefghijklmnopqrstuvwxyz012345'
    struct.pack_into('<QxxxxI', label, 8, 1, 32)
    struct.pack_into('<I', label, 16, ~zlib.crc32(bytes(label[20:]), ~0xf597a6cf & 0xffffffff) & 0xffffffff)
    with open(image, 'r+b') as f:
        f.seek(22528 * 512 + 512)
        f.write(label)
    _table, parts = _read(image)
    assert parts[1]['fstype'] == 'LVM2_member'
    assert inspect.refusals(parts) == ['partition 2 holds ' + inspect.REFUSED['LVM2_member']]


def test_refused_and_unknown_file_systems_are_named():
    parts = [{'number': 1, 'start': MIB, 'bytes': 10 * MIB, 'type': '83', 'partuuid': '', 'fstype': 'ext4',
              'uuid': 'a', 'label': None},
             {'number': 2, 'start': 11 * MIB, 'bytes': 10 * MIB, 'type': '83', 'partuuid': '', 'fstype': 'crypto_LUKS',
              'uuid': 'b', 'label': None},
             {'number': 3, 'start': 21 * MIB, 'bytes': 10 * MIB, 'type': '83', 'partuuid': '', 'fstype': 'ntfs',
              'uuid': 'c', 'label': None}]
    assert inspect.refusals(parts) == ['partition 2 holds ' + inspect.REFUSED['crypto_LUKS']]
    with pytest.raises(inspect.ImageError, match='partition 3, which holds ntfs'):
        inspect.plan_mounts(inspect.parse_fstab('UUID=a / ext4 defaults 0 1\nUUID=c /data ntfs defaults 0 0\n'),
                            parts, parts[0])
    with pytest.raises(inspect.ImageError, match='device-mapper'):
        inspect.plan_mounts(inspect.parse_fstab('/dev/mapper/vg0-root / ext4 defaults 0 1\n'), parts, parts[0])
    with pytest.raises(inspect.ImageError, match='names no partition'):
        inspect.plan_mounts(inspect.parse_fstab('UUID=a / ext4 defaults 0 1\nUUID=zz /srv ext4 defaults 0 2\n'),
                            parts, parts[0])


def test_os_release_names_the_distro_and_release():
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    assert inspect.distro_of(inspect.parse_os_release(text), 'amd64') == ('debian', 'bookworm')
    assert inspect.distro_of({'ID': 'debian', 'VERSION_ID': '13'}, 'amd64') == ('debian', 'trixie')
    with pytest.raises(inspect.ImageError, match='does not know'):
        inspect.distro_of({'ID': 'gentoo', 'PRETTY_NAME': 'Gentoo'}, 'amd64')


def test_arch_from_the_elf_header():
    header = bytearray(64)
    header[:6] = b'\x7fELF\x02\x01'
    header[18:20] = (0x3e).to_bytes(2, 'little')
    assert inspect.arch_of(bytes(header)) == 'amd64'
    header[18:20] = (0xb7).to_bytes(2, 'little')
    assert inspect.arch_of(bytes(header)) == 'arm64'
    assert inspect.arch_of(b'#!/bin/sh\n') is None
