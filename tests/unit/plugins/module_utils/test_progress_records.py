"""progress: the records a long module step appends for the driver, read from real tools' output (captured from
real runs in tests/data/progress), throttled, and Runner.run streaming a command's lines as they come."""

import json
import os
import sys
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import progress, runner

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data', 'progress')


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def sample(name):
    with open(os.path.join(DATA, name), 'rb') as f:
        return f.read()


def records(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def reporter(tmp_path, what='fetched', unit='packages'):
    """A reporter that never throttles, so every update is a record."""
    return progress.Reporter(what, unit, str(tmp_path / 'progress.jsonl'), progress.Throttle(0))


def test_the_throttle_lets_one_through_per_interval_and_forced_ones_always():
    clock = Clock()
    throttle = progress.Throttle(0.5, clock)
    passed = []
    for step in range(10):  # 2.5 s in steps of 0.25 s
        clock.now = step * 0.25
        passed.append(throttle(force=step == 9))
    assert passed == [True, False, True, False, True, False, True, False, True, True]


def test_records_are_json_lines_with_done_never_above_total(tmp_path):
    meter = reporter(tmp_path)
    meter.update(3)
    meter.update(total=2)  # apt announced fewer than were counted: the total follows
    meter.update(1)
    meter.update(1, 2, force=True)  # nothing new: not written again
    got = records(tmp_path / 'progress.jsonl')
    assert [(r['done'], r['total']) for r in got] == [(3, None), (3, 3), (1, 2)]
    assert set(got[0]) == {'event', 'what', 'done', 'total', 'unit', 'time'} and got[0]['event'] == 'progress'


def test_without_the_environment_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    meter = progress.Reporter('fetched', 'packages')
    meter.update(1, 2, force=True)
    assert not meter.path and not progress.enabled() and os.listdir(tmp_path) == []
    monkeypatch.setenv(progress.ENV, str(tmp_path / 'p.jsonl'))
    progress.Reporter('fetched', 'packages').update(1, 2)
    assert progress.enabled() and records(tmp_path / 'p.jsonl')[0]['done'] == 1


def test_an_unwritable_progress_file_never_fails_the_step(tmp_path):
    meter = progress.Reporter('written', 'bytes', str(tmp_path / 'missing' / 'p.jsonl'))
    meter.update(1, force=True)
    meter.update(2, force=True)
    assert meter.path is None


def test_qemu_img_percentages_become_bytes_of_the_source_converted(tmp_path):
    meter = reporter(tmp_path, 'converted', 'bytes')
    lines = progress.QemuImgLines(meter, 64 * 2 ** 20)
    for line in sample('qemu-img-convert-p.out').decode().replace('\r', '\n').splitlines():
        lines(line)
    got = records(tmp_path / 'progress.jsonl')
    assert [r['done'] for r in got] == sorted(r['done'] for r in got) and len(got) == 11  # 0, 10, ..., 100 (printed twice, written once)
    assert got[0]['done'] == 0 and got[-1]['done'] == got[-1]['total'] == 64 * 2 ** 20


def test_mmdebstrap_output_counts_packages_fetched_and_set_up_against_what_apt_announced(tmp_path):
    fetched, installed = reporter(tmp_path), reporter(tmp_path, 'installed')
    lines = progress.AptLines(fetched, installed)
    for line in sample('mmdebstrap-verbose.out').decode().splitlines():
        lines(line)
    lines.finish()
    got = records(tmp_path / 'progress.jsonl')
    by_what = {what: [(r['done'], r['total']) for r in got if r['what'] == what] for what in ('fetched', 'installed')}
    # the index files apt-get update fetched (Get:1, Get:2) are not packages; 89 announced, fetched, set up
    assert by_what['fetched'][0] == (0, 89) and by_what['fetched'][1] == (1, 89) and by_what['fetched'][-1] == (89, 89)
    assert by_what['installed'][-1] == (89, 89) and len(by_what['installed']) == 1 + 89  # the total, then each
    assert all(done <= total for done, total in by_what['fetched'] + by_what['installed'])


def test_packages_from_the_deb_cache_are_not_fetched_but_still_set_up(tmp_path):
    fetched, installed = reporter(tmp_path), reporter(tmp_path, 'installed')
    lines = progress.AptLines(fetched, installed)
    gets = 0
    for line in sample('mmdebstrap-verbose.out').decode().splitlines():
        gets += line.startswith('Get:') and ' amd64 Packages ' not in line and 'InRelease' not in line
        if not (line.startswith('Get:') and gets % 2):  # half of the packages came from the cache
            lines(line)
    assert (fetched.done, fetched.total, installed.done, installed.total) == (44, 89, 89, 89)


class Module:
    """What Runner needs of an AnsibleModule."""

    def get_bin_path(self, name, required=False, opt_dirs=()):  # pylint: disable=unused-argument
        return sys.executable if name == 'python' else None

    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs)


SCRIPT = r'''
import sys, time
data = sys.stdin.read()
sys.stdout.write("  (0.00/100%)\r"); sys.stdout.flush()
sys.stderr.write("warning: %s\n" % data); sys.stderr.flush()
time.sleep(0.2)
sys.stdout.write("  (100.00/100%)\r\nlast line without end")
sys.exit(int(data == "fail"))
'''


def test_runner_streams_each_line_as_it_comes_and_returns_what_run_command_would(tmp_path):
    seen = []
    rc, out, err = runner.Runner(Module()).run(['python', '-c', SCRIPT], data=b'hi', lines=seen.append,
                                               environ_update={'X': '1'}, cwd=str(tmp_path))
    assert rc == 0 and out == '  (0.00/100%)\r  (100.00/100%)\r\nlast line without end' and err == 'warning: hi\n'
    assert seen == ['  (0.00/100%)', 'warning: hi', '  (100.00/100%)', 'last line without end']


def test_a_streamed_command_that_fails_fails_the_module_as_before():
    with pytest.raises(RuntimeError) as failed:
        runner.Runner(Module()).run(['python', '-c', SCRIPT], data=b'fail', lines=lambda line: None, what='probe')
    assert failed.value.args[0]['rc'] == 1 and failed.value.args[0]['msg'].startswith('probe failed (exit 1)')


def test_the_sampler_reports_a_silent_tools_bytes_while_it_runs_and_once_at_the_end(tmp_path):
    image, tree = tmp_path / 'disk.raw', tmp_path / 'tree'
    tree.mkdir()
    (tree / 'a').write_bytes(b'x' * 3 * 2 ** 20)
    image.write_bytes(b'')
    meter = progress.Reporter('written', 'bytes', str(tmp_path / 'progress.jsonl'), progress.Throttle(0))
    meter.total = progress.tree_bytes(str(tree))
    with progress.Sampler(meter, lambda: progress.allocated(str(image)), interval=0.05):
        for _chunk in range(4):
            with open(image, 'ab') as f:
                f.write(b'y' * 2 ** 20)
            time.sleep(0.15)
    got = records(tmp_path / 'progress.jsonl')
    assert len(got) >= 2 and [r['done'] for r in got] == sorted(r['done'] for r in got)
    assert got[-1]['done'] == got[-1]['total'] == 4 * 2 ** 20  # wrote more than the tree: the total follows
    assert got[0]['total'] == 3 * 2 ** 20


def test_without_a_progress_file_the_sampler_starts_nothing(tmp_path):
    with progress.Sampler(progress.Reporter('written', 'bytes', ''), lambda: 1 / 0) as sampler:
        pass
    assert not sampler._thread.is_alive() and sampler._thread.ident is None  # pylint: disable=protected-access
