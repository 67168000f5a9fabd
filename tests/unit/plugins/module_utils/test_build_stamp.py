"""The build fingerprint: the same request gives the same one whatever each build draws, and every key that
decides the image, the collection's code and the files a request names change it; the stamp check."""

import json
import os
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import build_stamp, stamp
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.bootstrap import cached_tree_stamp
from module_runner import run_module

BASE = {'output_dir': '/tmp/out', 'cache_dir': '/tmp/cache'}


def key(request, build_id='aaaa1111', cwd='/tmp'):
    return build_stamp.fingerprint(req.resolve(dict(BASE, **request), cwd=cwd, build_id=build_id))


def test_the_same_request_built_again_has_the_same_fingerprint_though_ids_and_uuids_differ():
    one, two = (req.resolve(dict(BASE), cwd='/tmp', build_id=b) for b in ('aaaa1111', 'bbbb2222'))
    assert one['disk']['root']['uuid'] != two['disk']['root']['uuid']
    assert build_stamp.fingerprint(one) == build_stamp.fingerprint(two)


def test_the_drawn_values_do_not_appear_in_what_is_fingerprinted():
    resolved = req.resolve(dict(BASE), cwd='/tmp', build_id='cccc3333')
    text = json.dumps(build_stamp.image_request(resolved))
    assert 'cccc3333' not in text and resolved['disk']['root']['uuid'] not in text


@pytest.mark.parametrize('change', [
    {'hostname': 'other'},
    {'packages': {'install': ['htop']}},
    {'release': 'trixie'},
    {'formats': ['qcow2', 'vmdk']},
    {'disk': {'size': '5G'}},
    {'locale': 'de_DE.UTF-8'},
    {'files': [{'path': '/etc/motd', 'content': 'hello\n'}]},
    {'mirror': 'http://ftp.de.debian.org/debian'},
    {'root_password_hash': '$6$abc$' + 'x' * 86},
    {'boot_test': {'memory_mib': 2048}},  # the OVA's virtual hardware reads it
])
def test_a_changed_key_changes_the_fingerprint(change):
    assert key(change) != key({})


def test_whether_the_boot_test_runs_does_not_change_the_fingerprint():
    assert key({'boot_test': {'enabled': False}}) == key({})


def test_the_content_of_a_named_template_or_tasks_file_changes_the_fingerprint(tmp_path):
    tasks = tmp_path / 'extra.yml'
    tasks.write_text('- ansible.builtin.debug: {msg: one}\n')
    first = key({'tasks': [str(tasks)]})
    assert key({'tasks': [str(tasks)]}) == first
    tasks.write_text('- ansible.builtin.debug: {msg: two}\n')
    assert key({'tasks': [str(tasks)]}) != first


def test_the_collections_code_is_part_of_the_fingerprint(tmp_path):
    for top in build_stamp.CODE_DIRS:
        (tmp_path / top).mkdir()
    (tmp_path / 'roles' / 'main.yml').write_text('a')
    first = build_stamp.code_version(str(tmp_path))
    build_stamp.code_version.cache_clear()
    (tmp_path / 'roles' / 'main.yml').write_text('b')
    assert build_stamp.code_version(str(tmp_path)) != first
    build_stamp.code_version.cache_clear()


def test_an_extra_repositorys_release_file_is_part_of_the_fingerprint(tmp_path):
    dists = tmp_path / 'repo' / 'dists' / 'bookworm'
    dists.mkdir(parents=True)
    (dists / 'InRelease').write_text('Date: Mon, 01 Jan 2024\n')
    resolved = dict(req.resolve(dict(BASE)), repositories=[{'name': 'local', 'uri': 'file://%s/repo' % tmp_path,
                                                            'suites': ['bookworm']}])
    first = build_stamp.repository_indexes(resolved)
    (dists / 'InRelease').write_text('Date: Tue, 02 Jan 2024\n')
    assert build_stamp.repository_indexes(resolved) != first
    assert first['local'] != ['unreachable']


def test_an_rpm_repositorys_repomd_is_part_of_the_fingerprint(tmp_path):
    (tmp_path / 'repo' / 'repodata').mkdir(parents=True)
    (tmp_path / 'repo' / 'repodata' / 'repomd.xml').write_text('<repomd><revision>1</revision></repomd>')
    resolved = dict(req.resolve(dict(BASE, distro='rocky', release='9')),
                    repositories=[{'name': 'local', 'uri': 'file://%s/repo/' % tmp_path}])
    first = build_stamp.repository_indexes(resolved)
    (tmp_path / 'repo' / 'repodata' / 'repomd.xml').write_text('<repomd><revision>2</revision></repomd>')
    assert build_stamp.repository_indexes(resolved) != first and len(first['local']) == 1
    assert first['local'] != ['unreachable']


