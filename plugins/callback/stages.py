# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report the build's stages (declared by the playbook's osimage_stage variable) as they start and end."""

from __future__ import annotations

DOCUMENTATION = r'''
name: stages
type: aggregate
short_description: Reports the stages of an osimage build as they start and end
version_added: 0.1.0
description:
  - Runs beside the stdout callback (C(default), AWX's, ansible-runner's) and reports each stage of a build
    (validate, bootstrap, customize, assemble, bootloader, convert, manifest, prove) when it starts and when
    it ends, with its outcome and how long it took.
  - The playbook declares the stages, not the callback, and not a task's title. A task (or a block or role
    around it) whose variable C(osimage_stage) is set starts that stage; the stage runs until a task declares
    another one or the playbook ends. It ends C(ok) when the next stage starts or the playbook ends without
    a failed host, else C(failed) (a failure a C(rescue) handled does not count).
  - Each event is a line in the play output (what C(ansible-playbook) prints and AWX shows as job output), and,
    with O(events_file), a JSON object on a line of that file (what the C(osimage) driver reads).
requirements:
  - enabled in C(callbacks_enabled) (the collection's C(ansible.cfg) enables it) or C(ANSIBLE_CALLBACKS_ENABLED)
options:
  events_file:
    description:
      - A file each event is appended to as one JSON object per line, written as it happens. Its keys are
        C(event) (V(stage_start) or V(stage_end)), C(stage), C(time) (seconds since the epoch), and for
        V(stage_end) C(status) (V(ok) or V(failed)), C(seconds) and, when failed, C(task) and C(message).
      - Unset, events are only displayed.
    type: path
    env:
      - name: OSIMAGE_STAGE_EVENTS
    ini:
      - section: osimage_stages
        key: events_file
'''

import json
import time

from ansible.plugins.callback import CallbackBase

STAGE_VAR = 'osimage_stage'


class CallbackModule(CallbackBase):
    """Turns the playbook's declared stages into stage_start and stage_end events."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'osimage.builder.stages'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self.stage = None
        self.started = None
        self.failure = None

    def emit(self, event):
        """Display ``event`` and append it to the events file, if one is set."""
        if event['event'] == 'stage_start':
            self._display.display('STAGE [%s] started' % event['stage'])
        else:
            self._display.display('STAGE [%s] %s after %.1fs' % (event['stage'], event['status'], event['seconds']),
                                  color='bright red' if event['status'] == 'failed' else None)
        path = self.get_option('events_file')
        if path:
            with open(path, 'a', encoding='utf-8') as f:
                f.write(json.dumps(event, sort_keys=True) + '\n')

    def end_stage(self, status):
        if self.stage is None:
            return
        now = time.time()
        event = {'event': 'stage_end', 'stage': self.stage, 'status': status, 'time': round(now, 3),
                 'seconds': round(now - self.started, 1)}
        if status == 'failed' and self.failure:
            event.update(self.failure)
        self.stage = None
        self.emit(event)

    def v2_playbook_on_task_start(self, task, is_conditional):
        declared = task.get_vars().get(STAGE_VAR)
        if not declared or declared == self.stage:
            return
        self.end_stage('ok')
        self.stage, self.started, self.failure = str(declared), time.time(), None
        self.emit({'event': 'stage_start', 'stage': self.stage, 'time': round(self.started, 3)})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            res = result._result  # pylint: disable=protected-access
            self.failure = {'task': result.task_name, 'message': str(res.get('msg') or res.get('stderr') or 'failed')}

    def v2_runner_on_unreachable(self, result):
        self.failure = {'task': result.task_name, 'message': str(result._result.get('msg') or 'unreachable')}  # pylint: disable=protected-access

    def v2_playbook_on_stats(self, stats):
        failed = any(stats.failures.values()) or any(stats.dark.values())
        self.end_stage('failed' if failed else 'ok')
