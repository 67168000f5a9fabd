"""Where LVM put each logical volume, read from `lvs --segments` (recorded output of lvm 2.03.16)."""

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import lvm

SEGMENTS = [
    {'lv_name': 'root', 'seg_pe_ranges': '/dev/loop0:0-9', 'seg_size': '41943040', 'vg_extent_size': '4194304'},
    {'lv_name': 'var', 'seg_pe_ranges': '/dev/loop0:10-23', 'seg_size': '58720256', 'vg_extent_size': '4194304'},
]


def test_offsets_count_extents_from_the_first_physical_extent():
    expected = {'root': (1048576, 41943040), 'var': (1048576 + 10 * 4194304, 58720256)}
    assert lvm.offsets(SEGMENTS, 1048576) == expected


def test_a_volume_in_two_segments_is_refused():
    with pytest.raises(ValueError, match='not contiguous'):
        lvm.offsets(SEGMENTS + [dict(SEGMENTS[0], seg_pe_ranges='/dev/loop0:30-31')], 1048576)


def test_the_config_sees_only_our_device_and_writes_nothing_to_the_host():
    config = lvm.config('/dev/loop7')
    assert '"a|^/dev/loop7$|", "r|.*|"' in config and 'backup = 0' in config and 'udev_sync = 0' in config
