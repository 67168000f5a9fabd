"""Builds started at once (different requests, one shared cache) all succeed without colliding."""

import json
import os
import subprocess

import pytest

from osimage_testlib import BIN, run

pytestmark = pytest.mark.integration


def build_at_once(tmp_path, count, boot_test):
    procs = []
    for i in range(count):
        request = tmp_path / ('r%d.yml' % i)
        request.write_text(json.dumps({'name': 'parallel-%d' % i, 'hostname': 'parallel-%d' % i,
                                       'boot_test': {'enabled': boot_test}}))
        procs.append(subprocess.Popen([os.path.join(BIN, 'osimage'), 'build', str(request),
                                       '-o', str(tmp_path / ('out%d' % i))],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    results = [(p, p.communicate(timeout=2400)[0]) for p in procs]
    for proc, output in results:
        assert proc.returncode == 0, output[-4000:]
    manifests = [json.loads((tmp_path / ('out%d' % i) / 'manifest.json').read_text()) for i in range(count)]
    assert len({m['build_id'] for m in manifests}) == count
    assert len({m['disk']['partitions'][-1]['uuid'] for m in manifests}) == count
    for i, manifest in enumerate(manifests):
        assert manifest['request']['hostname'] == 'parallel-%d' % i
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert ' osimage-' not in f.read()
    assert not [d for d in run(['virsh', '-c', 'qemu:///system', 'list', '--name']).stdout.split()
                if d.startswith('osimage-')]
    return manifests


def test_two_builds_at_once(default_build, tmp_path):
    """By default without their boot tests: guests booting at once are test_formats' (three) and the matrix's."""
    assert len(build_at_once(tmp_path, 2, boot_test=False)) == 2


@pytest.mark.matrix
def test_two_builds_with_boot_tests_at_once(default_build, tmp_path):
    manifests = build_at_once(tmp_path, 2, boot_test=True)
    for i in range(2):
        report = json.loads((tmp_path / ('out%d' % i) / 'boot-report.json').read_text())
        assert report['outcome'] == 'passed', report
    assert manifests


@pytest.mark.matrix
def test_four_builds_at_once(default_build, tmp_path):
    assert len(build_at_once(tmp_path, 4, boot_test=False)) == 4
