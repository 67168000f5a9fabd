"""Fixtures of the unit tests that need a real file system."""

import subprocess

import pytest


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
