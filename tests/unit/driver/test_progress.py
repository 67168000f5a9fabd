"""The driver's progress: the stage events the callback writes, read as they come, shown and printed as JSON lines."""

import io
import json

from rich.console import Console

from osimage import cli, playbook


def progress(tmp_path, json_lines=False, terminal=False):
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, color_system=None, width=120, highlight=False)
    return playbook.Progress(console, str(tmp_path / 'events.jsonl'), json_lines), out


def write(tmp_path, *events, tail=''):
    with open(tmp_path / 'events.jsonl', 'a', encoding='utf-8') as f:
        f.write(''.join(json.dumps(e) + '\n' for e in events) + tail)


START = {'event': 'stage_start', 'stage': 'bootstrap', 'time': 1000.0}
END = {'event': 'stage_end', 'stage': 'bootstrap', 'status': 'ok', 'seconds': 93.2, 'time': 1093.2}


def test_stage_events_are_shown_as_they_come_and_a_half_written_line_waits(tmp_path, capsys):
    shown, out = progress(tmp_path, json_lines=True)
    shown.poll()  # no file yet: nothing
    write(tmp_path, START, tail='{"event": "stage_e')
    shown({'event': 'runner_on_ok', 'event_data': {}})  # every runner event reads what is new
    assert shown.stage == 'bootstrap' and shown.events == [START]
    with open(tmp_path / 'events.jsonl', 'a', encoding='utf-8') as f:
        f.write(json.dumps(END)[len('{"event": "stage_e'):] + '\n')
    shown.poll()
    assert shown.events == [START, END]
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [START, END]
    lines = out.getvalue().splitlines()
    assert lines[0].endswith('stage bootstrap') and lines[1].endswith('stage bootstrap ok in 93.2s')


def test_a_stage_the_playbook_never_ended_is_ended_by_the_driver(tmp_path, capsys):
    shown, _out = progress(tmp_path)
    write(tmp_path, START)
    shown.poll()
    shown.end_unfinished('interrupted')
    assert shown.events[-1]['event'] == 'stage_end' and shown.events[-1]['status'] == 'interrupted'
    assert shown.events[-1]['stage'] == 'bootstrap' and shown.events[-1]['seconds'] > 0
    shown.end_unfinished('failed')  # already ended: nothing more
    assert len(shown.events) == 2 and capsys.readouterr().out == ''  # JSON lines only with --json


def test_a_terminal_gets_a_spinner_with_the_running_stages_time(tmp_path):
    shown, out = progress(tmp_path, terminal=True)
    with shown:
        write(tmp_path, START)
        shown.poll()
        tasks = shown._spinner.tasks  # pylint: disable=protected-access
        assert [t.description for t in tasks] == ['bootstrap'] and tasks[0].elapsed is not None
        write(tmp_path, END)
        shown.poll()
        assert not shown._spinner.tasks  # pylint: disable=protected-access
    assert 'stage bootstrap ok in 93.2s' in out.getvalue()


def test_the_last_failure_that_was_not_ignored_is_the_summary(tmp_path):
    shown, _out = progress(tmp_path)
    shown({'event': 'runner_on_failed', 'event_data': {'task': 'Probe', 'ignore_errors': True, 'res': {'msg': 'x'}}})
    shown({'event': 'runner_on_failed', 'event_data': {'task': 'Partition', 'res': {'stderr': 'no space'}}})
    assert shown.failure == 'Partition: no space' and shown.failed_results == [{'stderr': 'no space'}]


def test_an_input_a_module_refused_exits_2_even_when_a_later_task_stops_the_run(tmp_path):
    shown, _out = progress(tmp_path)
    shown({'event': 'runner_on_failed', 'event_data': {'task': 'Open', 'res': {'msg': 'partition 2 holds LVM',
                                                                               'refused': True}}})
    shown({'event': 'runner_on_failed', 'event_data': {'task': 'Stop the retrofit', 'res': {'msg': 'LVM'}}})
    assert shown.refused and shown.failure == 'Stop the retrofit: LVM'
    assert cli.outcome(False, shown) == cli.EXIT_BAD_INPUT
    assert cli.outcome(True, shown) == 0
    shown.interrupted = 15
    assert cli.outcome(False, shown) == cli.EXIT_INTERRUPTED
    failed, _out = progress(tmp_path)
    failed({'event': 'runner_on_failed', 'event_data': {'task': 'Convert', 'res': {'msg': 'no space'}}})
    assert cli.outcome(False, failed) == cli.EXIT_BUILD_FAILED


