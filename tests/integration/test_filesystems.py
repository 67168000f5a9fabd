"""Every file system of a layout made at its offset in one image file from one tree, without a vfat driver,
partition scanning or device-mapper; the tree is put back as it was and no loop device is left."""

import os
import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import filesystems as fs
from osimage_testlib import HostRunner

pytestmark = pytest.mark.integration
MIB = 1 << 20


def blkid(image, offset):
    out = subprocess.run(['blkid', '-p', '-O', str(offset), '-o', 'export', image], capture_output=True, text=True,
                         check=False).stdout
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def test_each_mount_point_gets_its_own_file_system(tmp_path):
    tree = tmp_path / 'tree'
    for path, text in (('etc/hostname', 'x'), ('home/ada/notes', 'n'), ('srv/data/blob', 'b'),
                       ('boot/efi/EFI/BOOT/BOOTX64.EFI', 'e')):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    before = sorted(str(p.relative_to(tree)) for p in tree.rglob('*'))
    image = tmp_path / 'disk.img'
    with open(image, 'wb') as f:
        f.truncate(1024 * MIB)
    items = [
        {'name': 'esp', 'offset': 1 * MIB, 'bytes': 64 * MIB, 'filesystem': 'vfat', 'mountpoint': '/boot/efi'},
        {'name': 'root', 'offset': 65 * MIB, 'bytes': 400 * MIB, 'filesystem': 'xfs', 'mountpoint': '/'},
        {'name': 'srv', 'offset': 465 * MIB, 'bytes': 200 * MIB, 'filesystem': 'btrfs', 'mountpoint': '/srv',
         'subvolumes': [{'name': '@data', 'mountpoint': '/srv/data'}]},
        {'name': 'home', 'offset': 665 * MIB, 'bytes': 100 * MIB, 'filesystem': 'ext4', 'mountpoint': '/home'},
        {'name': 'swap', 'offset': 765 * MIB, 'bytes': 64 * MIB, 'filesystem': 'swap'},
    ]
    for item in items:
        item['uuid'] = fs.new_uuid(item['filesystem'])
    work = tmp_path / 'work'
    work.mkdir()
    mountpoints = [i['mountpoint'] for i in items if i.get('mountpoint')] + ['/srv/data']
    with fs.split_tree(str(tree), mountpoints, str(work / 'split')) as sources:
        assert os.listdir(tree / 'home') == [] and os.listdir(sources['/home']) == ['ada']
        for item in items:
            target = dict(item, source=sources.get(item.get('mountpoint')),
                          subvolumes=[dict(s, source=sources[s['mountpoint']]) for s in item.get('subvolumes', [])])
            fs.make(HostRunner(), str(image), target, str(work))
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob('*')) == before
    for item in items:
        found = blkid(str(image), item['offset'])
        assert found.get('TYPE') == item['filesystem'] and found.get('UUID') == item['uuid'], (item, found)
    listing = subprocess.run(['mdir', '-b', '-i', '%s@@%d' % (image, MIB), '::/EFI/BOOT'], capture_output=True,
                             text=True, check=True, env=dict(os.environ, MTOOLS_SKIP_CHECK='1')).stdout
    assert 'BOOTX64.EFI' in listing
    assert str(image) not in subprocess.run(['losetup', '-a'], capture_output=True, text=True, check=True).stdout
    assert os.listdir(work) == []
