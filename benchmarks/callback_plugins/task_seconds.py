# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record how long each task of a playbook ran, by build stage, for benchmarks/bench.py."""

from __future__ import annotations

import json
import os
import re
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_seconds
type: aggregate
short_description: Write each task's seconds and build stage to the JSON file named by OSIMAGE_TASK_SECONDS
description:
  - Enabled by benchmarks/bench.py with ANSIBLE_CALLBACKS_ENABLED; a task's time runs from its start to the
    next task's start, so it includes all its loop items and hosts.
"""

STAGE_RE = re.compile(r'^Stage (\w+)$')


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_seconds'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks, self.stage, self.current = [], None, None

    def _close(self):
        if self.current:
            self.current['seconds'] = round(time.monotonic() - self.current.pop('started'), 2)
            self.tasks.append(self.current)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        name = task.get_name()
        match = STAGE_RE.match(task.name or '')
        if match:
            self.stage = match.group(1)
        self.current = {'stage': self.stage, 'task': name, 'started': time.monotonic()}

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('OSIMAGE_TASK_SECONDS')
        if path:
            with open(path, 'w', encoding='utf-8') as f:
                json.dump(self.tasks, f, indent=1)
