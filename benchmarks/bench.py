"""Time a cold and a warm build of the default image and its boot test, per stage, against the floor.

floor: plain mmdebstrap of a kernel, systemd, SSH and GRUB to a tarball, in the same run (--no-floor skips it)
cold: an empty cache directory (every package downloaded, the tree bootstrapped)
warm: the same cache again (the bootstrapped tree is reused; the request differs only in its name and output
    directory, so the customized tree is restored too)
hostname: the warm request with another hostname, without boot test (the customized tree restored with its disk
    UUIDs, the network role's hostname tasks and hygiene replayed)
same: the first run's request again, into the same output directory: up to date, nothing redone
Each build's total is also given as a ratio to the floor; the slowest tasks of the customize stage of the first
build (the one that customizes in full) are listed (a callback of its own, benchmarks/callback_plugins/
task_seconds.py, records them).
--parallel N: afterwards, N warm builds (boot test off) at once against N in a row, wall time
--formats: afterwards, a warm build emitting every format against one emitting qcow2 only (boot test off),
    with each format's size and conversion seconds

Prints one table and writes the numbers as JSON (--json). Run as root after scripts/setup-host:
    .venv/bin/python benchmarks/bench.py [--runs warm hostname] [--cache DIR] [--parallel 2] [--keep]
A run given more than once is timed that many times, and its median printed too: after a cold build into a kept
cache, `--cache DIR --no-floor --runs hostname hostname hostname` times only the hostname rebuild.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))
# The floor: what any Debian image needs, bootstrapped by mmdebstrap alone from the default request's mirror.
FLOOR = ['mmdebstrap', '--variant=apt', '--include=linux-image-amd64,systemd-sysv,openssh-server,grub-pc-bin',
         'bookworm', None, 'http://deb.debian.org/debian']
SLOWEST = 10


ALL_FORMATS = ['qcow2', 'raw', 'vmdk', 'ova', 'vhd', 'vhdx', 'vdi', 'tar', 'gce', 'iso']


def start(workdir, cache_dir, label, boot_test=True, formats=('qcow2',), extra=None):
    """Start `osimage build` of the default request (with ``extra`` keys) as ``label``; its tasks' seconds go to
    LABEL-tasks.json."""
    out = os.path.join(workdir, label)
    request = os.path.join(workdir, label + '.yml')
    with open(request, 'w', encoding='utf-8') as f:
        json.dump(dict({'name': label, 'cache_dir': cache_dir, 'output_dir': out,
                        'work_dir': os.path.join(workdir, 'work'), 'boot_test': {'enabled': boot_test},
                        'formats': list(formats)}, **(extra or {})), f)
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
               ANSIBLE_CALLBACKS_ENABLED='task_seconds', OSIMAGE_TASK_SECONDS=tasks_file(workdir, label))
    return subprocess.Popen([os.path.join(BIN, 'osimage'), 'build', request], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def tasks_file(workdir, label):
    return os.path.join(workdir, label + '-tasks.json')


def floor(workdir):
    """Wall seconds of the floor: mmdebstrap alone, no cache, to a tarball."""
    argv = [os.path.join(workdir, 'floor.tar') if a is None else a for a in FLOOR]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit('the floor (%s) failed:\n%s' % (' '.join(argv), proc.stderr[-4000:]))
    return {'seconds': round(time.monotonic() - started, 1), 'argv': argv,
            'tarball_bytes': os.path.getsize(argv[FLOOR.index(None)])}


def stage_seconds(workdir, label, stage):
    """The seconds of a build's tasks in ``stage`` (the prove stage is not in the manifest, written before it)."""
    with open(tasks_file(workdir, label), encoding='utf-8') as f:
        return round(sum(t['seconds'] for t in json.load(f) if t['stage'] == stage), 1)


def again(workdir, label):
    """Wall seconds of `osimage build` of run ``label``'s request once more, which must be up to date."""
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'osimage'), 'build', os.path.join(workdir, label + '.yml')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0 or 'up to date' not in proc.stdout:
        sys.exit('the same request again was not up to date:\n%s' % proc.stdout[-4000:])
    return round(time.monotonic() - started, 1)


