"""Test setup: import the collection as ansible_collections.osimage.builder from this checkout, keep each
shared build on one pytest-xdist worker, say what each worker ran, and the tmpfs fixture (a small full disk) for unit
and integration tests."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, 'playbooks', 'collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# The session fixtures that build an image (tests/integration/conftest.py): every test that needs one runs on
# the same worker, so each image is built once per run. First match wins for a test that needs both.
SHARED_BUILDS = ('all_keys_build', 'default_build')
# Seconds each pytest-xdist worker ran tests: {worker: [tests, busy, first start, last stop]}
WORKERS = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Group the tests for `--dist loadgroup` (scripts/run-tests): by the shared build they need, else by
    module, so a module's own fixtures are made once too."""
    for item in items:
        group = next((b for b in SHARED_BUILDS if b in item.fixturenames), item.module.__name__)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_runtest_logreport(report):
    """On the pytest-xdist controller: count each worker's tests and time."""
    worker = getattr(report, 'node', None)
    if worker is not None:
        seen = WORKERS.setdefault(worker.gateway.id, [0, 0.0, report.start, report.stop])
        seen[0] += report.when == 'call'
        seen[1] += report.duration
        seen[2], seen[3] = min(seen[2], report.start), max(seen[3], report.stop)


def pytest_terminal_summary(terminalreporter):
    """Each worker's share: a worker that stops long before the other left time unused."""
    start = min((seen[2] for seen in WORKERS.values()), default=0)
    for worker, (tests, busy, first, last) in sorted(WORKERS.items()):
        terminalreporter.write_line('worker %s: %d tests, %.0f s of test time, from %.0f s to %.0f s into the run'
                                    % (worker, tests, busy, first - start, last - start))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size): a tmpfs of ``size`` (mount's notation, 8m) at tmp_path/name, unmounted whatever the test
    does."""
    mounted = []

    def mount(name, size):
        path = tmp_path / name
        path.mkdir()
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size, 'tmpfs-%s-test' % name, str(path)],
                       check=True)
        mounted.append(path)
        return path
    yield mount
    for path in mounted:
        subprocess.run(['umount', str(path)], check=True)
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert not [p for p in mounted if str(p) in f.read()]
