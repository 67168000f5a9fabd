# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify_gather_args filter: what the verify role's gather_state.py must look at for a request."""

from __future__ import annotations

import json

DOCUMENTATION = r'''
name: verify_gather_args
short_description: The arguments of the verify role's state gatherer for a resolved request
version_added: 0.4.0
description:
  - Returns the arguments of C(roles/verify/files/gather_state.py), which reports a running system's state in one
    run inside the guest, for what the osimage.builder.verify_checks filter checks.
  - First the units that must be enabled (O(services), the SSH and network units of the request's family and the
    platform profile's services), then the family's places and commands from its distro table (the request's
    C(os)), as C(--proxy-glob), C(--leftover-glob), C(--keyboard-file), C(--read-glob) and C(--probe), then
    C(--unit) for each unit of the request's C(services), C(--path) for each of its C(files) and C(--agent) for
    each guest agent unit of its platform profile.
  - A request without C(os) (a foreign image) gets no family-specific argument.
author: osimage developers (@osimage)
options:
  _input:
    description: The resolved request (C(osimage_public)), or V({}) for an image osimage did not build.
    type: dict
    required: true
  services:
    description: Further units that must be enabled.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Gather the system's state in one run inside the guest
  ansible.builtin.script:
    cmd: >-
      gather_state.py
      {{ osimage_public | osimage.builder.verify_gather_args(['nginx.service']) | map('quote') | join(' ') }}
    executable: /usr/bin/python3
  register: gathered
'''

RETURN = r'''
_value:
  description: The arguments, in order.
  type: list
  elements: str
'''


def option(name, values):
    return ['--%s=%s' % (name, value) for value in values]


def family_args(request):
    """The family's places and commands that the request's keys need looked at."""
    family = request.get('os') or {}
    if not family:
        return []
    security = request.get('security') or {}
    location = request.get('location') or {}
    repositories = request.get('repositories') or []
    check = family.get('repository_check') or {}
    args = (option('proxy-glob', family.get('proxy_files', []))
            + option('leftover-glob', family.get('package_leftovers', [])))
    if request.get('keyboard'):
        args.append('--keyboard-file=' + family['keyboard']['file'])
    if repositories:
        args += ['--read-glob=repositories=%s/*%s' % (check['dir'], check['suffix']),
                 '--read-glob=keyrings=%s/*' % family['keyring_dir']]
    if [repo for repo in repositories if 'priority' in repo]:
        args += ['--read-glob=pins=%s/*%s' % (check['pin_dir'], check['pin_suffix']),
                 '--probe=repositories=' + json.dumps(check['probe'])]
    if 'automatic_updates' in security:
        args.append('--probe=automatic_updates=' + json.dumps(family['automatic_updates']['probe']))
    for name in ('dns', 'ntp'):
        if family.get(name + '_check') and location.get(name):
            args.append('--probe=%s=%s' % (name, json.dumps(family[name + '_check']['probe'])))
    return args


def verify_gather_args(request, services=None):
    family = request.get('os') or {}
    platform = request.get('platform_profile') or {}
    wanted = request.get('services') or {}
    units = list(services or []) + ([family['ssh_service']] + family['network_units'] if family else [])
    return (units + platform.get('services', []) + family_args(request)
            + option('unit', wanted.get('enabled', []) + wanted.get('disabled', []) + wanted.get('masked', []))
            + option('path', [want['path'] for want in request.get('files') or []])
            + option('agent', platform.get('agent_units', [])))


class FilterModule:
    def filters(self):
        return {'verify_gather_args': verify_gather_args}
