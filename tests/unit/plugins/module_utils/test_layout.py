"""Disk layouts from the request: defaults per firmware, the rules, and what the build gets."""

import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import layout
from ansible_collections.osimage.builder.plugins.module_utils import request as req

GIB = 1024 ** 3
ESP = {'size': '128MiB', 'filesystem': 'vfat', 'mountpoint': '/boot/efi'}


def resolved(disk):
    return req.resolve({'disk': disk})['disk']


def test_default_is_hybrid_gpt_with_bios_boot_esp_and_root():
    disk = resolved({})
    assert disk['firmware'] == 'hybrid'
    assert [(p['type'], p['filesystem']) for p in disk['partitions']] == [
        ('bios_boot', 'none'), ('esp', 'vfat'), ('root_x86_64', 'ext4')]
    assert disk['boot'] == {'uuid': disk['root']['uuid'], 'filesystem': 'ext4', 'prefix': '/boot', 'partition': 3}
    assert 'grub-efi-amd64-bin' in disk['packages'] and disk['grow']
    assert [m['mountpoint'] for m in disk['mounts']] == ['/', '/boot/efi']


@pytest.mark.parametrize('firmware, types', [
    ('bios', ['bios_boot', 'root_x86_64']),
    ('uefi', ['esp', 'root_x86_64']),
])
def test_firmware_decides_the_boot_partitions(firmware, types):
    assert [p['type'] for p in resolved({'firmware': firmware})['partitions']] == types


def test_mbr_is_bios_by_default_and_uefi_mbr_has_an_esp():
    assert resolved({'table': 'mbr'})['firmware'] == 'bios'
    parts = resolved({'table': 'mbr', 'firmware': 'uefi'})['partitions']
    assert [p['type'] for p in parts] == ['esp', 'linux'] and not any(p['bootable'] for p in parts)


def test_lvm_with_separate_boot_and_xfs():
    disk = resolved({'firmware': 'bios', 'size': '6GiB', 'partitions': [
        {'size': '512MiB', 'filesystem': 'ext4', 'mountpoint': '/boot'},
        {'size': 'rest', 'filesystem': 'lvm'}],
        'lvm': {'vg': 'sys', 'volumes': [
            {'name': 'swap', 'size': '256MiB', 'filesystem': 'swap'},
            {'name': 'var', 'size': '1GiB', 'filesystem': 'xfs', 'mountpoint': '/var', 'options': ['noatime']},
            {'name': 'root', 'size': 'rest', 'filesystem': 'xfs', 'mountpoint': '/'}]}})
    assert disk['root']['device'] == '/dev/mapper/sys-root'
    assert disk['boot']['prefix'] == '' and disk['grow'] and disk['grow_target']['lvm']
    assert {'lvm2', 'xfsprogs'} <= set(disk['packages'])
    fstab = {m['mountpoint']: m for m in disk['mounts']}
    assert fstab['none']['filesystem'] == 'swap' and fstab['/var']['options'] == ['noatime']
    assert [p['type'] for p in disk['partitions']] == ['bios_boot', 'linux', 'lvm']


def test_btrfs_subvolumes_are_mounted_with_subvol():
    disk = resolved({'partitions': [ESP, {'size': 'rest', 'filesystem': 'btrfs', 'mountpoint': '/',
                                          'subvolumes': [{'name': '@home', 'mountpoint': '/home'}]}]})
    home = [m for m in disk['mounts'] if m['mountpoint'] == '/home'][0]
    assert home['options'] == ['subvol=@home'] and home['uuid'] == disk['root']['uuid']