def slowest_tasks(workdir, label, stage='customize', count=SLOWEST):
    """The stage's total seconds and its ``count`` slowest tasks [{task, seconds}] in build ``label``."""
    with open(tasks_file(workdir, label), encoding='utf-8') as f:
        tasks = [t for t in json.load(f) if t['stage'] == stage]
    return {'stage': stage, 'run': label, 'tasks': len(tasks), 'seconds': round(sum(t['seconds'] for t in tasks), 1),
            'slowest': sorted(tasks, key=lambda t: -t['seconds'])[:count]}


def finish(proc, label):
    output = proc.communicate()[0]
    if proc.returncode != 0:
        sys.exit('%s build failed:\n%s' % (label, output[-4000:]))


def parallel(workdir, cache_dir, count):
    """Wall seconds of ``count`` warm builds at once, and of ``count`` in a row."""
    started = time.monotonic()
    procs = [(start(workdir, cache_dir, 'par%d' % i, boot_test=False), 'par%d' % i) for i in range(count)]
    for proc, label in procs:
        finish(proc, label)
    at_once = time.monotonic() - started
    started = time.monotonic()
    for i in range(count):
        finish(start(workdir, cache_dir, 'seq%d' % i, boot_test=False), 'seq%d' % i)
    return {'builds': count, 'at_once_seconds': round(at_once, 1), 'in_a_row_seconds': round(time.monotonic() - started, 1)}


def every_format(workdir, cache_dir):
    """Wall seconds of a build emitting every format against qcow2 only, and each format's size and seconds."""
    walls, manifests = {}, {}
    for label, formats in (('qcow2only', ['qcow2']), ('allformats', ALL_FORMATS)):
        started = time.monotonic()
        finish(start(workdir, cache_dir, label, boot_test=False, formats=formats), label)
        walls[label] = round(time.monotonic() - started, 1)
        with open(os.path.join(workdir, label, 'manifest.json'), encoding='utf-8') as f:
            manifests[label] = json.load(f)
    images = [{k: i.get(k) for k in ('format', 'bytes', 'seconds')} for i in manifests['allformats']['images']]
    return {'qcow2_only_seconds': walls['qcow2only'], 'all_formats_seconds': walls['allformats'], 'images': images}


# The runs that change the request: (its extra keys, whether it boots)
VARIANTS = {'hostname': ({'hostname': 'renamed'}, False)}


def labels(runs):
    """(label, run) of each build run: a run given again is labelled RUN2, RUN3... (a hostname run renames anew)."""
    seen = {}
    for run in runs:
        seen[run] = seen.get(run, 0) + 1
        yield (run if seen[run] == 1 else '%s%d' % (run, seen[run])), run


