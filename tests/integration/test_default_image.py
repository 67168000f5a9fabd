"""The default image, built once with `osimage build`: its disk, contents, manifest and boot proof."""

import glob
import hashlib
import json
import os
import sys
from xml.etree import ElementTree

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot
from osimage_testlib import domains_of, loops_of, offline_hygiene_problems, run

pytestmark = pytest.mark.integration

SECTOR = 512


def debugfs(raw, offset, command):
    return run(['debugfs', '-R', command, '%s?offset=%d' % (raw, offset)]).stdout


def root_partition(raw):
    table = json.loads(run(['sfdisk', '--json', raw], check=True).stdout)['partitiontable']
    return table, table['partitions'][-1]


def test_the_image_boots_to_a_login_prompt(default_build):
    report = default_build.report
    assert report['outcome'] == 'passed'
    assert report['accel'] in ('kvm', 'tcg') and report['accel_reason']
    assert 0 < report['seconds_to_login'] < report['timeout']
    with open(report['console_log'], 'rb') as f:
        console = f.read()
    assert b'login:' in console and b'Linux version' in console
    assert 'boot test: passed' in default_build.proc.stderr


def test_the_verify_play_checked_the_running_image(default_build):
    report = default_build.report
    assert report['seconds_to_login'] <= report['seconds_to_ssh'] and report['verify_seconds'] > 0
    # The verify play's time by step: each group of facts gathered in the guest, and the rest.
    steps = report['verify_steps']
    assert {'start-up', 'units', 'files', 'layout', 'settings'} <= set(steps) and min(steps.values()) >= 0
    assert abs(sum(steps.values()) - report['verify_seconds']) < 1
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    for name in ('system reached the running state', 'no failed units', 'network is up with a default route',
                 'root file system is mounted read-write as fstab names it', 'machine id was made on this boot',
                 'SSH host keys were generated on this boot', 'no build-host name server in the image',
                 'package caches and lists were cleaned', 'hostname is the requested one'):
        assert outcomes[name] == 'passed', report['checks']
    assert 'failed' not in outcomes.values()
    junit = ElementTree.parse(os.path.join(default_build.dir, 'verify-junit.xml')).getroot()
    assert int(junit.get('tests')) == len(report['checks']) and junit.get('failures') == '0'


def test_partition_table_reads_back_as_planned(default_raw, default_build):
    table, root = root_partition(default_raw)
    assert table['label'] == 'gpt'
    bios = table['partitions'][0]
    assert bios['type'] == '21686148-6E6F-744E-6565-6446656E6549' and bios['start'] == 2048
    assert root['type'] == '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709' and root['start'] % 2048 == 0
    assert os.path.getsize(default_raw) == 3 * 1024 ** 3
    planned = {p['name']: p for p in default_build.manifest['disk']['partitions']}
    assert (planned['root']['start'], planned['root']['sectors']) == (root['start'], root['size'])


def test_fstab_and_grub_find_root_by_its_uuid(default_raw):
    _table, root = root_partition(default_raw)
    offset = root['start'] * SECTOR
    uuid = run(['blkid', '-p', '-O', str(offset), '-s', 'UUID', '-o', 'value', default_raw], check=True).stdout.strip()
    assert len(uuid) == 36
    fstab = debugfs(default_raw, offset, 'cat /etc/fstab')
    assert 'UUID=%s\t/\text4' % uuid in fstab
    grub = debugfs(default_raw, offset, 'cat /boot/grub/grub.cfg')
    assert 'root=UUID=%s' % uuid in grub and 'console=ttyS0' in grub
    assert 'core.img' in debugfs(default_raw, offset, 'ls /boot/grub/i386-pc')


def test_image_hygiene_on_the_image_file(default_raw):
    _table, root = root_partition(default_raw)
    offset = root['start'] * SECTOR
    assert debugfs(default_raw, offset, 'cat /etc/machine-id') == ''
    assert 'ssh_host_' not in debugfs(default_raw, offset, 'ls /etc/ssh')
    assert 'stub-resolv.conf' in debugfs(default_raw, offset, 'stat /etc/resolv.conf')
    assert debugfs(default_raw, offset, 'cat /etc/hostname').strip() == 'localhost'
    for gone in ('/usr/sbin/policy-rc.d', '/root/.ansible'):
        assert 'File not found' in run(['debugfs', '-R', 'stat ' + gone,
                                        '%s?offset=%d' % (default_raw, offset)]).stderr
    lists = debugfs(default_raw, offset, 'ls /var/lib/apt/lists').split()
    assert not [name for name in lists if name.endswith('_Packages')]


def test_the_initramfs_made_once_by_the_bootstrap_is_there_and_update_initramfs_undiverted(default_raw):
    _table, root = root_partition(default_raw)
    offset = root['start'] * SECTOR
    assert [name for name in debugfs(default_raw, offset, 'ls /boot').split() if name.startswith('initrd.img-')]
    assert 'update-initramfs' not in debugfs(default_raw, offset, 'cat /var/lib/dpkg/diversions')
    assert 'File not found' in run(['debugfs', '-R', 'stat /usr/sbin/update-initramfs.osimage-bootstrap',
                                    '%s?offset=%d' % (default_raw, offset)]).stderr
    assert 'update-initramfs: Generating' in debugfs(default_raw, offset, 'cat /usr/sbin/update-initramfs')


