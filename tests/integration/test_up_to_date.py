"""Nothing changed, nothing redone: the same request built again into the same output directory is up to date in
seconds and leaves the artifacts as they were; a changed key rebuilds (the fingerprint's keys: unit tests).

Default run: the session's default build, again through the driver and through the playbook.
Matrix (-m matrix): a build without its boot test, again (up to date), with another hostname (rebuilt, a
different image), with --force (rebuilt).
"""

import json
import os
import time

import pytest

from osimage_testlib import BIN, ROOT, playbook, run

pytestmark = pytest.mark.integration


def build(out, *args, request=None):
    """`osimage build --json` into ``out``; (seconds, summary)."""
    argv = [os.path.join(BIN, 'osimage'), 'build', '--json', '-o', str(out), *args]
    if request:
        argv.insert(2, str(request))
    started = time.monotonic()
    proc = run(argv, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return time.monotonic() - started, json.loads(proc.stdout.splitlines()[-1])  # after the stage events


def checksums(built_dir):
    with open(os.path.join(built_dir, 'manifest.json'), encoding='utf-8') as f:
        images = json.load(f)['images']
    return {i['dest']: (run(['sha256sum', i['dest']], check=True).stdout.split()[0], os.stat(i['dest']).st_mtime_ns)
            for i in images}


def test_the_same_request_again_is_up_to_date_in_seconds(default_build):
    before = checksums(default_build.dir)
    seconds, summary = build(default_build.dir)
    assert summary['result'] == 'up-to-date' and summary['exit_code'] == 0, summary
    assert seconds < 15, seconds
    assert {a['path']: a['sha256'] for a in summary['artifacts']} == {p: c[0] for p, c in before.items()}
    assert checksums(default_build.dir) == before  # not rewritten either


def test_the_playbook_finds_the_same_build_up_to_date(default_build):
    before = checksums(default_build.dir)
    proc = playbook(os.path.join(ROOT, 'playbooks', 'build.yml'), '-e', 'output_dir=%s' % default_build.dir,
                    timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert 'up to date: %s holds this build' % default_build.dir in proc.stdout
    assert 'Bootstrap the Debian-family root tree' not in proc.stdout  # no stage ran
    assert 'Boot the image and wait for its login prompt' not in proc.stdout or 'skipping' in proc.stdout
    assert checksums(default_build.dir) == before


@pytest.mark.matrix
def test_a_changed_hostname_rebuilds_and_force_rebuilds(tmp_path):
    out = tmp_path / 'out'
    first = build(out, '--no-boot-test')[1]
    assert first['result'] == 'ok'
    seconds, again = build(out, '--no-boot-test')
    assert again['result'] == 'up-to-date' and seconds < 15, (seconds, again)
    request = tmp_path / 'request.yml'
    request.write_text('hostname: renamed\n')
    renamed = build(out, '--no-boot-test', request=request)[1]
    assert renamed['result'] == 'ok'
    with open(os.path.join(str(out), 'manifest.json'), encoding='utf-8') as f:
        assert json.load(f)['request']['hostname'] == 'renamed'
    assert renamed['artifacts'][0]['sha256'] != first['artifacts'][0]['sha256']
    forced = build(out, '--no-boot-test', '--force', request=request)[1]
    assert forced['result'] == 'ok' and forced['build_log']
