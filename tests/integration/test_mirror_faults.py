"""A mirror that dies mid-download or serves a corrupted package, or a full disk under the bootstrap, fails the build
clearly and harmlessly.

The mirror is local_apt's, serving Debian 12's packages (kept between runs in the closure cache that
test_family_bootstrap shares). By default: the mirror dies mid-bootstrap; the build fails naming the mirror and its
retries, leaves nothing behind (mounts, loop devices, partial files, cache entries), and the next build against the
healed mirror succeeds, caches its tree, and its image trusts the mirror's key; a bootstrap into a full disk fails
naming the directory. With -m matrix: a corrupted package in the bootstrap.
"""

import glob
import hashlib
import json
import os
import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from local_apt import LocalRepository, debian_closure
from module_runner import run_module
from osimage_testlib import BIN, ImageFile, left_on_host, run

pytestmark = pytest.mark.integration

CLOSURE_CACHE = '/var/cache/osimage/test-archives/bookworm'
SUITES = ('bookworm', 'bookworm-updates', 'bookworm-security')


@pytest.fixture(scope='module')
def debian_mirror(tmp_path_factory):
    """A signed mirror of Debian 12 with what a minimal build installs, in its release's three suites."""
    probe = req.resolve(minimal({}), cwd=str(tmp_path_factory.mktemp('probe')), build_id='mirrorprobe')
    packages = probe['os']['packages']
    wanted = packages['base'] + packages['kernel'] + packages['network'] + probe['disk']['packages']
    mirror = LocalRepository(packages={}, layout={suite: {'main': []} for suite in SUITES},
                             debs=debian_closure(CLOSURE_CACHE, wanted + probe['packages']['install']))
    yield mirror
    mirror.close()


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
    """The module's package and tree cache: a healthy build fills it, a failed one must not."""
    return tmp_path_factory.mktemp('cache')


def minimal(extra, mirror=None):
    request = {'formats': ['raw'], 'boot_test': {'enabled': False}}
    if mirror:
        uri = mirror.uri.rstrip('/')
        request['location'] = {'mirror': uri, 'security_mirror': uri, 'mirror_key_file': mirror.key_file}
    return dict(request, **extra)


def build(tmp_path, request, out):
    """Run the build; return it and its build.log, both with their white space runs made one space (the console
    and the log's YAML wrap long lines)."""
    path = tmp_path / 'request.yml'
    path.write_text(json.dumps(dict(request, work_dir=str(tmp_path / 'work'))))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '-o', str(out), '--no-boot-test'], timeout=1500)
    proc.stdout = ' '.join(proc.stdout.split())
    with open(out / 'build.log', encoding='utf-8') as f:
        return proc, ' '.join(f.read().split())


def cache_entries(cache):
    """The tree cache's entries (its lock files are not entries) and the package cache's files."""
    trees = [e for e in os.listdir(cache / 'trees') if not e.endswith('.lock')] if (cache / 'trees').exists() else []
    return sorted(trees + [os.path.relpath(p, cache) for p in glob.glob(str(cache / 'debs' / '*' / '*'))])


def assert_failed_cleanly(proc, log, mirror, stage, tmp_path, out):
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert 'build failed in stage %s' % stage in proc.stdout, proc.stdout[-3000:]
    assert 'the mirror %s' % mirror.uri in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert 'the mirror %s' % mirror.uri in log and 'then build again' in log
    assert left_on_host(tmp_path, tmp_path / 'work') == []
    with open('/proc/mounts', encoding='utf-8') as f:
        assert str(tmp_path) not in f.read()
    assert sorted(os.listdir(out)) == ['build.log'], os.listdir(out)


def assert_cached_debs_are_whole(cache, mirror):
    """Every .deb the cache kept is byte for byte the mirror's."""
    for path in glob.glob(str(cache / 'debs' / '*' / '*')):
        with open(path, 'rb') as f, open(os.path.join(mirror.repo, 'pool', os.path.basename(path)), 'rb') as g:
            assert hashlib.sha256(f.read()).digest() == hashlib.sha256(g.read()).digest(), path


