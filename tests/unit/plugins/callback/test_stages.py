"""The osimage.builder.stages callback, driven as ansible-playbook drives it: loaded by Ansible's plugin loader
from the collection's file, given tasks whose variables declare stages, failures and the final stats."""

import json
import os

from ansible.executor.stats import AggregateStats
from ansible.plugins.loader import callback_loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
callback_loader.add_directory(os.path.join(ROOT, 'plugins', 'callback'))


class Task:
    """What the callback reads of a task: its variables (its own, its blocks' and roles')."""

    def __init__(self, name, **variables):
        self.name, self.variables = name, variables

    def get_vars(self):
        return dict(self.variables)


class Result:
    def __init__(self, task_name, **result):
        self.task_name, self._result = task_name, result


def plugin(tmp_path):
    stages = callback_loader.get('stages')
    assert type(stages).__module__.endswith('stages') and stages.CALLBACK_TYPE == 'aggregate'
    assert stages.CALLBACK_NEEDS_ENABLED
    events = tmp_path / 'events.jsonl'
    stages.set_options(direct={'events_file': str(events)})
    return stages, events


def read(events):
    return [json.loads(line) for line in events.read_text().splitlines()]


def test_a_stage_runs_from_the_task_declaring_it_to_the_next_one_and_the_run_ends_it(tmp_path, capsys):
    stages, events = plugin(tmp_path)
    stats = AggregateStats()
    stages.v2_playbook_on_task_start(Task('Validate the request', osimage_stage='validate'), False)
    stages.v2_playbook_on_task_start(Task('Check the privileges'), False)  # no stage of its own: still validate
    stages.v2_playbook_on_task_start(Task('Stage bootstrap', osimage_stage='bootstrap'), False)
    stages.v2_playbook_on_task_start(Task('Bootstrap the root tree', osimage_stage='bootstrap'), False)
    stats.increment('ok', 'localhost')
    stages.v2_playbook_on_stats(stats)
    got = read(events)
    assert [(e['event'], e['stage'], e.get('status')) for e in got] == [
        ('stage_start', 'validate', None), ('stage_end', 'validate', 'ok'),
        ('stage_start', 'bootstrap', None), ('stage_end', 'bootstrap', 'ok')]
    assert all(isinstance(e['time'], float) for e in got)
    assert all(e['seconds'] >= 0 and 'task' not in e for e in got if e['event'] == 'stage_end')
    shown = capsys.readouterr().out
    assert 'STAGE [validate] started' in shown and 'STAGE [bootstrap] ok after' in shown


def test_the_stage_the_run_fails_in_ends_failed_naming_the_task_and_a_rescued_failure_does_not(tmp_path):
    stages, events = plugin(tmp_path)
    stats = AggregateStats()
    stages.v2_playbook_on_task_start(Task('Stage customize', osimage_stage='customize'), False)
    stages.v2_runner_on_failed(Result('Install packages', msg='no such package: nope'))
    stats.increment('rescued', 'osimage_image')  # the customize play's rescue handled it
    stages.v2_playbook_on_task_start(Task('Stage assemble', osimage_stage='assemble'), False)
    stages.v2_runner_on_failed(Result('Probe', msg='ignored'), ignore_errors=True)
    stages.v2_runner_on_failed(Result('Partition the disk', stderr='sfdisk: no space'))
    stats.increment('failures', 'localhost')
    stages.v2_playbook_on_stats(stats)
    ends = [e for e in read(events) if e['event'] == 'stage_end']
    assert ends[0]['stage'] == 'customize' and ends[0]['status'] == 'ok' and 'task' not in ends[0]
    assert ends[1]['stage'] == 'assemble' and ends[1]['status'] == 'failed'
    assert (ends[1]['task'], ends[1]['message']) == ('Partition the disk', 'sfdisk: no space')


def test_an_unreachable_host_fails_the_stage(tmp_path):
    stages, events = plugin(tmp_path)
    stats = AggregateStats()
    stages.v2_playbook_on_task_start(Task('Distribution', osimage_stage='customize'), False)
    stages.v2_runner_on_unreachable(Result('Distribution', msg='chroot gone'))
    stats.increment('dark', 'osimage_image')
    stages.v2_playbook_on_stats(stats)
    assert read(events)[-1]['status'] == 'failed' and read(events)[-1]['message'] == 'chroot gone'


def test_without_a_file_or_a_declared_stage_it_only_displays_or_stays_silent(tmp_path, capsys):
    stages = callback_loader.get('stages')
    stages.set_options()
    stages.v2_playbook_on_task_start(Task('Anything'), False)
    stages.v2_playbook_on_stats(AggregateStats())
    assert capsys.readouterr().out == ''
    stages.v2_playbook_on_task_start(Task('Stage prove', osimage_stage='prove'), False)
    assert 'STAGE [prove] started' in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
