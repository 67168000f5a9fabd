"""A build that fails mid-way says why, leaves nothing on the host and keeps the previous good image."""

import glob
import os

import pytest

from osimage_testlib import BIN, loops_of, run, sha256

pytestmark = pytest.mark.integration


def test_impossible_package_fails_cleanly_and_keeps_the_previous_image(default_build, tmp_path):
    image = default_build.image()
    before = sha256(image)
    manifest_before = open(os.path.join(default_build.dir, 'manifest.json'), encoding='utf-8').read()
    request = tmp_path / 'bad-package.yml'
    request.write_text('packages:\n  install: [osimage-no-such-package]\nwork_dir: %s\n' % (tmp_path / 'work'))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(request), '-o', default_build.dir], timeout=900)
    assert proc.returncode == 1
    assert 'build failed in stage bootstrap' in proc.stdout
    assert 'osimage-no-such-package' in proc.stdout
    assert sha256(image) == before
    assert open(os.path.join(default_build.dir, 'manifest.json'), encoding='utf-8').read() == manifest_before
    assert [e for e in os.listdir(tmp_path / 'work') if e != 'owners'] == []
    assert os.listdir(tmp_path / 'work' / 'owners') == []
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert str(tmp_path) not in f.read()
    assert loops_of(tmp_path, default_build.dir) == []
    assert not glob.glob(os.path.join(default_build.dir, '*.tmp*'))
