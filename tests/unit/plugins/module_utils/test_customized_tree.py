"""The customized-tree cache: its key leaves out only the late keys, what each build draws and what never reaches
the tree; an entry is restored while its bootstrap entry is current, stored whole or not at all, and pruned."""

import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import build_stamp, customized_tree, leftovers, stamp
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.bootstrap import cached_tree_stamp
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

BASE = {'output_dir': '/tmp/out', 'cache_dir': '/tmp/cache'}


def tree_key(request, build_id='aaaa1111'):
    return build_stamp.stamp_fact(req.resolve(dict(BASE, **request), cwd='/tmp', build_id=build_id))['tree']


@pytest.mark.parametrize('change', [
    {'hostname': 'renamed'},
    {'output_dir': '/tmp/elsewhere'},
    {'formats': ['qcow2', 'vmdk']},
    {'name': 'web'},
    {'boot_test': {'enabled': False, 'memory_mib': 2048}},
])
def test_a_late_key_or_one_outside_the_tree_keeps_the_tree_key(change):
    assert tree_key(change, build_id='bbbb2222') == tree_key({})


@pytest.mark.parametrize('change', [
    {'packages': {'install': ['htop']}},
    {'release': 'trixie'},
    {'mirror': 'http://ftp.de.debian.org/debian'},
    {'locale': 'de_DE.UTF-8'},
    {'timezone': 'Europe/Paris'},
    {'disk': {'size': '5G'}},
    {'kernel_cmdline': ['quiet']},
    {'root_password_hash': '$6$abc$' + 'x' * 86},
    {'services': {'enabled': ['ssh.service']}},
    {'slim': True},
])
def test_a_customization_key_changes_the_tree_key(change):
    assert tree_key(change) != tree_key({})


def test_a_request_with_its_own_files_or_tasks_has_no_tree_key(tmp_path):
    tasks = tmp_path / 'extra.yml'
    tasks.write_text('- ansible.builtin.debug: {msg: one}\n')
    assert tree_key({'files': [{'path': '/etc/motd', 'content': 'hello\n'}]}) is None
    assert tree_key({'tasks': [str(tasks)]}) is None
    assert tree_key({}) is not None


class Failed(Exception):
    pass


class Module:
    """What Runner and the cache functions use of AnsibleModule."""

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return shutil.which(name)

    def run_command(self, argv, **kwargs):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=kwargs.get('cwd'))
        return proc.returncode, proc.stdout, proc.stderr

    def warn(self, msg):
        raise AssertionError(msg)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


@pytest.fixture
def cache(tmp_path):
    """A cache directory with the bootstrap entry 'boot1', created now."""
    cache_dir = tmp_path / 'cache'
    (cache_dir / 'trees').mkdir(parents=True)
    stamp.write(cached_tree_stamp(str(cache_dir), 'boot1'), {'created': time.time(), 'fingerprint': 'boot1'})
    return str(cache_dir)


def customized(tmp_path, name, hostname):
    root = tmp_path / name
    (root / 'etc').mkdir(parents=True)
    (root / 'etc' / 'hostname').write_text(hostname + '\n')
    return str(root)


def entry_of(cache, tree='t1'):
    boot = customized_tree.bootstrap_entry(cache, 'boot1')
    return customized_tree.entry_key(tree, boot), boot


def test_a_stored_tree_is_restored_while_its_bootstrap_entry_is_current(tmp_path, cache):
    runner = Runner(Module())
    key, boot = entry_of(cache)
    assert customized_tree.store(runner, cache, key, customized(tmp_path, 'built', 'first'), boot)
    assert not customized_tree.store(runner, cache, key, customized(tmp_path, 'again', 'second'), boot)  # kept
    dest = str(tmp_path / 'next' / 'root')
    os.makedirs(os.path.dirname(dest))
    assert customized_tree.restore(runner, cache, key, dest)
    with open(os.path.join(dest, 'etc', 'hostname'), encoding='utf-8') as f:
        assert f.read() == 'first\n'
    assert not os.path.exists(dest + '.partial')
    assert stamp.read(dest + customized_tree.RESTORED_SUFFIX) == {'entry': key, 'bootstrap': boot, 'uuid_seed': None}
    # A bootstrap from the mirror anew (another creation time) makes the entry stale: a miss, another key.
    stamp.write(cached_tree_stamp(cache, 'boot1'), {'created': time.time() + 1, 'fingerprint': 'boot1'})
    assert customized_tree.current(cache, key) is None
    assert not customized_tree.restore(runner, cache, key, str(tmp_path / 'stale'))
    assert entry_of(cache)[0] != key


def test_an_entry_keeps_the_uuid_seed_it_was_stored_with_and_restores_for_it_alone(tmp_path, cache):
    runner = Runner(Module())
    key, boot = entry_of(cache)
    assert customized_tree.uuid_seed(cache, 't1', 'boot1') is None
    assert customized_tree.store(runner, cache, key, customized(tmp_path, 'built', 'first'), boot, seed='seed1111')
    assert customized_tree.uuid_seed(cache, 't1', 'boot1') == 'seed1111'
    assert customized_tree.uuid_seed(cache, 't2', 'boot1') is None
    os.makedirs(tmp_path / 'next')
    assert not customized_tree.restore(runner, cache, key, str(tmp_path / 'next' / 'other'), seed='seed2222')
    assert customized_tree.restore(runner, cache, key, str(tmp_path / 'next' / 'root'), seed='seed1111')
    assert stamp.read(str(tmp_path / 'next' / 'root') + customized_tree.RESTORED_SUFFIX)['uuid_seed'] == 'seed1111'