def test_root_that_is_not_last_does_not_grow():
    disk = resolved({'partitions': [ESP, {'size': '2GiB', 'filesystem': 'ext4', 'mountpoint': '/'},
                                    {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/srv'}]})
    assert not disk['grow']


@pytest.mark.parametrize('disk, key, words', [
    ({'table': 'mbr', 'firmware': 'hybrid'}, 'disk.firmware', 'needs table gpt'),
    ({'firmware': 'uefi', 'partitions': [{'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]},
     'disk.partitions', 'EFI system partition'),
    ({'partitions': [ESP, {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'},
                     {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/var'}]},
     'disk.partitions[2].size', 'only one'),
    ({'firmware': 'bios', 'partitions': [{'size': 'rest', 'filesystem': 'vfat', 'mountpoint': '/'}]},
     'disk.partitions[0].filesystem', 'cannot be vfat'),
    ({'size': '2GiB', 'firmware': 'bios', 'partitions': [{'size': '3GiB', 'filesystem': 'ext4', 'mountpoint': '/'}]},
     'disk.partitions', 'make the disk larger'),
    ({'firmware': 'bios', 'partitions': [{'size': 'rest', 'filesystem': 'lvm'}],
      'lvm': {'volumes': [{'name': 'root', 'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]}},
     'disk.partitions', '/boot partition'),
    ({'firmware': 'bios', 'secure_boot': True}, 'disk.secure_boot', 'needs UEFI'),
    ({'bootloader': 'extlinux'}, 'disk.bootloader', 'does not boot hybrid'),
    ({'firmware': 'bios', 'bootloader': 'extlinux',
      'partitions': [{'size': 'rest', 'filesystem': 'xfs', 'mountpoint': '/'}]},
     'disk.partitions[0].filesystem', 'extlinux boots from ext4'),
    ({'firmware': 'bios', 'bootloader': 'extlinux',
      'partitions': [{'size': '512MiB', 'filesystem': 'btrfs', 'mountpoint': '/boot'},
                     {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]},
     'disk.partitions[0].filesystem', 'make /boot ext4'),
    ({'firmware': 'bios', 'partitions': [{'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'},
                                         {'size': '1GiB', 'filesystem': 'ext4', 'mountpoint': '/'}]},
     'disk.partitions[1].mountpoint', 'mounted twice'),
])
def test_bad_layouts_are_refused_with_the_fix(disk, key, words):
    errors = dict(layout.errors(disk, 3 * GIB))
    assert key in errors and words in errors[key], errors


def test_systemd_boot_gets_a_larger_esp_and_ukify():
    disk = req.resolve({'release': 'trixie', 'disk': {'firmware': 'uefi', 'bootloader': 'systemd-boot'}})['disk']
    assert disk['partitions'][0]['size'] == 512 * 1024 ** 2
    assert {'systemd-boot-efi', 'systemd-ukify'} <= set(disk['packages']) and 'grub-efi-amd64-bin' not in disk['packages']


@pytest.mark.parametrize('table, marked', [('gpt', False), ('mbr', True)])
def test_extlinux_boots_the_boot_partition_without_a_bios_boot_partition(table, marked):
    disk = resolved({'table': table, 'firmware': 'bios', 'bootloader': 'extlinux',
                     'partitions': [{'size': '512MiB', 'filesystem': 'ext4', 'mountpoint': '/boot'},
                                    {'size': 'rest', 'filesystem': 'xfs', 'mountpoint': '/'}]})
    assert [p['mountpoint'] for p in disk['partitions']] == ['/boot', '/']
    assert disk['boot']['partition'] == 1 and disk['boot']['prefix'] == ''
    assert disk['partitions'][0].get('bootable', False) is marked  # GPT is marked by extlinux_install
    assert 'extlinux' in disk['packages'] and 'grub-efi-amd64-bin' not in disk['packages']


def test_the_same_build_id_resolves_to_the_same_uuids():
    """The driver, the playbook and a later boot test resolve one build alike: its UUIDs come from its id."""
    disk = {'partitions': [ESP, {'size': '512MiB', 'filesystem': 'ext4', 'mountpoint': '/boot'},
                           {'size': 'rest', 'filesystem': 'lvm'}],
            'lvm': {'volumes': [{'name': 'root', 'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]}}

    def uuids(build_id):
        mounts = req.resolve({'disk': disk}, build_id=build_id)['disk']['mounts']
        return {m['mountpoint']: m['uuid'] for m in mounts}

    first = uuids('abc123')
    assert first == uuids('abc123')
    assert set(first) == {'/', '/boot', '/boot/efi'} and re.match(r'^[0-9A-F]{4}-[0-9A-F]{4}$', first['/boot/efi'])
    assert not set(first.values()) & set(uuids('def456').values())
