"""Builds of different requests started at once, sharing one work directory and one cache, one of them SIGKILLed
(with every process under it) at a random moment: `osimage clean`, run while the others still build, releases
only the killed build's resources; the others finish with correct images; nothing of the killed build is left
(mounts, loop devices, processes, temporary directories, cache entries) and the cache stays consistent: a
following build of the killed request reuses it.

The moment is a stage drawn at random and a time into it, not a time since the start: builds get faster and a
loaded machine slows them, a stage stays. The others are stopped (SIGSTOP) while the victim dies and `osimage
clean` runs, so they are surely still building then, holding their locks, mounts and loop devices.

By default three raw builds without boot test from the session's cache (the default build's tree); with
-m matrix four, from an empty cache, two of them with a package more, so the cache is filled while they race.
The seed of the random choice is printed (OSIMAGE_TEST_SEED replays it)."""

import glob
import json
import os
import pathlib
import random
import re
import subprocess
import tempfile
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils.cachelock import try_lock
from osimage_testlib import (BIN, ImageFile, ansible_local_dirs, continue_everything, kill_everything, left_on_host,
                             run, stop_everything)

pytestmark = pytest.mark.integration

OSIMAGE = os.path.join(BIN, 'osimage')
DEFAULT_CACHE = '/var/cache/osimage'
# When the victim dies: a stage drawn at random, up to these seconds into it (or at its end, if sooner).
MOMENTS = {'validate': 1, 'bootstrap': 3, 'customize': 8, 'assemble': 2, 'convert': 1}
LAG = 2  # the others start this many seconds after the victim, so that they still build when it dies


def start(tmp_path, i, request, boot_test=False):
    path = tmp_path / ('r%d.json' % i)
    path.write_text(json.dumps(request))
    with open(tmp_path / ('log%d' % i), 'w', encoding='utf-8') as log:
        return subprocess.Popen([OSIMAGE, 'build', str(path), '-o', str(tmp_path / ('out%d' % i))]
                                + ([] if boot_test else ['--no-boot-test']), stdout=log, stderr=subprocess.STDOUT)


def log_of(tmp_path, i):
    return (tmp_path / ('log%d' % i)).read_text(encoding='utf-8', errors='replace')


def cache_problems(cache):
    """What makes the tree cache inconsistent: an entry without its stamp, a partial or temporary file, a held
    or orphaned lock; [] when none."""
    trees = os.path.join(cache, 'trees')
    names = os.listdir(trees) if os.path.isdir(trees) else []
    problems = ['%s left' % n for n in names if n.endswith('.partial') or '.tmp-' in n]
    for name in names:
        path = os.path.join(trees, name)
        if os.path.isdir(path) and not name.endswith('.partial') and name + '.json' not in names:
            problems.append('entry %s without its stamp' % name)
        if name.endswith('.lock'):
            fd = try_lock(path)
            if fd is None:
                problems.append('lock %s held' % name)
            else:
                os.close(fd)
            if name[:-len('.lock')] not in names:
                problems.append('lock %s without its entry' % name)
    debs = glob.glob(os.path.join(glob.escape(cache), 'debs', '*', '*.tmp-*'))
    return problems + ['%s left' % d for d in debs]


def stamps(cache):
    """{path: content} of the cache's tree stamps: a tree made again has a new one."""
    return {str(p): p.read_text(encoding='utf-8') for p in pathlib.Path(cache, 'trees').glob('*.json')}


def owned_by(work, pids):
    """The build ids whose owner record names one of ``pids``."""
    owners, found = os.path.join(work, 'owners'), []
    for name in os.listdir(owners) if os.path.isdir(owners) else []:
        try:
            with open(os.path.join(owners, name), encoding='utf-8') as f:
                if json.load(f)['pid'] in pids:
                    found.append(name)
        except (OSError, ValueError, KeyError):
            pass
    return found


def packages(manifest):
    return {p['name'] for p in manifest['packages']}


