"""Partition layout arithmetic."""

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import disk

GIB = 1024 ** 3


@pytest.mark.parametrize('text,expected', [
    ('4GiB', 4 * GIB), ('512M', 512 * 2 ** 20), ('1.5G', int(1.5 * GIB)), (1000, 1000), ('2tb', 2 * 10 ** 12),
])
def test_parse_size(text, expected):
    assert disk.parse_size(text) == expected


@pytest.mark.parametrize('text', ['huge', '-1G', '4 parsecs', '', True])
def test_parse_size_rejects(text):
    with pytest.raises(disk.LayoutError):
        disk.parse_size(text)


def test_gpt_plan_aligns_and_fills_the_disk():
    placed = disk.plan(3 * GIB, 'gpt', [{'name': 'bios', 'type': 'bios_boot', 'size': 2 ** 20},
                                        {'name': 'root', 'type': 'linux', 'size': 'rest'}])
    assert [(p['start'], p['sectors']) for p in placed] == [(2048, 2048), (4096, 3 * GIB // 512 - 4096 - 2048)]
    last = placed[-1]
    assert last['start'] + last['sectors'] <= 3 * GIB // 512 - disk.GPT_BACKUP_SECTORS
    assert all(p['start'] % disk.ALIGN_SECTORS == 0 for p in placed)


def test_plan_rejects_too_small_a_disk():
    with pytest.raises(disk.LayoutError, match='need'):
        disk.plan(GIB, 'gpt', [{'name': 'a', 'type': 'linux', 'size': 2 * GIB}])


def test_plan_rejects_two_rest_partitions_and_bios_boot_on_mbr():
    with pytest.raises(disk.LayoutError, match='only one'):
        disk.plan(GIB, 'gpt', [{'name': 'a', 'type': 'linux', 'size': 'rest'},
                               {'name': 'b', 'type': 'linux', 'size': 'rest'}])
    with pytest.raises(disk.LayoutError, match='only on GPT'):
        disk.plan(GIB, 'mbr', [{'name': 'a', 'type': 'bios_boot', 'size': 2 ** 20}])


def test_sfdisk_script():
    placed = disk.plan(GIB, 'mbr', [{'name': 'root', 'type': 'linux', 'size': 'rest', 'bootable': True}])
    script = disk.sfdisk_script('mbr', placed)
    assert script.splitlines() == ['label: dos', 'unit: sectors',
                                   'start=2048, size=%d, type=83, bootable' % (GIB // 512 - 2048)]
