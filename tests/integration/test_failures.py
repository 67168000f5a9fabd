"""A build that fails mid-way says why, leaves nothing on the host and keeps the previous good image. With -m matrix:
a customize stage that fills work_dir."""

import glob
import json
import os
import re

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


def entries(cache):
    """A cache's entries (a lookup may make a lock file; that is no entry)."""
    return sorted(e for e in os.listdir(cache) if not e.endswith('.lock')) if os.path.isdir(cache) else []


@pytest.mark.matrix
def test_a_customize_stage_that_fills_work_dir_names_it_and_the_next_build_works(tmp_path, tmpfs):
    """work_dir on a tmpfs just over what preflight asks for; the request's own task fills the tree: the build fails
    in customize naming work_dir and this build's need, leaves the tmpfs, the output directory and the customized-tree
    cache as they were, and the same request without the task builds."""
    work, out = tmpfs('work', '3200m'), tmp_path / 'out'
    fill = tmp_path / 'fill.yml'
    fill.write_text('- name: Fill the disk\n  ansible.builtin.command: dd if=/dev/zero of=/fill bs=1M\n'
                    '  changed_when: true\n')
    customized = entries('/var/cache/osimage/customized')
    request = {'work_dir': str(work), 'formats': ['raw']}
    path = tmp_path / 'request.yml'
    path.write_text(json.dumps(dict(request, tasks=[str(fill)])))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '-o', str(out), '--no-boot-test'], timeout=1200)
    said = ' '.join(proc.stdout.split())
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'build failed in stage customize' in said and 'No space left on device' in said, said[-3000:]
    assert re.search(r'out of space: work_dir: %s has [0-9.]+ [GM]iB free; this build needs about 3.0 GiB there'
                     % re.escape(str(work)), said), said[-3000:]
    assert [e for e in os.listdir(work) if e != 'owners'] == [] and os.listdir(work / 'owners') == []
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert not [line for line in f if str(work) + '/' in line]
    assert loops_of(tmp_path) == [] and sorted(os.listdir(out)) == ['build.log']
    assert entries('/var/cache/osimage/customized') == customized

    path.write_text(json.dumps(request))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '-o', str(out), '--no-boot-test'], timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert os.path.getsize(out / ('%s.raw' % json.loads((out / 'manifest.json').read_text())['name'])) > 0