def test_a_mirror_dying_mid_bootstrap_fails_cleanly_and_the_next_build_succeeds(debian_mirror, cache_dir, tmp_path):
    before = cache_entries(cache_dir)
    out = tmp_path / 'out'
    debian_mirror.fault('die', 20)
    try:
        proc, log = build(tmp_path, minimal({'cache_dir': str(cache_dir)}, debian_mirror), out)
    finally:
        debian_mirror.fault(None)
    assert_failed_cleanly(proc, log, debian_mirror, 'bootstrap', tmp_path, out)
    retries = re.search(r'broke off the download \([^)]*\) fetching pool/\S+ after (\d+) retries', log)
    assert retries and int(retries[1]) == 3, log[-4000:]  # debian_download_retries' default
    assert re.search(r'Ign:\d+ %s' % re.escape(debian_mirror.uri.rstrip('/')), log), log[-4000:]
    assert cache_entries(cache_dir) == before
    assert_cached_debs_are_whole(cache_dir, debian_mirror)

    # The healed mirror: the build passes, its tree is cached, and the image's apt trusts the mirror's key.
    proc, log = build(tmp_path, minimal({'cache_dir': str(cache_dir)}, debian_mirror), out)
    assert proc.returncode == 0, proc.stdout[-3000:] + log[-4000:]
    with open(out / 'manifest.json', encoding='utf-8') as f:
        manifest = json.load(f)
    image = ImageFile(str(out / ('%s.raw' % manifest['name'])))
    assert image.cat('/etc/apt/trusted.gpg.d/osimage-mirror.asc') == debian_mirror.key
    trees = [e for e in cache_entries(cache_dir) if e.endswith('.json')]
    assert len(trees) == 1
    # The bootstrap's retry setting was the build's, not the image's.
    assert not (cache_dir / 'trees' / trees[0][:-5] / 'etc/apt/apt.conf.d/99mmdebstrap').exists()
    assert (cache_dir / 'trees' / trees[0][:-5] / 'etc/apt/apt.conf.d').is_dir()
    assert left_on_host(tmp_path, tmp_path / 'work') == []


def test_a_bootstrap_into_a_full_disk_fails_naming_the_directory(debian_mirror, tmp_path, tmpfs):
    """debian_bootstrap (mmdebstrap from the mirror) into a 32 MiB tmpfs, a fraction of the tree: it fails naming the
    directory and its free space, the tmpfs is left empty and the cache holds no tree."""
    full, cache = tmpfs('full', '32m'), tmp_path / 'cache'
    result = run_module('debian_bootstrap', tmp_path, path=str(full / 'root'), suite='bookworm',
                        mirror=debian_mirror.uri, keyring=debian_mirror.key_file, cache_dir=str(cache))
    assert result.get('failed'), result
    assert 'mmdebstrap failed' in result['msg'] and 'out of space: %s' % full in result['msg'], result['msg'][:3000]
    assert os.listdir(full) == [] and not [e for e in cache_entries(cache) if not e.startswith('debs/')]
    assert_cached_debs_are_whole(cache, debian_mirror)


@pytest.mark.matrix
def test_a_corrupted_package_fails_the_bootstrap_naming_the_mirror(debian_mirror, tmp_path):
    cache, out = tmp_path / 'cache', tmp_path / 'out'
    debian_mirror.fault('corrupt', 'apt')
    try:
        proc, log = build(tmp_path, minimal({'cache_dir': str(cache)}, debian_mirror), out)
    finally:
        debian_mirror.fault(None)
    assert_failed_cleanly(proc, log, debian_mirror, 'bootstrap', tmp_path, out)
    assert re.search(r'served a corrupted file \(Hash Sum mismatch\) fetching pool/apt_\S+\.deb', log), log[-4000:]
    assert [e for e in cache_entries(cache) if not e.startswith('debs/')] == []
    assert not glob.glob(str(cache / 'debs' / '*' / 'apt_*'))
    assert_cached_debs_are_whole(cache, debian_mirror)
