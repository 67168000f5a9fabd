"""A full disk: preflight refuses a build whose directories lack the space it needs, naming the directory, the
space needed and the space free, before any privileged step; an assembly, a conversion or an archive that runs
out of space anyway leaves no partial file behind and names the directory. An 8 MiB tmpfs stands for the full
disk; it is unmounted in every outcome."""

import os
import subprocess
import sys

import pytest
import yaml
from module_runner import run_module

from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.runner import NO_SPACE

OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='mounts a tmpfs')


@pytest.fixture
def tiny_tmpfs(tmpfs):
    """An 8 MiB tmpfs at tmp_path/full, unmounted whatever the test does."""
    return tmpfs('full', '8m')


@pytest.mark.parametrize('key,needs', [('output_dir', '2.0 GiB'), ('work_dir', '3.0 GiB'), ('cache_dir', '1.5 GiB')])
def test_a_build_into_a_full_directory_is_refused_before_anything_is_made(tmp_path, tiny_tmpfs, key, needs):
    request = tmp_path / 'request.yml'
    dirs = {'work_dir': str(tmp_path / 'work'), 'cache_dir': str(tmp_path / 'cache'), 'output_dir': str(tmp_path / 'out')}
    dirs[key] = str(tiny_tmpfs)
    request.write_text(yaml.safe_dump(dict(dirs, formats=['qcow2', 'vmdk'])))
    proc = subprocess.run([OSIMAGE, 'build', str(request)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert '%s: %s has 8 MiB free; this build needs about %s there' % (key, tiny_tmpfs, needs) in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert os.listdir(tiny_tmpfs) == [] and not any(os.path.exists(d) for d in dirs.values() if d != str(tiny_tmpfs))


def test_a_build_that_ran_out_of_space_without_saying_where_is_told_which_directory_lacks_what(tmp_path, tiny_tmpfs):
    """A task in the tree (customize) fails with the tool's own words: the driver adds the directory and the need."""
    resolved = req.resolve({'work_dir': str(tiny_tmpfs), 'cache_dir': str(tmp_path / 'cache'),
                            'output_dir': str(tmp_path / 'out')})
    failure = "Run your task: non-zero return code: dd: error writing '/fill': No space left on device"
    said = preflight.out_of_space(failure, resolved)
    assert said.startswith(failure + '\nout of space: work_dir: %s has 8 MiB free; this build needs about 3.0 GiB '
                           'there' % tiny_tmpfs), said
    assert 'cache_dir' not in said  # it has the space
    roomy = preflight.out_of_space(failure, resolved, free=lambda path: 1 << 40)
    assert roomy.split('\nout of space: ')[1].split('; ') == [
        'work_dir: %s has 1024.0 GiB free' % tiny_tmpfs, 'this build needs about 3.0 GiB there',
        'cache_dir: %s has 1024.0 GiB free' % (tmp_path / 'cache'), 'this build needs about 1.5 GiB there',
        'output_dir: %s has 1024.0 GiB free' % (tmp_path / 'out'), 'this build needs about 1.0 GiB there']
    apt = "E: You don't have enough free space in /var/cache/apt/archives/."
    assert preflight.out_of_space('Install: failed', resolved, [{'stdout': 'Need to get 38 MB\n%s\n' % apt}]) \
        .startswith('Install: failed: %s\nout of space: work_dir: %s has 8 MiB' % (apt, tiny_tmpfs))
    dd = "dd: error writing '/fill': No space left on device"  # in a rescued task; the build's summary fails after
    failed = [{'msg': 'non-zero return code', 'stderr': 'x\n%s\n' % dd, 'stdout': ''}, {'msg': 'customizing failed'}]
    assert preflight.out_of_space('Stop: customizing failed', resolved, failed) \
        .startswith('Stop: customizing failed: %s\nout of space: work_dir: ' % dd)
    for other in ('Partition: exit 1', 'writing x: out of space: %s has 0 MiB free; %s' % (tiny_tmpfs, NO_SPACE)):
        assert preflight.out_of_space(other, resolved) == other


def test_an_assembly_that_runs_out_of_space_leaves_no_partial_disk_and_names_the_directory(tmp_path, tiny_tmpfs):
    root = tmp_path / 'root'
    (root / 'usr').mkdir(parents=True)
    for i in range(4):
        (root / 'usr' / ('file%d' % i)).write_bytes(os.urandom(4 * 1024 * 1024))  # 16 MiB into the 8 MiB tmpfs
    result = run_module('disk_image', tmp_path, path=str(tiny_tmpfs / 'disk.raw'), size='64MiB', root=str(root),
                        partitions=[{'name': 'root', 'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}])
    assert result.get('failed'), result
    assert 'out of space: %s has 0 MiB free' % tiny_tmpfs in result['msg'], result['msg']
    assert os.listdir(tiny_tmpfs) == [], 'no partial disk, no split tree, no stamp'


def test_a_conversion_that_runs_out_of_space_leaves_no_partial_file_and_names_the_directory(tmp_path, tiny_tmpfs):
    src = tmp_path / 'disk.raw'
    src.write_bytes(os.urandom(32 * 1024 * 1024))  # incompressible: the qcow2 needs 32 MiB, the tmpfs has 8
    result = run_module('image_convert', tmp_path, src=str(src), dest=str(tiny_tmpfs / 'image.qcow2'), format='qcow2',
                        force=True)
    assert result.get('failed'), result
    assert 'out of space: %s has 0 MiB free' % tiny_tmpfs in result['msg'], result['msg']
    assert os.listdir(tiny_tmpfs) == [], 'no partial image and no checksum are left'


def test_an_archive_that_runs_out_of_space_leaves_no_partial_file_and_names_the_directory(tmp_path, tiny_tmpfs):
    raw = tmp_path / 'disk.raw'
    raw.write_bytes(os.urandom(32 * 1024 * 1024))
    vmdk = tmp_path / 'disk.vmdk'
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', str(raw),
                    str(vmdk)], check=True)
    result = run_module('image_archive', tmp_path, src=str(vmdk), dest=str(tiny_tmpfs / 'image.ova'), format='ova')
    assert result.get('failed'), result
    assert 'out of space: %s has 0 MiB free' % tiny_tmpfs in result['msg'], result['msg']
    assert 'Traceback' not in result.get('module_stderr', '') and os.listdir(tiny_tmpfs) == []
