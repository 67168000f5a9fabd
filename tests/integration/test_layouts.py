"""Disk layouts beyond the default (issue 6): each built once, booted and verified against its request.

Default run: one build that combines LVM (never activated on the host) with a separate /boot, xfs, a btrfs
subvolume, swap and an ESP, booted under OVMF on a disk enlarged by 1 GiB (root must grow).
Matrix (-m matrix): btrfs root with subvolumes on BIOS, MBR, Secure Boot through the signed shim,
systemd-boot with a Unified Kernel Image on trixie under OVMF, extlinux with a separate /boot on BIOS.
"""

import os

import pytest
import yaml

from osimage_testlib import BIN, Built, run

pytestmark = pytest.mark.integration

LVM_LAYOUT = {
    'size': '5GiB', 'firmware': 'uefi',
    'partitions': [
        {'size': '128MiB', 'filesystem': 'vfat', 'mountpoint': '/boot/efi'},
        {'size': '384MiB', 'filesystem': 'ext4', 'mountpoint': '/boot', 'label': 'boot'},
        {'size': '512MiB', 'filesystem': 'btrfs', 'mountpoint': '/srv',
         'subvolumes': [{'name': '@data', 'mountpoint': '/srv/data', 'options': ['noatime']}]},
        {'size': 'rest', 'filesystem': 'lvm'}],
    'lvm': {'vg': 'sys', 'volumes': [
        {'name': 'swap', 'size': '256MiB', 'filesystem': 'swap'},
        {'name': 'var', 'size': '1GiB', 'filesystem': 'xfs', 'mountpoint': '/var'},
        {'name': 'root', 'size': 'rest', 'filesystem': 'xfs', 'mountpoint': '/', 'options': ['noatime']}]},
}


def build(tmp_path_factory, name, disk, **extra):
    """`osimage build` of a request with ``disk``, booted and verified; returns the Built."""
    out = tmp_path_factory.mktemp(name)
    request = dict({'name': name, 'disk': disk, 'boot_test': {'timeout': 900, 'grow': '1GiB'}}, **extra)
    (out / 'request.yml').write_text(yaml.safe_dump(request))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(out / 'request.yml'), '-o', str(out / 'out')],
               timeout=2400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Built(str(out / 'out'), proc)


def outcomes(built):
    return {c['name']: c['outcome'] for c in built.report['checks']}


def assert_layout_verified(built, firmware):
    checks = outcomes(built)
    assert 'failed' not in checks.values(), built.report['checks']
    for name in ('file systems are mounted as the request lays them out', 'booted with the firmware of the boot test',
                 'root file system grew to fill the enlarged disk'):
        assert checks[name] == 'passed', name
    assert built.report['firmware'] == firmware


@pytest.fixture(scope='session')
def lvm_build(tmp_path_factory):
    return build(tmp_path_factory, 'layout-lvm', LVM_LAYOUT)


def test_lvm_with_separate_boot_xfs_btrfs_and_swap_boots_under_uefi(lvm_build):
    assert_layout_verified(lvm_build, 'uefi')
    checks = outcomes(lvm_build)
    assert checks['LVM volumes exist and are active'] == 'passed'
    assert checks['swap is active'] == 'passed'
    volumes = {v['name']: v for v in lvm_build.manifest['disk']['volumes']}
    assert set(volumes) == {'swap', 'var', 'root'}
    # Each volume's file system sits where LVM put the volume's extents.
    raw = os.path.join(lvm_build.dir, 'raw.img')
    run(['qemu-img', 'convert', '-O', 'raw', lvm_build.image(), raw], check=True)
    try:
        for name, fstype in (('var', 'xfs'), ('root', 'xfs'), ('swap', 'swap')):
            found = run(['blkid', '-p', '-O', str(volumes[name]['offset']), '-s', 'TYPE', '-o', 'value', raw])
            assert found.stdout.strip() == fstype, name
    finally:
        os.unlink(raw)


@pytest.mark.matrix
def test_btrfs_root_with_subvolumes_on_bios(tmp_path_factory):
    built = build(tmp_path_factory, 'layout-btrfs', {
        'firmware': 'bios', 'partitions': [{'size': 'rest', 'filesystem': 'btrfs', 'mountpoint': '/',
                                            'subvolumes': [{'name': '@home', 'mountpoint': '/home'},
                                                           {'name': '@log', 'mountpoint': '/var/log'}]}]})
    assert_layout_verified(built, 'bios')


@pytest.mark.matrix
def test_mbr_bios_with_separate_home(tmp_path_factory):
    built = build(tmp_path_factory, 'layout-mbr', {
        'table': 'mbr', 'partitions': [{'size': '2GiB', 'filesystem': 'ext4', 'mountpoint': '/home'},
                                       {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]})
    checks = outcomes(built)
    assert 'failed' not in checks.values() and built.report['firmware'] == 'bios'


@pytest.mark.matrix
def test_secure_boot_through_the_signed_shim(tmp_path_factory):
    built = build(tmp_path_factory, 'layout-secure', {'firmware': 'uefi', 'secure_boot': True})
    assert_layout_verified(built, 'uefi_secure')


@pytest.mark.matrix
def test_systemd_boot_with_a_unified_kernel_image_on_trixie_under_ovmf(tmp_path_factory):
    built = build(tmp_path_factory, 'layout-sdboot', {'firmware': 'uefi', 'bootloader': 'systemd-boot'},
                  release='trixie')
    assert_layout_verified(built, 'uefi')
    with open(built.report['console_log'], 'rb') as f:
        assert b'Debian GNU/Linux 13 (trixie)' in f.read()  # systemd-boot's menu entry of the UKI


@pytest.mark.matrix
def test_extlinux_with_a_separate_boot_on_bios(tmp_path_factory):
    built = build(tmp_path_factory, 'layout-extlinux', {
        'firmware': 'bios', 'bootloader': 'extlinux',
        'partitions': [{'size': '384MiB', 'filesystem': 'ext4', 'mountpoint': '/boot'},
                       {'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]})
    assert_layout_verified(built, 'bios')
    assert [p['type'] for p in built.manifest['disk']['partitions']][0] != 'bios_boot'
    with open(built.report['console_log'], 'rb') as f:
        console = f.read()
    assert b'SYSLINUX 6.' in console and b'Loading /vmlinuz-' in console  # extlinux, not GRUB, loaded the kernel
