"""The stage events of a real build (the shared default build, run with --json): the osimage.builder.stages
callback reports every stage the playbooks declare, the driver prints them as JSON lines, and the build log (what
ansible-playbook and AWX show) has them too."""

import json

STAGES = ['validate', 'bootstrap', 'customize', 'assemble', 'bootloader', 'convert', 'manifest', 'prove']


def test_every_stage_starts_and_ends_ok_in_order_then_the_summary(default_build):
    lines = [json.loads(line) for line in default_build.proc.stdout.splitlines()]
    events, summary = [e for e in lines[:-1] if e['event'] != 'progress'], lines[-1]
    assert summary['result'] == 'ok' and summary['exit_code'] == 0
    assert [(e['event'], e['stage']) for e in events] == [
        (kind, stage) for stage in STAGES for kind in ('stage_start', 'stage_end')]
    ends = [e for e in events if e['event'] == 'stage_end']
    assert all(e['status'] == 'ok' and 'task' not in e for e in ends)
    times = [e['time'] for e in events]
    assert times == sorted(times)
    for start, end in zip(events[::2], events[1::2]):
        assert abs(end['seconds'] - (end['time'] - start['time'])) < 0.2
    seconds = {e['stage']: e['seconds'] for e in ends}
    assert seconds['bootstrap'] > 0 and seconds['prove'] > 10  # a bootstrap (seconds from its cached tree), a real boot
    assert sum(seconds.values()) <= summary['seconds'] + 1


def test_the_stage_events_agree_with_the_manifests_stage_times(default_build):
    ends = {e['stage']: e['seconds'] for e in map(json.loads, default_build.proc.stdout.splitlines()[:-1])
            if e['event'] == 'stage_end'}
    for stage in default_build.manifest['stages'][:-1]:  # the manifest's last lasts until it is written
        assert abs(ends[stage['name']] - stage['seconds']) < 2, (stage, ends)


def test_the_build_log_and_the_user_see_the_stages(default_build):
    for stage in STAGES:
        assert 'STAGE [%s] started' % stage in default_build.log
        assert 'STAGE [%s] ok after' % stage in default_build.log
    for stage in STAGES:
        assert 'stage %s ok in' % stage in default_build.proc.stderr


def test_long_stages_report_their_progress_between_their_start_and_end(default_build):
    """Assembly and conversion always report; the bootstrap only when mmdebstrap ran (not from the tree cache)."""
    stage, seen = None, {}
    for event in map(json.loads, default_build.proc.stdout.splitlines()[:-1]):
        if event['event'] == 'progress':
            assert event['stage'] == stage and (event['total'] is None or 0 <= event['done'] <= event['total']), event
            seen.setdefault(stage, []).append(event)
        else:
            stage = event['stage'] if event['event'] == 'stage_start' else None
    assert {'assemble', 'convert'} <= set(seen) <= {'bootstrap', 'assemble', 'convert'}, set(seen)
    assert {(e['what'], e['unit']) for e in seen['assemble']} == {('written', 'bytes')}
    assert seen['assemble'][-1]['done'] > 10 ** 8  # the root tree's hundreds of MB
    converted = seen['convert'][-1]
    assert (converted['what'], converted['unit']) == ('converted', 'bytes')
    assert converted['done'] == converted['total'] == default_build.manifest['images'][0]['virtual_size']
    if 'bootstrap' in seen:
        assert {(e['what'], e['unit']) for e in seen['bootstrap']} <= {('fetched', 'packages'), ('installed', 'packages')}
        installed = [e for e in seen['bootstrap'] if e['what'] == 'installed'][-1]
        assert installed['done'] == installed['total'] > 50