def test_a_build_that_restores_a_tree_resolves_to_its_disk_uuids_and_its_fingerprint():
    first = req.resolve(dict(BASE), cwd='/tmp', build_id='aaaa1111')
    again = req.resolve(dict(BASE, hostname='renamed'), cwd='/tmp', build_id='bbbb2222', uuid_seed='aaaa1111')
    fresh = req.resolve(dict(BASE, hostname='renamed'), cwd='/tmp', build_id='bbbb2222')
    assert (again['disk']['uuid_seed'], fresh['disk']['uuid_seed']) == ('aaaa1111', 'bbbb2222')
    assert again['disk']['mounts'] == first['disk']['mounts'] != fresh['disk']['mounts']
    assert again['disk']['root'] == first['disk']['root']
    # The same request with the seed of the build it restores from is the same build: up to date when built.
    same = req.resolve(dict(BASE), cwd='/tmp', build_id='cccc3333', uuid_seed='aaaa1111')
    assert build_stamp.fingerprint(same) == build_stamp.fingerprint(first)


def test_an_expired_bootstrap_entry_misses(cache):
    old = time.time() - customized_tree.bootstrap.TREE_CACHE_MAX_AGE - 1
    stamp.write(cached_tree_stamp(cache, 'boot1'), {'created': old, 'fingerprint': 'boot1'})
    assert customized_tree.bootstrap_entry(cache, 'boot1') is None
    assert customized_tree.bootstrap_entry(cache, 'missing') is None


def test_an_interrupted_store_leaves_no_entry_and_clean_releases_its_copy(tmp_path, cache, monkeypatch):
    runner = Runner(Module())
    key, boot = entry_of(cache)

    def killed(path, data):
        raise KeyboardInterrupt  # the build dies after the copy, before the entry's stamp is written

    monkeypatch.setattr(stamp, 'write', killed)
    with pytest.raises(KeyboardInterrupt):
        customized_tree.store(runner, cache, key, customized(tmp_path, 'built', 'first'), boot)
    monkeypatch.undo()
    assert customized_tree.current(cache, key) is None
    assert not customized_tree.restore(runner, cache, key, str(tmp_path / 'next'))
    released = leftovers.release_cache(cache)
    assert any('without its stamp' in r and customized_tree.KIND in r for r in released), released
    assert not os.path.exists(customized_tree.entry_path(cache, key))


def test_storing_prunes_stale_entries_and_the_least_recently_used(tmp_path, cache):
    runner = Runner(Module())
    stamp.write(cached_tree_stamp(cache, 'boot0'), {'created': time.time(), 'fingerprint': 'boot0'})
    gone_boot = customized_tree.bootstrap_entry(cache, 'boot0')
    gone = customized_tree.entry_key('t0', gone_boot)
    customized_tree.store(runner, cache, gone, customized(tmp_path, 'gone', 'x'), gone_boot)
    os.unlink(cached_tree_stamp(cache, 'boot0'))  # its bootstrap entry is gone: it can never be hit again
    keys = []
    for i in range(customized_tree.KEEP + 1):
        key, boot = entry_of(cache, 't%d' % (i + 1))
        customized_tree.store(runner, cache, key, customized(tmp_path, 'tree%d' % i, 'h%d' % i), boot)
        entry = customized_tree.entry_path(cache, key) + '.json'
        os.utime(entry, (time.time() - 100 + i, time.time() - 100 + i))
        keys.append(key)
    left = sorted(n for n in os.listdir(os.path.join(cache, customized_tree.KIND)) if n.endswith('.json'))
    assert left == sorted(k + '.json' for k in keys[1:]), left  # the oldest and the stale one went
    assert not os.path.exists(customized_tree.entry_path(cache, gone))
    assert not os.path.exists(customized_tree.entry_path(cache, keys[0]) + '.lock')


def test_a_finished_build_moves_its_tree_into_the_cache(tmp_path, cache):
    runner = Runner(Module())
    key, boot = entry_of(cache)
    built = customized(tmp_path, 'built', 'first')
    assert customized_tree.store(runner, cache, key, built, boot, move=True)
    assert not os.path.exists(built)
    with open(os.path.join(customized_tree.entry_path(cache, key), 'etc', 'hostname'), encoding='utf-8') as f:
        assert f.read() == 'first\n'
    assert customized_tree.current(cache, key)['bootstrap'] == boot


def test_a_build_moves_an_entry_out_and_stores_it_back(tmp_path, cache):
    runner = Runner(Module())
    key, boot = entry_of(cache)
    customized_tree.store(runner, cache, key, customized(tmp_path, 'built', 'first'), boot, move=True)
    dest = str(tmp_path / 'next' / 'root')
    os.makedirs(os.path.dirname(dest))
    assert customized_tree.restore(runner, cache, key, dest, move=True)
    assert customized_tree.current(cache, key) is None  # out of the cache while the build uses it
    assert customized_tree.origin(cache, dest) == boot
    (tmp_path / 'next' / 'root' / 'etc' / 'hostname').write_text('second\n')
    assert customized_tree.store(runner, cache, key, dest, customized_tree.origin(cache, dest), move=True)
    assert customized_tree.current(cache, key) is not None and not os.path.exists(dest)
