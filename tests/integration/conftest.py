"""Integration fixtures: each distinct image (the default request, the all-keys request) is built once per test
run and shared by every test that needs it."""

import os

import pytest

import all_keys
from local_apt import LocalRepository, RecordingProxy
from local_rpm import LocalRpmRepository
from osimage_testlib import BIN, Built, run


@pytest.fixture(scope='session')
def default_build(tmp_path_factory):
    """`osimage build --json` of the default request (Debian 12, qcow2), boot test included: stdout has its stage
    events and summary as JSON lines, stderr what a user reads."""
    out = str(tmp_path_factory.mktemp('default'))
    proc = run([os.path.join(BIN, 'osimage'), 'build', '-o', out, '--json'], timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Built(out, proc)


@pytest.fixture(scope='session')
def default_raw(default_build, tmp_path_factory):
    """The default qcow2 converted back to raw, to inspect the bytes a user gets."""
    raw = str(tmp_path_factory.mktemp('raw') / 'disk.raw')
    run(['qemu-img', 'convert', '-O', 'raw', default_build.image(), raw], check=True)
    return raw


@pytest.fixture(scope='session')
def all_keys_build(tmp_path_factory, local_apt_repo, recording_proxy):
    """`osimage build` of the all-keys request (all_keys.py): every key, every default-tested format, vaulted
    passwords, through the recording proxy; booted and verified on its qcow2."""
    return all_keys.build(tmp_path_factory.mktemp('all-keys-src'), tmp_path_factory.mktemp('all-keys'), local_apt_repo,
                          recording_proxy)


@pytest.fixture(scope='session')
def all_keys_raw(all_keys_build, tmp_path_factory):
    """The all-keys qcow2 converted to raw, to read its files offline."""
    raw = str(tmp_path_factory.mktemp('all-keys-raw') / 'disk.raw')
    run(['qemu-img', 'convert', '-O', 'raw', all_keys_build.image(), raw], check=True)
    return raw


@pytest.fixture(scope='session')
def local_apt_repo():
    """A signed apt repository served on 127.0.0.1 (local_apt.PACKAGES): .uri, .suite, .component, .key_file,
    .key (armored), .packages {name: version}, .requests() (paths it served)."""
    repo = LocalRepository()
    yield repo
    repo.close()


@pytest.fixture(scope='session')
def recording_proxy():
    """An HTTP proxy on 127.0.0.1: .url, .requests() (every URL it forwarded)."""
    proxy = RecordingProxy()
    yield proxy
    proxy.close()


@pytest.fixture(scope='session')
def local_rpm_repo():
    """A signed rpm-md repository served on 127.0.0.1 (local_rpm.PACKAGES): .baseurl, .key_file, .key_url,
    .packages {name: version}, .unsigned (names of the unsigned packages), .requests() (paths it served)."""
    repo = LocalRpmRepository()
    yield repo
    repo.close()