def wait_into_stage(tmp_path, i, proc, stage, seconds):
    """Return once build ``i`` is ``seconds`` into ``stage``, or has ended that stage."""
    starts, ends = re.compile(r'stage %s$' % stage, re.M), re.compile(r'stage %s \w+ in' % stage)
    began, deadline = None, time.monotonic() + 1800
    while time.monotonic() < deadline:
        log = log_of(tmp_path, i)
        if began is None and starts.search(log):
            began = time.monotonic()
        if began is not None and (time.monotonic() - began >= seconds or ends.search(log)):
            return
        assert proc.poll() is None, 'build %d ended before stage %s:\n%s' % (i, stage, log[-3000:])
        time.sleep(0.05)
    raise AssertionError('build %d: stage %s never came' % (i, stage))


def builds_at_once_one_killed(tmp_path, requests, cache, expected, moments):
    """Start ``requests`` at once (the victim, drawn at random, ``LAG`` seconds first), SIGKILL the victim at a
    moment drawn from ``moments`` while the others are stopped, clean, check the others and the cache, rebuild
    the killed one; ``expected`` gives the packages each image must hold. Returns the seconds the whole took."""
    seed = int(os.environ.get('OSIMAGE_TEST_SEED', random.randrange(10 ** 6)))
    rng = random.Random(seed)
    victim, stage = rng.randrange(len(requests)), rng.choice(sorted(moments))
    into = rng.uniform(0, moments[stage])
    what = 'seed %d: build %d SIGKILLed %.1f s into stage %s (or at its end)' % (seed, victim, into, stage)
    print(what)
    work = tmp_path / 'work'
    began = time.monotonic()
    procs = {victim: start(tmp_path, victim, requests[victim])}
    time.sleep(LAG)
    procs.update({i: start(tmp_path, i, r) for i, r in enumerate(requests) if i != victim})
    procs = [procs[i] for i in range(len(requests))]
    wait_into_stage(tmp_path, victim, procs[victim], stage, into)
    stopped = stop_everything([p.pid for p in procs])
    try:
        assert procs[victim].poll() is None, '%s: it had already ended\n%s' % (what, log_of(tmp_path, victim)[-3000:])
        killed = kill_everything(procs[victim].pid)
        procs[victim].wait(60)
        victim_ids = owned_by(str(work), killed)
        temp_dirs = [d for pid in killed
                     for d in glob.glob(os.path.join(tempfile.gettempdir(), 'osimage-*-%d-*' % pid))]
        others = [i for i in range(len(requests)) if i != victim]
        clean = run([OSIMAGE, 'clean', '--json', '--work-dir', str(work), '--cache-dir', cache], timeout=300)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert [i for i in others if procs[i].poll() is None], '%s: the others had ended before the clean' % what
    finally:
        continue_everything(stopped)
    stages = [line for line in log_of(tmp_path, victim).splitlines() if 'stage' in line]
    what += ' (%s)' % (stages[-1].strip() if stages else 'before its first stage')
    print(what)
    released = json.loads(clean.stdout)
    # Only the victim's builds (a build killed right after claiming its id had nothing else to release).
    ids = {i for i, gone in released['released'].items() if not all(g.startswith('unfinished owner') for g in gone)}
    assert ids <= set(victim_ids) and not [i for i in victim_ids if (work / 'owners' / i).exists()], (what, released)
    assert {'temporary directory ' + d for d in temp_dirs} <= set(released['temp_dirs']), (what, released)
    assert not [d for pid in killed for d in glob.glob(os.path.join(tempfile.gettempdir(), 'osimage-*-%d-*' % pid))]
    assert all(leftovers.gone(pid) for pid in killed)
    assert ansible_local_dirs(killed) == [], what

    for i in others:
        assert procs[i].wait(2400) == 0, '%s; build %d:\n%s' % (what, i, log_of(tmp_path, i)[-4000:])
    seconds = time.monotonic() - began
    manifests = {i: json.loads((tmp_path / ('out%d' % i) / 'manifest.json').read_text()) for i in others}
    for i, manifest in manifests.items():
        assert manifest['request']['hostname'] == requests[i]['hostname'], what
        assert expected[i] <= packages(manifest), (what, i, expected[i] - packages(manifest))
        image = ImageFile(str(tmp_path / ('out%d' % i) / (requests[i]['name'] + '.raw')))
        assert image.cat('/etc/hostname') == requests[i]['hostname'] + '\n', (what, i)
        assert 'tree' not in expected[i] or image.stat('/usr/bin/tree'), (what, i)
    assert len({m['build_id'] for m in manifests.values()}) == len(others)
    assert left_on_host(tmp_path, work) == [], what
    assert [e for e in os.listdir(work) if e != 'owners'] == [] and os.listdir(work / 'owners') == [], what
    victim_out = tmp_path / ('out%d' % victim)
    assert not [n for n in os.listdir(victim_out) if '.tmp-' in n] if victim_out.exists() else True
    assert cache_problems(cache) == [], what

    before = stamps(cache)
    assert before, 'the builds left no tree in the cache'
    rerun = run([OSIMAGE, 'build', str(tmp_path / ('r%d.json' % victim)), '-o', str(tmp_path / 'again'),
                 '--no-boot-test'], timeout=1800)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    again = json.loads((tmp_path / 'again' / 'manifest.json').read_text())
    assert expected[victim] <= packages(again) and again['request']['hostname'] == requests[victim]['hostname']
    assert stamps(cache) == before, 'the rebuild made its tree again instead of copying the cached one'
    assert cache_problems(cache) == [] and left_on_host(tmp_path, work) == []
    return seconds


