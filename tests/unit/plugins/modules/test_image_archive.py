"""image_archive: unchanged inputs and an intact archive change nothing; check mode says what a run would do."""

import os
import subprocess

import pytest
from module_runner import run_module

RESULT_KEYS = ('bytes', 'virtual_size', 'sha256', 'members', 'checks', 'seconds')


@pytest.fixture(name='tree')
def fixture_tree(tmp_path):
    root = tmp_path / 'root'
    (root / 'etc').mkdir(parents=True)
    (root / 'etc' / 'os-release').write_text('ID=test\n')
    return root


@pytest.fixture(name='vmdk')
def fixture_vmdk(tmp_path):
    raw = tmp_path / 'disk.raw'
    raw.write_bytes(os.urandom(1024 * 1024))
    vmdk = tmp_path / 'disk.vmdk'
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', str(raw),
                    str(vmdk)], check=True)
    return vmdk


def test_a_second_run_with_the_same_tree_changes_nothing_and_returns_the_same_result(tmp_path, tree):
    args = dict(src=str(tree), dest=str(tmp_path / 'root.tar.zst'), format='tar')
    first = run_module('image_archive', tmp_path, **args)
    assert first['changed'] and first['members'] == 3, first
    mtime = os.stat(args['dest']).st_mtime_ns
    assert not run_module('image_archive', tmp_path, check_mode=True, **args)['changed']
    second = run_module('image_archive', tmp_path, **args)
    assert not second['changed'] and os.stat(args['dest']).st_mtime_ns == mtime
    assert {k: second[k] for k in RESULT_KEYS} == {k: first[k] for k in RESULT_KEYS}


def test_a_changed_tree_or_option_makes_the_archive_again(tmp_path, tree, vmdk):
    args = dict(src=str(vmdk), dest=str(tmp_path / 'image.ova'), format='ova', name='web')
    assert run_module('image_archive', tmp_path, **args)['changed']
    assert run_module('image_archive', tmp_path, check_mode=True, **dict(args, vcpus=4))['changed']
    os.utime(vmdk)
    before = os.stat(args['dest']).st_mtime_ns
    assert run_module('image_archive', tmp_path, check_mode=True, **args)['changed']
    assert os.stat(args['dest']).st_mtime_ns == before, 'check mode writes nothing'
    assert run_module('image_archive', tmp_path, **args)['changed']
    assert not run_module('image_archive', tmp_path, **args)['changed']
    tar = dict(src=str(tree), dest=str(tmp_path / 'root.tar.zst'), format='tar')
    assert run_module('image_archive', tmp_path, **tar)['changed']
    (tree / 'etc' / 'hostname').write_text('web\n')
    assert run_module('image_archive', tmp_path, **tar)['changed']


def test_an_archive_replaced_or_missing_its_checksum_is_made_again(tmp_path, tree):
    args = dict(src=str(tree), dest=str(tmp_path / 'root.tar.zst'), format='tar')
    first = run_module('image_archive', tmp_path, **args)
    with open(args['dest'], 'ab') as f:
        f.write(b'junk')
    again = run_module('image_archive', tmp_path, **args)
    assert again['changed'] and again['bytes'] == os.path.getsize(args['dest']) != first['bytes'] + 4
    os.unlink(args['dest'] + '.sha256')
    assert run_module('image_archive', tmp_path, **args)['changed']
    os.unlink(args['dest'])
    assert run_module('image_archive', tmp_path, check_mode=True, **args)['changed']