def test_offline_hygiene_of_the_default_image(default_raw):
    assert offline_hygiene_problems(default_raw) == []


def test_manifest_describes_the_image(default_build):
    manifest = default_build.manifest
    assert manifest['distro'] == {'name': 'debian', 'release': 'bookworm', 'version': '12', 'arch': 'amd64'}
    packages = {p['name']: p['version'] for p in manifest['packages']}
    for name in ('linux-image-amd64', 'systemd', 'openssh-server', 'grub-pc-bin', 'python3'):
        assert packages.get(name), name
    [image] = manifest['images']
    with open(image['dest'], 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert image['sha256'] == digest and image['bytes'] == os.path.getsize(image['dest'])
    with open(image['dest'] + '.sha256', encoding='utf-8') as f:
        assert f.read().split()[0] == digest
    # Compressed with zstd by default: the same disk (the build's check read it back), a third of the file.
    info = json.loads(run(['qemu-img', 'info', '--output=json', image['dest']], check=True).stdout)
    assert info['format-specific']['data']['compression-type'] == 'zstd'
    assert image['bytes'] < info['virtual-size'] // 6 and image['bytes'] < 400 * 2 ** 20
    assert [s['name'] for s in manifest['stages']] == ['bootstrap', 'customize', 'assemble', 'bootloader',
                                                       'convert', 'manifest']
    assert os.path.getsize(os.path.join(default_build.dir, 'build.log')) > 0


def test_nothing_is_left_on_the_host(default_build):
    build_id = default_build.manifest['build_id']
    work = '/var/tmp/osimage/' + build_id
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert build_id not in f.read()
    assert loops_of(work, default_build.dir) == [] and domains_of(work, default_build.dir) == []
    assert not glob.glob(work)
    assert not glob.glob(os.path.join(default_build.dir, '*.tmp*'))


def test_the_hybrid_image_boots_with_seabios_and_with_ovmf_side_by_side(default_build):
    report = default_build.report
    assert report['firmware'] == 'bios'
    uefi = default_build.json('boot-report-uefi.json')
    assert uefi['outcome'] == 'passed' and uefi['firmware'] == 'uefi' and 0 < uefi['seconds_to_login']
    assert report['side_boots']['uefi']['seconds_to_login'] == uefi['seconds_to_login']
    # At the same time: each guest started before the other reached its login prompt; with one vCPU each under
    # TCG (the default by accelerator), two at once fit the two cores.
    assert uefi['started'] < report['started'] + report['seconds_to_login']
    assert report['started'] < uefi['started'] + uefi['seconds_to_login']
    assert report['vcpus'] == uefi['vcpus'] == libvirt_boot.VCPUS[report['accel']]
    assert uefi['domain'] == report['domain'] + '-uefi'
    with open(os.path.join(default_build.dir, 'console-uefi.log'), 'rb') as f:
        console = f.read()
    assert b'BdsDxe' in console and b'login:' in console
    outcomes = {c['name']: c['outcome'] for c in default_build.report['checks']}
    assert outcomes['file systems are mounted as the request lays them out'] == 'passed'
    assert outcomes['booted with the firmware of the boot test'] == 'passed'


def test_the_esp_holds_grub_at_the_removable_and_the_distro_path(default_raw):
    table = json.loads(run(['sfdisk', '--json', default_raw], check=True).stdout)['partitiontable']
    esp = [p for p in table['partitions'] if p['type'] == 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'][0]
    image = '%s@@%d' % (default_raw, esp['start'] * SECTOR)
    env = dict(os.environ, MTOOLS_SKIP_CHECK='1')
    for path in ('::/EFI/BOOT/BOOTX64.EFI', '::/EFI/debian/grubx64.efi'):
        listing = run(['mdir', '-b', '-i', image, path], env=env)
        assert listing.returncode == 0, listing.stderr
    assert run(['blkid', '-p', '-O', str(esp['start'] * SECTOR), '-s', 'TYPE', '-o', 'value', default_raw]).stdout.strip() == 'vfat'


def test_boot_test_with_a_request_refuses_an_image_without_its_manifest(default_raw, tmp_path):
    """(A boot test with the request, the manifest beside the image, passes the request's checks: test_boot_test.)"""
    request = tmp_path / 'request.yml'
    request.write_text('hostname: localhost\n')
    proc = run([os.path.join(os.path.dirname(sys.executable), 'osimage'), 'boot-test', default_raw,
                '--request', str(request), '-o', str(tmp_path)], timeout=60)
    assert proc.returncode == 2
    assert 'no manifest.json beside' in proc.stderr and 'without --request' in proc.stderr