def test_an_unchanged_password_keeps_its_hash_and_a_changed_one_does_not(tmp_path):
    request = dict(BASE, output_dir=str(tmp_path), root_password='s3cret',
                   users=[{'name': 'ann', 'password': 'pw-ann'}])
    first = req.resolve(request, cwd='/tmp', build_id='aaaa1111')
    build_stamp.write(str(tmp_path), 'k', build_stamp.secret_hashes(first), None, [])
    assert oct(os.stat(build_stamp.stamp_path(str(tmp_path))).st_mode & 0o777) == '0o600'
    again = req.resolve(build_stamp.reuse_hashes(request, str(tmp_path)), cwd='/tmp', build_id='bbbb2222')
    assert build_stamp.fingerprint(again) == build_stamp.fingerprint(first)
    changed = dict(request, root_password='other')
    other = req.resolve(build_stamp.reuse_hashes(changed, str(tmp_path)), cwd='/tmp', build_id='bbbb2222')
    assert other['root_password_hash'] != first['root_password_hash']
    assert other['users'][0]['password_hash'] == first['users'][0]['password_hash']
    assert build_stamp.fingerprint(other) != build_stamp.fingerprint(first)


def test_has_plain_passwords():
    assert build_stamp.has_plain_passwords({'root_password': 'x'})
    assert build_stamp.has_plain_passwords({'users': [{'name': 'a', 'password': 'x'}]})
    assert not build_stamp.has_plain_passwords({'root_password_hash': '$6$x', 'users': [{'name': 'a'}]})


@pytest.fixture(name='built')
def built_fixture(tmp_path):
    """An output directory with one artifact and a stamp, and its bootstrap cache entry."""
    out, cache = tmp_path / 'out', tmp_path / 'cache'
    (cache / 'trees').mkdir(parents=True)
    out.mkdir()
    image = out / 'disk.qcow2'
    image.write_bytes(b'image')
    created = time.time()
    stamp.write(cached_tree_stamp(str(cache), 'tree1'), {'created': created, 'fingerprint': 'tree1'})
    build_stamp.write(str(out), 'fp', {}, {'fingerprint': 'tree1', 'created': created},
                      [{'path': str(image), 'sha256': stamp.sha256_file(str(image))}])
    return {'output_dir': str(out), 'cache_dir': str(cache), 'image': image, 'created': created,
            'boot_test': {'enabled': False}}


def test_the_same_build_is_current_and_with_a_boot_test_only_once_it_passed(built):
    assert build_stamp.check(built, 'fp') == {'current': True, 'proven': False, 'reason': 'up to date'}
    booted = dict(built, boot_test={'enabled': True})
    assert build_stamp.check(booted, 'fp') == {'current': False, 'proven': False,
                                               'reason': 'its boot test has not passed'}
    assert build_stamp.mark_proven(built['output_dir'], 'fp')
    assert build_stamp.check(booted, 'fp') == {'current': True, 'proven': True, 'reason': 'up to date'}
    assert not build_stamp.mark_proven(built['output_dir'], 'other')


@pytest.mark.parametrize('why', ['force', 'fingerprint', 'artifact', 'missing', 'cache replaced', 'cache expired',
                                 'no stamp'])
def test_what_makes_a_build_not_current(built, why):
    fp, now = 'fp', None
    if why == 'fingerprint':
        fp = 'other'
    elif why == 'artifact':
        built['image'].write_bytes(b'imagf')
    elif why == 'missing':
        built['image'].unlink()
    elif why == 'cache replaced':
        stamp.write(cached_tree_stamp(built['cache_dir'], 'tree1'), {'created': built['created'] + 1})
    elif why == 'cache expired':
        now = built['created'] + 86400
    elif why == 'no stamp':
        build_stamp.remove(built['output_dir'])
    status = build_stamp.check(built, fp, force=why == 'force', now=now)
    assert not status['current'] and not status['proven'] and status['reason'] != 'up to date'


def test_a_build_has_a_stamp_fact_and_a_retrofit_none(tmp_path):
    base = {'output_dir': str(tmp_path), 'cache_dir': str(tmp_path / 'cache')}
    fact = build_stamp.stamp_fact(req.resolve(base, cwd='/tmp', build_id='aaaa1111'))
    assert fact['current'] is False and len(fact['fingerprint']) == 64
    image = {'distro': 'debian', 'release': 'bookworm', 'arch': 'amd64', 'table': 'mbr', 'firmware': 'bios'}
    for retrofit in ({}, image):
        assert build_stamp.stamp_fact(req.resolve(base, cwd='/tmp', build_id='aaaa1111', retrofit=retrofit)) is None


FAMILY_REQUESTS = [{}, {'bootstrap': {'tool': 'debootstrap'}, 'packages': {'install': ['vim']}},
                   {'distro': 'rocky', 'release': '9'}, {'distro': 'opensuse-leap', 'release': '15.6'}]


@pytest.mark.parametrize('request_', FAMILY_REQUESTS, ids=['debian', 'debootstrap', 'el', 'suse'])
def test_the_stamp_names_the_bootstrap_cache_entry_the_familys_module_makes(request_, tmp_path):
    """osimage_stamp.bootstrap is what the family's bootstrap module (given osimage.bootstrap.args, as the family's
    role passes them) returns as its fingerprint, so a build knows its bootstrap cache entry before bootstrapping."""
    resolved = req.resolve(dict(BASE, **request_), cwd='/tmp', build_id='aaaa1111')
    module = resolved['os']['bootstrap']['module']
    result = run_module(module, tmp_path, check_mode=True, path=str(tmp_path / 'root'),
                        **resolved['bootstrap']['args'])
    assert result.get('changed') is True, result
    assert build_stamp.stamp_fact(resolved)['bootstrap'] == result['fingerprint']
