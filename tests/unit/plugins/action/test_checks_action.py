"""The checks action with checks already evaluated (as the verify_checks filter returns them): no template."""

from ansible_collections.osimage.builder.plugins.action.checks import OTHER_STEPS, ActionModule, junit, step_seconds


def evaluate(check):
    return ActionModule.evaluate(ActionModule.__new__(ActionModule), check)  # evaluated checks need no templar


def test_evaluated_checks_pass_fail_with_what_they_found_and_skip():
    passed = {'name': 'a', 'outcome': 'passed', 'message': ''}
    assert evaluate({'name': 'a', 'when': True, 'that': True, 'msg': 'm'}) == passed
    assert evaluate({'name': 'b', 'when': True, 'that': False, 'msg': 'failed units', 'found': ['x.service']}) == {
        'name': 'b', 'outcome': 'failed', 'message': "failed units: ['x.service']"}
    assert evaluate({'name': 'c', 'when': True, 'that': False, 'msg': 'firewall is', 'found': None})['message'] == (
        'firewall is: None')
    assert evaluate({'name': 'd', 'when': True, 'that': False, 'msg': 'no default route'})['message'] == (
        'no default route')
    skipped = evaluate({'name': 'e', 'when': False, 'that': True, 'msg': 'not applicable'})
    assert skipped == {'name': 'e', 'outcome': 'skipped', 'message': 'not applicable'}
    assert 'failures="1" skipped="1"' in junit('osimage.verify', [skipped, evaluate({'name': 'f', 'that': False})], 1)


def test_the_verify_time_is_reported_by_step_and_the_rest():
    assert step_seconds({'start-up': 0.44, 'layout': '1.26'}, 5.0) == {'start-up': 0.4, 'layout': 1.3, OTHER_STEPS: 3.3}
    assert step_seconds(None, 5.0) == {}
