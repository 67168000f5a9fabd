"""arm64 Debian built on this amd64 host (maintainer scripts through qemu-user) and proven under AAVMF.

The build and boot run once (qemu-system-aarch64 under TCG: several minutes, so the matrix); a build killed
in its foreign bootstrap runs by default and must leave no binfmt entry, mount, loop device or process.
"""

import json
import os
import time

import pytest

from osimage_testlib import BIN, Built, ImageFile, left_on_host, run
from test_faults import kill_everything, start_build, wait_for_stage

from ansible_collections.osimage.builder.plugins.module_utils import binfmt

pytestmark = pytest.mark.integration


def osimage_entries():
    return binfmt.entries('osimage-')


def emulated_in(work):
    """PIDs of processes rooted in ``work`` that run through qemu-user (an arm64 maintainer script, dpkg...)."""
    pids = []
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            if os.readlink('/proc/%s/root' % pid).startswith(str(work)) and 'qemu' in os.readlink('/proc/%s/exe' % pid):
                pids.append(pid)
        except OSError:
            pass
    return pids


@pytest.fixture(scope='module')
def arm64_build(tmp_path_factory):
    """`osimage build` of Debian 12 arm64 (qcow2), boot test and verify play included."""
    out = tmp_path_factory.mktemp('arm64')
    request = out / 'request.json'
    request.write_text(json.dumps({'name': 'debian-bookworm-arm64', 'arch': 'arm64', 'boot_test': {'timeout': 900}}))
    before = osimage_entries()
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(request), '-o', str(out / 'out')], timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr
    built = Built(str(out / 'out'), proc)
    built.binfmt_before, built.binfmt_after = before, osimage_entries()
    return built


@pytest.fixture(scope='module')
def arm64_raw(arm64_build, tmp_path_factory):
    raw = str(tmp_path_factory.mktemp('arm64-raw') / 'disk.raw')
    run(['qemu-img', 'convert', '-O', 'raw', arm64_build.image(), raw], check=True)
    return raw


@pytest.mark.matrix
def test_arm64_boots_under_aavmf_and_passes_the_verify_play(arm64_build):
    report = arm64_build.report
    assert report['outcome'] == 'passed' and report['arch'] == 'arm64' and report['firmware'] == 'uefi'
    assert report['accel'] == 'tcg' and 'cannot run aarch64 guests' in report['accel_reason']
    assert report['seconds_to_login'] <= report['seconds_to_ssh']
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    assert 'failed' not in outcomes.values() and outcomes['no failed units'] == 'passed', report['checks']
    with open(report['console_log'], 'rb') as f:
        console = f.read()
    assert b'Booting Linux on physical CPU' in console and b'-arm64 root=UUID=' in console and b'login:' in console


@pytest.mark.matrix
def test_the_arm64_image_is_what_the_arch_table_says(arm64_build, arm64_raw):
    manifest = arm64_build.manifest
    assert manifest['distro']['arch'] == 'arm64'
    packages = {p['name']: p['arch'] for p in manifest['packages']}
    assert packages['linux-image-arm64'] == 'arm64' and packages['grub-efi-arm64-bin'] == 'arm64'
    table = json.loads(run(['sfdisk', '--json', arm64_raw], check=True).stdout)['partitiontable']
    esp, root = table['partitions']
    assert root['type'] == 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE'
    grub = ImageFile(arm64_raw).cat('/boot/grub/grub.cfg')
    assert 'console=ttyAMA0,115200n8' in grub and 'serial --unit' not in grub
    esp_at = '%s@@%d' % (arm64_raw, esp['start'] * 512)
    assert 'BOOTAA64' in run(['mdir', '-i', esp_at, '::/EFI/BOOT'], check=True).stdout
    assert 'grubaa64' in run(['mdir', '-i', esp_at, '::/EFI/debian'], check=True).stdout


@pytest.mark.matrix
def test_the_arm64_build_removed_its_binfmt_entry(arm64_build):
    assert arm64_build.binfmt_after == arm64_build.binfmt_before


def test_a_build_killed_in_the_foreign_bootstrap_leaves_nothing_behind(tmp_path):
    """SIGKILL while dpkg runs under qemu-user, then `osimage clean`: the build's binfmt entry is gone too."""
    work, out = tmp_path / 'work', tmp_path / 'out'
    request = tmp_path / 'request.json'
    # A package set of its own, so no cached tree is copied: the bootstrap really runs (from cached .debs).
    request.write_text(json.dumps({'arch': 'arm64', 'work_dir': str(work), 'packages': {'install': ['less']}}))
    before = osimage_entries()
    proc = start_build(request, out)
    wait_for_stage(proc, 'bootstrap', [])
    deadline = time.monotonic() + 600
    while not emulated_in(work) and time.monotonic() < deadline:
        time.sleep(0.5)
    mine = set(osimage_entries()) - set(before)  # other workers' foreign builds may add and remove theirs meanwhile
    assert mine and emulated_in(work), 'no arm64 program ran through qemu-user'
    kill_everything(proc.pid)
    proc.communicate(timeout=60)
    clean = run([os.path.join(BIN, 'osimage'), 'clean', '--work-dir', str(work)], timeout=300)
    assert clean.returncode == 0 and 'binfmt entry osimage-' in clean.stdout, clean.stdout + clean.stderr
    assert not mine & set(osimage_entries())
    assert left_on_host(tmp_path, work) == []
    assert [e for e in os.listdir(work) if e != 'owners'] == [] and os.listdir(work / 'owners') == []
