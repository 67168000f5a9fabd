"""extlinux's boot code in sector 0, and which partition BIOS boot code chains to."""

from ansible_collections.osimage.builder.plugins.modules import extlinux_install


def test_boot_code_replaces_only_the_code_before_the_disk_signature():
    sector0 = bytes(range(256)) * 2
    code = b'\xfa' * 440
    out = extlinux_install.with_boot_code(sector0, code)
    assert len(out) == 512
    assert out[:440] == code
    assert out[440:] == sector0[440:]  # disk signature, partition table and 0x55aa are kept


def test_short_boot_code_is_padded():
    out = extlinux_install.with_boot_code(b'\x11' * 512, b'\xeb\x5e')
    assert out[:2] == b'\xeb\x5e' and out[2:440] == b'\0' * 438 and out[440:] == b'\x11' * 72


def test_gpt_is_marked_by_its_attribute_and_mbr_by_its_active_flag():
    assert extlinux_install.is_marked({'label': 'gpt'}, {'attrs': 'RequiredPartition LegacyBIOSBootable'})
    assert not extlinux_install.is_marked({'label': 'gpt'}, {})
    assert extlinux_install.is_marked({'label': 'dos'}, {'bootable': True})
    assert not extlinux_install.is_marked({'label': 'dos'}, {'bootable': False})


def test_the_files_a_configuration_loads():
    config = 'SERIAL 0 115200\nDEFAULT linux\nLABEL linux\n  LINUX /vmlinuz-6.1\n  INITRD /initrd.img-6.1,/extra.img\n' \
             '  APPEND root=UUID=x ro initrd=/not-this\nlabel old\n  kernel /boot/vmlinuz-old\n'
    assert extlinux_install.loaded_files(config) == ['/vmlinuz-6.1', '/initrd.img-6.1', '/extra.img',
                                                     '/boot/vmlinuz-old']


def test_holes_are_found(tmp_path):
    dense, sparse = tmp_path / 'dense', tmp_path / 'sparse'
    dense.write_bytes(b'x' * 8192)
    with open(sparse, 'wb') as f:
        f.truncate(1024 * 1024)
        f.write(b'x')
    assert not extlinux_install.has_holes(str(dense))
    assert extlinux_install.has_holes(str(sparse))
