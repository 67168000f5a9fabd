#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register (or remove) a build's qemu-user binfmt_misc entry for a foreign architecture."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binfmt
short_description: Let the build host run a foreign architecture's programs through qemu-user
version_added: 0.1.0
description:
  - With O(state=present), when the host cannot run O(machine)'s programs natively, registers qemu-user-static's
    binfmt_misc rule for it (C(/usr/lib/binfmt.d/qemu-MACHINE.conf), flag F, so it also works inside a chroot)
    under the entry name O(name). A host that runs them natively is left alone.
  - Mounts the binfmt_misc file system at C(/proc/sys/fs/binfmt_misc) when it is not mounted, and leaves it mounted.
  - With O(state=absent), removes the entry O(name) if it is there; entries of other names are never touched.
author: osimage developers (@osimage)
options:
  name:
    description: The entry's name; a build uses C(osimage-BUILD_ID), which M(osimage.builder.clean) finds.
    type: str
    required: true
  machine:
    description: The architecture's kernel name (C(uname -m)), such as V(aarch64). Required with O(state=present).
    type: str
  state:
    description: Whether the entry is there.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - qemu-user-static (its binfmt.d rules) for a foreign architecture
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Run arm64 programs in the image tree through qemu-user
  osimage.builder.binfmt:
    name: osimage-3f2a9c1d0e4b
    machine: aarch64

- name: Remove the entry
  osimage.builder.binfmt:
    name: osimage-3f2a9c1d0e4b
    state: absent
'''

RETURN = r'''
foreign:
  description: Whether the host needs emulation for O(machine).
  returned: with O(state=present)
  type: bool
rule:
  description: The rule registered (or that would be).
  returned: when an entry is registered
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import binfmt
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner


def present(module, runner, name, machine):
    result = dict(changed=False, foreign=binfmt.foreign(machine))
    if not result['foreign'] or binfmt.registered(name):
        return result
    try:
        result['rule'] = binfmt.rule(machine, name)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result['changed'] = True
    if module.check_mode:
        return result
    if not binfmt.mounted():
        runner.run(['mount', '-t', 'binfmt_misc', 'binfmt_misc', binfmt.BINFMT_DIR], what='mounting binfmt_misc')
    binfmt.register(result['rule'])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(name=dict(type='str', required=True), machine=dict(type='str'),
                           state=dict(type='str', default='present', choices=['present', 'absent'])),
        required_if=[('state', 'present', ('machine',))],
        supports_check_mode=True,
    )
    name = module.params['name']
    if module.params['state'] == 'absent':
        module.exit_json(changed=binfmt.registered(name) and (module.check_mode or binfmt.unregister(name)))
    module.exit_json(**present(module, Runner(module), name, module.params['machine']))


if __name__ == '__main__':
    main()