def test_a_remote_builds_stages_are_read_from_the_lines_the_callback_displayed(capsys):
    """A builder's events file stays on the builder: its events arrive as the callback's displayed lines."""
    out = io.StringIO()
    shown = playbook.Progress(Console(file=out, color_system=None, width=120, highlight=False), json_lines=True,
                              prefix='[b1] ')
    shown({'event': 'verbose', 'stdout': 'STAGE [bootstrap] started'})
    shown({'event': 'runner_on_ok', 'stdout': 'STAGE [bootstrap] ok after 1.0s'})  # only the callback's own lines
    shown({'event': 'verbose', 'stdout': '\x1b[1;31mSTAGE [bootstrap] failed after 93.2s\x1b[0m'})
    assert [(e['event'], e['stage'], e.get('status')) for e in shown.events] == [
        ('stage_start', 'bootstrap', None), ('stage_end', 'bootstrap', 'failed')]
    assert shown.events[1]['seconds'] == 93.2
    assert [json.loads(line)['event'] for line in capsys.readouterr().out.splitlines()] == ['stage_start', 'stage_end']
    assert out.getvalue().splitlines()[0].startswith('[b1] ') and 'stage bootstrap' in out.getvalue()


def test_a_modules_warning_is_shown(tmp_path):
    shown, out = progress(tmp_path)
    warning = 'the cache directory /c/trees is full: caching [x] there needs about 700 MiB (0 MiB free)'
    shown({'event': 'runner_on_ok', 'event_data': {'res': {'warnings': [warning]}}})
    shown({'event': 'runner_on_ok', 'event_data': {'res': {}}})
    assert out.getvalue().splitlines() == ['warning: ' + warning]


def record(done, total, what='installed', unit='packages', time=1001.0):
    return {'event': 'progress', 'what': what, 'done': done, 'total': total, 'unit': unit, 'time': time}


def test_progress_inside_a_stage_is_printed_as_json_lines_named_by_the_stage_and_kept_apart(tmp_path, capsys):
    shown, _out = progress(tmp_path, json_lines=True)
    write(tmp_path, record(1, None, 'fetched'), START, record(120, 253), record(253, 253), END)
    shown.poll()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e['event'] for e in lines] == ['stage_start', 'progress', 'progress', 'stage_end']  # none before a stage
    assert lines[1] == dict(record(120, 253), stage='bootstrap')
    assert shown.events == [START, END]  # the stage events alone: a stage's start is still followed by its end


def test_not_on_a_terminal_progress_is_a_plain_line_now_and_then(tmp_path, monkeypatch):
    shown, out = progress(tmp_path)
    write(tmp_path, START, record(0, 253), record(120, 253), record(121, 253),
          record(1200 * 10 ** 6, None, 'written', 'bytes'))
    shown.poll()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].endswith(' bootstrap: 120/253 packages installed')  # not 0, then 10 s of nothing
    monkeypatch.setattr(playbook, 'PLAIN_PROGRESS_EVERY', 0)
    write(tmp_path, END, dict(START, stage='convert'), record(1200 * 10 ** 6, 2100 * 10 ** 6, 'converted', 'bytes'),
          record(7, None, 'fetched'))
    shown.poll()
    lines = out.getvalue().splitlines()
    assert lines[-2].endswith(' convert: 1.2 GB/2.1 GB converted') and lines[-1].endswith(' convert: 7 packages fetched')


def test_on_a_terminal_progress_fills_the_running_stages_bar(tmp_path):
    shown, _out = progress(tmp_path, terminal=True)
    with shown:
        write(tmp_path, START, record(120, 253))
        shown.poll()
        task = shown._spinner.tasks[0]  # pylint: disable=protected-access
        assert (task.completed, task.total, task.fields['detail']) == (120, 253, '120/253 packages installed')


def test_the_stages_callback_runs_beside_the_users_callbacks():
    assert playbook.callbacks_enabled('ansible.posix.profile_tasks, task_seconds') == \
        'ansible.posix.profile_tasks,task_seconds,' + playbook.STAGES_CALLBACK
    assert playbook.callbacks_enabled('') == playbook.STAGES_CALLBACK
    assert playbook.callbacks_enabled(playbook.STAGES_CALLBACK) == playbook.STAGES_CALLBACK
