"""boot_test's side boots: other firmwares booted at the same time, each in its own domain and only to its login
prompt, the accelerator chosen once; one that fails fails the boot test and stops the main domain."""

import json
import threading

from ansible_collections.osimage.builder.plugins.modules import boot_test

PARAMS = {'image': '/img/debian.qcow2', 'name': 'osimage-abcd1234', 'state': 'running', 'firmware': 'bios',
          'console_log': '/out/console.log', 'report': '/out/boot-report.json', 'accel': 'auto',
          'probe_kernel': None, 'arch': 'amd64', 'grow': 1 << 30, 'forward_ports': [80], 'also_firmwares': ['uefi']}


def fake(monkeypatch, tmp_path, side_outcome):
    """Boots that record their params and the threads they ran on; the side boot ends in ``side_outcome``."""
    seen, stopped, verdicts = [], [], []
    monkeypatch.setattr(boot_test.libvirt_boot, 'accelerator', lambda *args: verdicts.append(args) or (False, 'no'))
    monkeypatch.setattr(boot_test.libvirt_boot, 'stop', lambda name, run_dir: stopped.append(name))

    together = threading.Barrier(2, timeout=10)  # broken unless both boots run at once

    def boot(params, run_dir, verdict):
        seen.append((params, run_dir, verdict))
        together.wait()
        outcome = 'running' if params['state'] == 'running' else side_outcome
        return {'firmware': params['firmware'], 'outcome': outcome, 'seconds_to_login': 30.0, 'vcpus': 1,
                'console_log': params['console_log'], 'console_tail': 'tail of ' + params['firmware'],
                'message': 'it hung'}

    monkeypatch.setattr(boot_test, 'boot', boot)
    params = dict(PARAMS, report=str(tmp_path / 'boot-report.json'), console_log=str(tmp_path / 'console.log'))
    return boot_test.boot_side_by_side(params, '/work/boot-osimage-abcd1234'), seen, stopped, verdicts


def test_a_side_boot_runs_beside_the_main_one_in_its_own_domain_to_its_login_prompt(monkeypatch, tmp_path):
    report, seen, stopped, verdicts = fake(monkeypatch, tmp_path, 'passed')
    assert len(verdicts) == 1 and [s[2] for s in seen] == [(False, 'no')] * 2
    main, side = sorted(seen, key=lambda s: s[0]['firmware'])
    assert main[0]['state'] == 'running' and main[1] == '/work/boot-osimage-abcd1234'
    assert side[1] == '/work/boot-osimage-abcd1234-uefi'
    assert {k: side[0][k] for k in ('name', 'state', 'firmware', 'grow', 'forward_ports')} == {
        'name': 'osimage-abcd1234-uefi', 'state': 'tested', 'firmware': 'uefi', 'grow': 0, 'forward_ports': []}
    assert side[0]['console_log'] == str(tmp_path / 'console-uefi.log')
    assert json.loads((tmp_path / 'boot-report-uefi.json').read_text())['outcome'] == 'passed'
    assert report['outcome'] == 'running' and report['side_boots']['uefi']['seconds_to_login'] == 30.0
    assert not stopped


def test_a_side_boot_that_fails_fails_the_boot_test_and_stops_the_main_domain(monkeypatch, tmp_path):
    report, _seen, stopped, _verdicts = fake(monkeypatch, tmp_path, 'timeout')
    assert stopped == ['osimage-abcd1234']
    assert report['outcome'] == 'timeout' and report['message'] == 'the boot with uefi firmware: it hung'
    assert report['console_tail'] == 'tail of uefi'
