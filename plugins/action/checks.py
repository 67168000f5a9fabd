# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluate named checks like assert does, run them all, and report them as JUnit XML and JSON."""

from __future__ import annotations

import json
import time
from xml.etree import ElementTree

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.osimage.builder.plugins.module_utils import atomic


def junit(suite, results, seconds):
    """JUnit XML with one test case per check."""
    failures = [r for r in results if r['outcome'] == 'failed']
    skipped = [r for r in results if r['outcome'] == 'skipped']
    root = ElementTree.Element('testsuite', name=suite, tests=str(len(results)), failures=str(len(failures)),
                               skipped=str(len(skipped)), errors='0', time='%.1f' % seconds)
    for res in results:
        case = ElementTree.SubElement(root, 'testcase', classname=suite, name=res['name'])
        if res['outcome'] == 'failed':
            ElementTree.SubElement(case, 'failure', message=res['message']).text = res['message']
        elif res['outcome'] == 'skipped':
            ElementTree.SubElement(case, 'skipped', message=res['message'])
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding='unicode', xml_declaration=True) + '\n'


# The part of verify_seconds that no step in ``steps`` names.
OTHER_STEPS = 'the rest: tasks over SSH and the checks'


def step_seconds(steps, seconds):
    """``steps`` (name: seconds) to a tenth of a second, with the rest of ``seconds`` as OTHER_STEPS; {} for none."""
    rounded = {name: round(float(value), 1) for name, value in (steps or {}).items()}
    if rounded:
        rounded[OTHER_STEPS] = round(seconds - sum(float(v) for v in steps.values()), 1)
    return rounded


class ActionModule(ActionBase):
    """Action plugin for osimage.builder.checks."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('checks', 'junit', 'report', 'suite', 'started', 'steps'))

    def evaluate(self, check):
        name = check.get('name')
        if not name or 'that' not in check:
            raise AnsibleError('every check needs a name and a that: %r' % (check,))
        when = check.get('when', True)
        if isinstance(when, str) and not self._templar.evaluate_conditional(conditional=when):
            return {'name': name, 'outcome': 'skipped', 'message': 'not applicable'}
        if when is False:
            return {'name': name, 'outcome': 'skipped', 'message': 'not applicable'}
        that = check['that'] if isinstance(check['that'], list) else [check['that']]
        for condition in that:
            try:
                ok = condition if isinstance(condition, bool) else self._templar.evaluate_conditional(
                    conditional=condition)
            except AnsibleError as exc:
                return {'name': name, 'outcome': 'failed', 'message': '%s: %s' % (condition, exc)}
            if not ok:
                return {'name': name, 'outcome': 'failed', 'message': self.message(check, condition)}
        return {'name': name, 'outcome': 'passed', 'message': ''}

    def message(self, check, condition):
        """The failure message: ``msg``, then ``found`` or what ``details`` (an expression) evaluates to."""
        message = check.get('msg') or 'not true: %s' % condition
        if 'found' in check:
            message += ': %s' % (check['found'],)
        elif check.get('details'):
            try:
                message += ': %s' % (self._templar.evaluate_expression(check['details']),)
            except AnsibleError as exc:
                message += ' (details unavailable: %s)' % exc
        return message

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        checks = self._templar.template(args.get('checks', []))
        results = [self.evaluate(c) for c in checks]
        started = float(args.get('started') or time.time())
        seconds = time.time() - started
        steps = step_seconds(args.get('steps'), seconds)
        suite = args.get('suite', 'osimage.verify')
        if args.get('junit'):
            atomic.write_text(args['junit'], junit(suite, results, seconds))
        if args.get('report'):
            try:
                with open(args['report'], encoding='utf-8') as f:
                    report = json.load(f)
            except (OSError, ValueError):
                report = {}
            failed = [r for r in results if r['outcome'] == 'failed']
            report.update(checks=results, verify_seconds=round(seconds, 1), verify_steps=steps,
                          outcome='failed' if failed else report.get('outcome', 'passed').replace('running',
                                                                                                  'passed'))
            atomic.write_text(args['report'], json.dumps(report, indent=2, sort_keys=True) + '\n')
        failed = [r for r in results if r['outcome'] == 'failed']
        result.update(changed=False, checks=results, verify_seconds=round(seconds, 1), verify_steps=steps,
                      _ansible_verbose_always=True)
        if failed:
            result['failed'] = True
            result['msg'] = '%d of %d checks failed:\n' % (len(failed), len(results)) + '\n'.join(
                '- %s: %s' % (r['name'], r['message']) for r in failed)
        else:
            result['msg'] = 'all %d checks passed (%d skipped)' % (
                len(results), len([r for r in results if r['outcome'] == 'skipped']))
        return result