def build(workdir, cache_dir, label, run):
    out = os.path.join(workdir, label)
    extra, boot_test = VARIANTS.get(run, ({}, True))
    extra = {k: v + label[len(run):] for k, v in extra.items()}
    started = time.monotonic()
    finish(start(workdir, cache_dir, label, boot_test=boot_test, extra=extra), label)
    seconds = time.monotonic() - started
    with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
        manifest = json.load(f)
    report = {'seconds_to_login': 0.0, 'accel': '-'}
    if boot_test:
        with open(os.path.join(out, 'boot-report.json'), encoding='utf-8') as f:
            report = json.load(f)
    return {
        'run': label,
        'of': run,
        'total_seconds': round(seconds, 1),
        'stages': {s['name']: s['seconds'] for s in manifest['stages']},
        'boot_seconds_to_login': report['seconds_to_login'],
        'prove_seconds': stage_seconds(workdir, label, 'prove') if boot_test else 0.0,
        'accel': report['accel'],
        'qcow2_bytes': manifest['images'][0]['bytes'],
        'packages': len(manifest['packages']),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', choices=['cold', 'warm', 'hostname', 'same'],
                        default=['cold', 'warm', 'hostname', 'same'])
    parser.add_argument('--no-floor', action='store_true', help='do not time the floor (plain mmdebstrap)')
    parser.add_argument('--parallel', type=int, default=0, help='also time N warm builds at once against in a row')
    parser.add_argument('--formats', action='store_true', help='also time a build of every format against qcow2 only')
    parser.add_argument('--cache', help='use this cache directory (kept) instead of an empty one: runs after a '
                        'change of code without a cold build first')
    parser.add_argument('--json', help='write the results here too')
    parser.add_argument('--keep', action='store_true', help='keep the images and caches')
    args = parser.parse_args()
    if args.runs == ['same']:
        parser.error('same repeats the first build run: give one before it (--runs cold same)')
    workdir = tempfile.mkdtemp(prefix='osimage-bench-', dir='/var/tmp')
    cache = os.path.abspath(args.cache) if args.cache else os.path.join(workdir, 'cache')
    results = []
    try:
        base = None if args.no_floor else floor(workdir)
        for label, run in labels([r for r in args.runs if r != 'same']):
            results.append(build(workdir, cache, label, run))
        same = again(workdir, results[0]['run']) if 'same' in args.runs else None
        customize = slowest_tasks(workdir, results[0]['run'])
        together = parallel(workdir, cache, args.parallel) if args.parallel else None
        formats = every_format(workdir, cache) if args.formats else None
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    stages = list(results[0]['stages'])
    header = ('run', 'total', '  '.join('%9s' % s for s in stages), 'login', 'prove', 'qcow2 MiB', 'x floor')
    print('%-5s %7s  %s  %8s  %8s  %9s  %8s' % header)
    if base:
        print('%-5s %6.1fs  %s' % ('floor', base['seconds'], ' '.join(base['argv'])))
    for r in results:
        row = '  '.join('%8.1fs' % r['stages'][s] for s in stages)
        r['floor_ratio'] = round(sum(r['stages'].values()) / base['seconds'], 2) if base else None
        print('%-5s %6.1fs  %s  %7.1fs  %7.1fs  %9.1f  %8s'
              % (r['run'], r['total_seconds'], row, r['boot_seconds_to_login'], r['prove_seconds'],
                 r['qcow2_bytes'] / 2 ** 20, '%.2fx' % r['floor_ratio'] if base else '-'))
    medians = {run: statistics.median(r['total_seconds'] for r in results if r['of'] == run)
               for run in args.runs if sum(r['of'] == run for r in results) > 1}
    for run, median in medians.items():
        print('%-5s %6.1fs  (the median of the %s runs)' % ('med', median, run))
    if same is not None:
        print('%-5s %6.1fs  (the %s run\'s request again: up to date)' % ('same', same, results[0]['run']))
    print('x floor: the build stages (bootstrap to manifest, without the boot test) against the floor; login: seconds '
          'to the first boot\'s login prompt; prove: the whole prove stage (each firmware\'s boot, SSH, verify)')
    print('customize stage of the %(run)s run: %(seconds).1f s in %(tasks)d tasks; the slowest:' % customize)
    for task in customize['slowest']:
        print('  %6.1f s  %s' % (task['seconds'], task['task']))
    print('accelerator: %s; peak RSS of one child process: %d MiB' % (results[0]['accel'], peak))
    if together:
        print('%(builds)d warm builds without boot test: %(at_once_seconds).1f s at once, '
              '%(in_a_row_seconds).1f s in a row' % together)
    if formats:
        print('build without boot test: every format %(all_formats_seconds).1f s, qcow2 only %(qcow2_only_seconds).1f s'
              % formats)
        for image in formats['images']:
            print('  %-6s %9.1f MiB  %6.1f s' % (image['format'], image['bytes'] / 2 ** 20, image['seconds'] or 0))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'floor': base, 'results': results, 'medians': medians, 'same_seconds': same,
                       'customize': customize, 'parallel': together, 'formats': formats,
                       'peak_child_rss_mib': peak}, f, indent=2)


if __name__ == '__main__':
    main()
