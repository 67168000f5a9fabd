"""image_iso: the ISO is made again only when its tree or an option changed, or the ISO itself did."""

import os

import pytest
from module_runner import run_module

from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.modules import image_iso


@pytest.fixture(name='args')
def fixture_args(tmp_path):
    (tmp_path / 'root' / 'etc').mkdir(parents=True)
    (tmp_path / 'root' / 'etc' / 'os-release').write_text('ID=test\n')
    return dict(root=str(tmp_path / 'root'), dest=str(tmp_path / 'live.iso'), work_dir=str(tmp_path / 'iso'),
                initrd='initrd.img-*', live_needs=[], live_args=['boot=live'], grub_mkimage='grub-mkimage',
                grub_lib='/usr/lib/grub')


def published(args, result):
    """An ISO published and recorded as image_iso leaves it (its content does not matter here)."""
    with open(args['dest'], 'wb') as f:
        f.write(b'iso')
    with open(args['dest'] + '.sha256', 'w', encoding='utf-8') as f:
        f.write('%s  live.iso\n' % stamp.sha256_file(args['dest']))
    made = dict(result, bytes=3, sha256=stamp.sha256_file(args['dest']))
    stamp.record(args['dest'], image_iso.inputs_key(dict(args, label='OSIMAGE_LIVE', title='Live system', cmdline=[])),
                 made)
    return made


def test_the_inputs_are_the_tree_and_the_options_but_not_the_scratch_directory(args, tmp_path):
    key = image_iso.inputs_key(args)
    assert image_iso.inputs_key(dict(args, work_dir='/elsewhere', dest='/other.iso')) == key
    assert image_iso.inputs_key(dict(args, cmdline=['quiet'])) != key
    (tmp_path / 'root' / 'etc' / 'hostname').write_text('live\n')
    assert image_iso.inputs_key(args) != key


def test_a_recorded_iso_is_not_made_again_and_its_result_is_returned(args, tmp_path):
    made = published(args, {'boot_images': [{'number': 1, 'platform': 'BIOS'}], 'checks': [], 'seconds': 9.5})
    for check_mode in (True, False):
        result = run_module('image_iso', tmp_path, check_mode=check_mode, **args)
        assert not result['changed'], result
        assert {k: result[k] for k in made} == made
    assert not os.path.exists(args['work_dir'])


def test_check_mode_says_a_changed_tree_or_a_replaced_iso_would_be_made_again(args, tmp_path):
    published(args, {})
    (tmp_path / 'root' / 'etc' / 'hostname').write_text('live\n')
    assert run_module('image_iso', tmp_path, check_mode=True, **args)['changed']
    published(args, {})
    with open(args['dest'], 'ab') as f:
        f.write(b'!')
    result = run_module('image_iso', tmp_path, check_mode=True, **args)
    assert result['changed'] and 'sha256' not in result
    assert open(args['dest'], 'rb').read() == b'iso!', 'check mode writes nothing'
