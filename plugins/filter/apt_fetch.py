# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apt_fetch filter: a failed task's message, told as a failed download from a named mirror when it was one."""

from __future__ import annotations

DOCUMENTATION = r'''
name: apt_fetch
short_description: Say which mirror a failed apt task could not download from
version_added: 0.3.0
description:
  - Reads a failed task's result (its C(msg), C(stdout) and C(stderr)); when apt failed to download a file,
    returns one line naming the mirror, what happened, apt's retries and what to do
    (C(plugins/module_utils/apt_fetch.py), the same line the collection's own modules fail with).
  - Otherwise returns the result's C(msg) unchanged.
author: osimage developers (@osimage)
options:
  _input:
    description: The failed task's result, such as C(ansible_failed_result) in a C(rescue).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Install packages, saying which mirror failed if one did
  block:
    - name: Install
      ansible.builtin.apt:
        name: [openssh-server]
  rescue:
    - name: Fail with the mirror named
      ansible.builtin.fail:
        msg: "{{ ansible_failed_result | osimage.builder.apt_fetch }}"
'''

RETURN = r'''
_value:
  description: The line naming the mirror, or the result's message.
  type: str
'''

from ansible_collections.osimage.builder.plugins.module_utils import apt_fetch as explainer


def apt_fetch(result):
    said = '\n'.join(str(result.get(key) or '') for key in ('msg', 'stderr', 'stdout'))
    return explainer.explain(said) or str(result.get('msg') or 'failed')


class FilterModule:
    def filters(self):
        return {'apt_fetch': apt_fetch}
