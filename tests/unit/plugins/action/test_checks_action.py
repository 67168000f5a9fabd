"""The checks action with checks already evaluated (as the verify_checks filter returns them): no template."""

from ansible_collections.osimage.builder.plugins.action.checks import ActionModule, junit


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