def request(tmp_path, i, **more):
    return dict(name='parallel-%d' % i, hostname='parallel-%d' % i, formats=['raw'], work_dir=str(tmp_path / 'work'),
                **more)


def test_three_builds_at_once_one_killed(default_build, tmp_path):
    """From the default build's cache entry (same package set); different names, host names and time zones."""
    zones = ['UTC', 'Europe/Paris', 'America/New_York']
    requests = [request(tmp_path, i, timezone=zone) for i, zone in enumerate(zones)]
    expected = packages(default_build.manifest)
    seconds = builds_at_once_one_killed(tmp_path, requests, DEFAULT_CACHE, [expected] * 3, MOMENTS)
    print('3 builds at once, one killed: %.0f s' % seconds)


@pytest.mark.matrix
def test_two_builds_with_boot_tests_at_once(default_build, tmp_path):
    """Two guests booting at once (the default case's builds skip their boot tests)."""
    procs = [start(tmp_path, i, request(tmp_path, i, formats=['qcow2']), boot_test=True) for i in range(2)]
    for i, proc in enumerate(procs):
        assert proc.wait(2400) == 0, log_of(tmp_path, i)[-4000:]
    for i in range(2):
        report = json.loads((tmp_path / ('out%d' % i) / 'boot-report.json').read_text())
        assert report['outcome'] == 'passed', report
    assert left_on_host(tmp_path, tmp_path / 'work') == []


@pytest.mark.matrix
def test_four_builds_at_once_one_killed_filling_an_empty_cache(default_build, tmp_path):
    """Two package sets, two builds of each: the victim may die while its set's tree is made, cached or copied
    (anywhere in a bootstrap of about a minute), or later."""
    cache = str(tmp_path / 'cache')
    extra = {'packages': {'install': ['tree']}}
    requests = [request(tmp_path, i, cache_dir=cache, **(extra if i >= 2 else {})) for i in range(4)]
    expected = [packages(default_build.manifest) | ({'tree'} if i >= 2 else set()) for i in range(4)]
    seconds = builds_at_once_one_killed(tmp_path, requests, cache, expected, dict(MOMENTS, bootstrap=60))
    print('4 builds at once, one killed: %.0f s' % seconds)
