"""A full cache file system does not fail the build: the tree cache is an optimisation. Writing the entry warns,
naming the cache directory and the space it needed; no partial entry is left. A 1 MiB tmpfs is the full cache
(created and unmounted by the test); the tree is 4 MiB."""

import errno
import os
import shutil
import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='mounts a tmpfs')


class Failed(Exception):
    pass


class Module:
    """What Runner and bootstrap.build use of AnsibleModule."""

    def __init__(self):
        self.warnings = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return shutil.which(name)

    def run_command(self, argv, **_kwargs):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def warn(self, msg):
        self.warnings.append(msg)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


@pytest.fixture
def full_cache(tmpfs):
    return tmpfs('cache', '1m')


def make(partial):
    os.makedirs(os.path.join(partial, 'usr'))
    for i in range(4):
        with open(os.path.join(partial, 'usr', 'file%d' % i), 'wb') as f:
            f.write(os.urandom(2 ** 20))


def build(tmp_path, cache):
    module = Module()
    result = {'fingerprint': 'f' * 64, 'cached': False}
    bootstrap.build(Runner(module), str(tmp_path / 'b' / 'root'), {'suite': 'bookworm'}, result, str(cache), 3600,
                    make)
    return module, result


def test_a_full_cache_warns_and_the_build_goes_on_without_it(tmp_path, full_cache):
    module, result = build(tmp_path, full_cache)
    assert sorted(os.listdir(tmp_path / 'b' / 'root' / 'usr')) == ['file0', 'file1', 'file2', 'file3']
    assert not result['cached']
    assert len(module.warnings) == 1, module.warnings
    assert 'the cache directory %s is full: caching %s there needs about 4 MiB' % (full_cache / 'trees', 'f' * 64) \
        in module.warnings[0]
    # Only the entry's lock is left: no tree, no partial copy, no stamp.
    assert os.listdir(full_cache / 'trees') == ['f' * 64 + '.lock']
    # The next build finds no entry and builds again.
    _module, again = build(tmp_path, full_cache)
    assert not again['cached']


def test_a_stamp_that_does_not_fit_leaves_no_entry(tmp_path, monkeypatch):
    cache = tmp_path / 'cache'

    def no_space(path, _data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    monkeypatch.setattr(bootstrap.stamp, 'write', lambda p, d: no_space(p, d) if p.startswith(str(cache)) else None)
    module, _result = build(tmp_path, cache)
    assert 'the cache directory %s is full' % (cache / 'trees') in module.warnings[0]
    assert os.listdir(cache / 'trees') == ['f' * 64 + '.lock']
    assert os.path.isdir(tmp_path / 'b' / 'root' / 'usr')


def test_another_copy_failure_still_fails(tmp_path):
    cache = tmp_path / 'cache'
    with pytest.raises(Failed, match='copying the root tree failed'):
        bootstrap.replace_tree(Runner(Module()), str(tmp_path / 'missing'), str(cache / 'x'))
    assert not os.path.lexists(cache / 'x.partial')
