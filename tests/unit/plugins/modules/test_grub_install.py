"""GRUB BIOS boot code: the two block pointers and what is kept from the disk's first sector."""

import struct

from ansible_collections.osimage.builder.plugins.modules import grub_install


def test_boot_sector_keeps_partition_table_and_points_at_core():
    boot = bytes(range(256)) * 2
    mbr = b'\xaa' * 512
    sector = grub_install.boot_sector(boot, mbr, 2048)
    assert len(sector) == 512
    assert sector[0x1b8:0x200] == mbr[0x1b8:0x200]
    assert sector[0x3:0x5a] == mbr[0x3:0x5a]
    assert struct.unpack_from('<Q', sector, 0x5c)[0] == 2048
    assert sector[0x66:0x68] == b'\x90\x90'
    assert sector[:3] == boot[:3]


def test_core_image_block_list_points_past_its_first_sector():
    core = b'\x01' * (512 * 3 + 10)
    data = grub_install.core_image(core, 2048)
    assert len(data) == 512 * 4
    start, length = struct.unpack_from('<QH', data, 500)
    assert (start, length) == (2049, 3)
