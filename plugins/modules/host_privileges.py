#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail early, naming it, when the build host lacks a privilege a build needs."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: host_privileges
short_description: Check that the build host has the privileges an osimage build needs
version_added: 0.2.0
description:
  - Fails before any privileged step, naming each missing privilege and its fix, when the process is not
    root, lacks CAP_SYS_ADMIN (a container that is not privileged), cannot get a loop device (no
    C(/dev/loop-control), or a container whose C(/dev) lacks the free loop device's node), or, with the boot
    test, cannot reach libvirtd at C(qemu:///system) (or lacks C(/dev/kvm) when O(accel=kvm)).
  - The same check runs in the C(osimage) driver before it starts the playbook.
author: osimage developers (@osimage)
options:
  boot_test:
    description: Whether the build boot-tests its image, so libvirtd must be reachable.
    type: bool
    default: true
  accel:
    description: The boot test's accelerator; V(kvm) requires a writable C(/dev/kvm).
    type: str
    choices: [auto, kvm, tcg]
    default: auto
attributes:
  check_mode:
    support: full
    details: It changes nothing in either mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Check the privileges the build needs
  osimage.builder.host_privileges:
    boot_test: "{{ osimage.boot_test.enabled }}"
    accel: "{{ osimage.boot_test.accel }}"
'''

RETURN = r'''
kvm:
  description: Whether C(/dev/kvm) is usable (the boot test then runs under KVM instead of TCG).
  returned: success
  type: bool
  sample: false
missing:
  description: The privileges that are missing, each named in the message with its fix.
  returned: failure
  type: list
  elements: str
  sample: [mounts, loop devices]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import host_privileges


def main():
    module = AnsibleModule(argument_spec=dict(boot_test=dict(type='bool', default=True),
                                              accel=dict(type='str', choices=['auto', 'kvm', 'tcg'], default='auto')),
                           supports_check_mode=True)
    found = host_privileges.problems(module.params['boot_test'], module.params['accel'])
    if found:
        module.fail_json(msg=host_privileges.message(found), missing=[p[0] for p in found])
    module.exit_json(changed=False, kvm=host_privileges.has_kvm())


if __name__ == '__main__':
    main()
