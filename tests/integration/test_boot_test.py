"""osimage boot-test on images that break a check or never boot: named failures, nothing left behind."""

import json
import os
from xml.etree import ElementTree

import pytest

from module_runner import run_module
from osimage_testlib import BIN, run

pytestmark = pytest.mark.integration
SECTOR = 512


def nothing_left(report):
    """The boot test of ``report`` (its boot-report.json) left neither its domain nor its run directory."""
    domains = run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']).stdout.split()
    assert report['domain'].startswith('osimage-boot-') and report['domain'] not in domains
    assert not os.path.exists(report['run_dir'])


def test_a_shipped_host_key_and_a_failing_user_check_are_named(default_build, default_raw, tmp_path):
    """A tampered copy of the default image, boot-tested with the request that built it (its manifest beside
    it) and the user's own checks: exactly the shipped host key and the user's check fail; the request's own
    checks (the file systems' UUIDs, the hostname) pass on the same boot."""
    image = str(tmp_path / 'shipped-key.raw')
    run(['cp', '--sparse=always', default_raw, image], check=True)
    manifest = dict(default_build.manifest)
    manifest['images'] = [dict(manifest['images'][0], dest=image, format='raw')]
    (tmp_path / 'manifest.json').write_text(json.dumps(manifest))
    root = json.loads(run(['sfdisk', '--json', image], check=True).stdout)['partitiontable']['partitions'][-1]
    key = str(tmp_path / 'ssh_host_ed25519_key')
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key], check=True)
    write = run(['debugfs', '-w', '-R', 'write %s /etc/ssh/ssh_host_ed25519_key' % key,
                 '%s?offset=%d' % (image, root['start'] * SECTOR)], check=True)
    assert 'Allocated inode' in write.stdout + write.stderr
    user_checks = tmp_path / 'checks.yml'
    user_checks.write_text('- name: the image runs nginx\n'
                           '  ansible.builtin.command: systemctl is-active nginx.service\n'
                           '  changed_when: false\n')
    request = tmp_path / 'request.yml'
    request.write_text('hostname: localhost\n')
    out_dir = tmp_path / 'out'
    proc = run([os.path.join(BIN, 'osimage'), 'boot-test', image, '-o', str(out_dir), '--verify', str(user_checks),
                '--request', str(request)], timeout=900)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # EXIT_BOOT_TEST_FAILED
    assert 'SSH host keys were generated on this boot' in proc.stdout
    assert 'the image runs nginx' in proc.stdout
    junit = ElementTree.parse(out_dir / 'verify-junit.xml').getroot()
    failed = {case.get('name') for case in junit.iter('testcase') if case.find('failure') is not None}
    assert failed == {'SSH host keys were generated on this boot', "the user's verify tasks passed"}
    report = json.loads((out_dir / 'boot-report.json').read_text())
    assert report['outcome'] == 'failed' and 'ssh_host_ed25519_key' in json.dumps(report['checks'])
    # The request's checks: the boot test resolved it as the build the manifest names (the same UUIDs).
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    assert outcomes['file systems are mounted as the request lays them out'] == 'passed', report['checks']
    assert outcomes['hostname is the requested one'] == 'passed'
    nothing_left(report)


def test_an_image_that_never_boots_times_out_cleanly(tmp_path):
    image = tmp_path / 'blank.raw'
    with open(image, 'wb') as f:
        f.truncate(64 * 1024 * 1024)
    proc = run([os.path.join(BIN, 'osimage'), 'boot-test', str(image), '--timeout', '15'], timeout=300)
    assert proc.returncode == 3  # EXIT_BOOT_TEST_FAILED
    assert 'timeout' in proc.stdout and 'last console lines' in proc.stdout
    assert 'No bootable device' in proc.stdout
    report = json.loads((tmp_path / 'boot-report.json').read_text())
    assert report['outcome'] == 'timeout'
    nothing_left(report)


def test_a_console_that_stalls_is_booted_once_more_then_fails_naming_the_stall(tmp_path):
    """SeaBIOS prints that a blank disk does not boot, then stays silent for a minute: with a 5-second stall limit
    that is a hung guest, so the module boots it once more (keeping the first console) and then fails."""
    image = tmp_path / 'blank.raw'
    with open(image, 'wb') as f:
        f.truncate(16 * 1024 * 1024)
    console, report_path = tmp_path / 'console-bios.log', tmp_path / 'boot-report.json'
    result = run_module('boot_test', tmp_path, image=str(image), name='osimage-boot-stall',
                        run_dir=str(tmp_path / 'run'), console_log=str(console), report=str(report_path), accel='tcg',
                        stall=5, timeout=60)
    assert result.get('failed') and result['outcome'] == 'timeout', result
    assert 'the console stayed silent for 5 s' in result['msg']
    first = tmp_path / 'console-bios-stalled.log'
    assert result['stalled']['console_log'] == str(first)
    assert 'No bootable device' in first.read_text(errors='replace')
    assert 'No bootable device' in console.read_text(errors='replace')  # the second boot's own console
    report = json.loads(report_path.read_text())
    assert report['stalled'] == result['stalled'] and report['outcome'] == 'timeout'
    nothing_left(report)
