"""molecule test: role authors get the same build and the same verify play as a build does."""

import os
import re

import pytest

from osimage_testlib import BIN, ROOT, run

pytestmark = pytest.mark.integration


def test_molecule_default_scenario_builds_boots_and_verifies():
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], ANSIBLE_NOCOLOR='1', NO_COLOR='1')
    proc = run([os.path.join(BIN, 'molecule'), 'test'], cwd=ROOT, env=env, timeout=1800)
    out = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)
    assert proc.returncode == 0, out[-6000:]
    for step in ('converge', 'verify', 'destroy'):
        assert re.search(r'%s: Executed: Successful' % step, out), step
    summary = re.search(r'all (\d+) checks passed \((\d+) skipped\)', out)
    assert summary, out[-6000:]
    # Every check of a plain image runs; only the ones for keys the scenario leaves out are skipped.
    assert int(summary.group(1)) >= 17 and int(summary.group(1)) > int(summary.group(2)), summary.group(0)
    domains = run(['virsh', '-c', 'qemu:///system', 'list', '--name']).stdout.split()
    assert 'osimage-molecule' not in domains
