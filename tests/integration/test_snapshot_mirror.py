"""A mirror whose suites are past their Valid-Until: every suite the bootstrap reads is checked before anything
privileged, and a request that says the mirror is a snapshot (location.mirror_snapshot) builds from it knowingly.

`osimage build` against a local mirror whose -security suite expired exits 2 in a second naming the key, the URL and
the date, having read only the suites' Release files; mmdebstrap bootstraps Debian 12's essential set and apt from a
local mirror whose three suites expired, with the key set (16 s here), and leaves no trace of the setting in the
tree; without it apt refuses the mirror.
"""

import json
import os
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from local_apt import LocalRepository, debian_closure
from module_runner import run_module
from osimage_testlib import BIN, run

pytestmark = pytest.mark.integration

CLOSURE_CACHE = '/var/cache/osimage/test-archives/bookworm'
SUITES = ('bookworm', 'bookworm-updates', 'bookworm-security')
PAST = 'Fri, 06 Nov 2026 08:08:01 UTC'
SNAPSHOT_OPTION = '--aptopt=Acquire::Check-Valid-Until "false";'


def request_for(mirror, **location):
    uri = mirror.uri.rstrip('/')
    return {'formats': ['raw'], 'boot_test': {'enabled': False},
            'location': dict({'mirror': uri, 'security_mirror': uri, 'mirror_key_file': mirror.key_file}, **location)}


def test_a_build_from_a_mirror_whose_security_suite_expired_is_refused_before_anything_privileged(tmp_path):
    mirror = LocalRepository(packages={}, layout={suite: {'main': []} for suite in SUITES},
                             valid_until={'bookworm-security': PAST})
    try:
        path = tmp_path / 'request.json'
        path.write_text(json.dumps(dict(request_for(mirror), work_dir=str(tmp_path / 'work'))))
        started = time.time()
        proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '-o', str(tmp_path / 'out'), '--no-boot-test'],
                   timeout=300)
        took = time.time() - started
        served = mirror.requests()
    finally:
        mirror.close()
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    said = ' '.join(proc.stderr.split())
    assert ('location.security_mirror: %sdists/bookworm-security/Release expired on %s (its Valid-Until): apt refuses '
            'it' % (mirror.uri, PAST)) in said, said
    assert 'or set location.mirror_snapshot: true' in said and 'location.mirror:' not in said
    # only the suites' Release files were read; nothing was made
    assert sorted(set(served)) == sorted('/dists/%s/Release' % suite for suite in SUITES)
    assert not (tmp_path / 'work').exists() and not (tmp_path / 'out').exists()
    assert took < 60, took


@pytest.fixture(scope='module')
def snapshot(tmp_path_factory):
    """A signed mirror of Debian 12's essential set and apt whose three suites all expired."""
    mirror = LocalRepository(packages={}, layout={suite: {'main': []} for suite in SUITES},
                             debs=debian_closure(CLOSURE_CACHE, []), valid_until={suite: PAST for suite in SUITES})
    yield mirror
    mirror.close()


def test_mmdebstrap_bootstraps_from_a_snapshot_whose_suites_expired_and_the_tree_keeps_no_trace(snapshot, tmp_path):
    build = req.resolve(request_for(snapshot, mirror_snapshot=True), cwd=str(tmp_path), build_id='snapshot1')
    assert preflight.mirror_errors(build) == []
    args = build['bootstrap']['args']
    assert len(args['extra_sources']) == 2

    def bootstrap(root, apt_options):
        return run_module('debian_bootstrap', tmp_path, path=str(root), suite='bookworm', mirror=args['mirror'],
                          keyring=args['keyring'], extra_sources=args['extra_sources'], apt_options=apt_options)
    started = time.time()
    result = bootstrap(tmp_path / 'root', args['apt_options'])
    took = time.time() - started
    assert not result.get('failed'), result.get('msg', '')[-3000:]
    assert SNAPSHOT_OPTION in result['cmd'], result['cmd']
    # the image's apt checks Valid-Until like any Debian: the build's setting is not left in the tree
    conf = tmp_path / 'root' / 'etc' / 'apt' / 'apt.conf.d'
    assert not [f.name for f in conf.iterdir() if 'Check-Valid-Until' in f.read_text()]
    assert (tmp_path / 'root' / 'usr' / 'bin' / 'apt-get').exists()
    # without the setting apt refuses the expired suites
    refused = bootstrap(tmp_path / 'refused', [])
    assert refused.get('failed') and 'is expired' in refused['msg'], refused.get('msg', '')[-3000:]
    assert not (tmp_path / 'refused').exists()
    print('bootstrap from the snapshot took %.0f s' % took)
