#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot a disk image under libvirt and prove it reaches the login prompt."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: boot_test
short_description: Boot a disk image in a throwaway libvirt domain and wait for its login prompt
version_added: 0.1.0
description:
  - Boots O(image) (any format qemu reads) in a transient libvirt domain on a qcow2 overlay, so the image
    itself is never modified, with the serial console written to O(console_log).
  - Passes when O(expect) shows on the console within O(timeout) seconds; the domain is destroyed and the
    overlay removed in every case, and O(report) is written either way.
  - With O(accel=auto), KVM is used only when a real Linux kernel (O(probe_kernel)) starts under it within
    seconds; a C(/dev/kvm) node alone proves nothing. Otherwise the boot runs under TCG. The report says
    which accelerator ran and why. The probe's answer is kept until the host reboots.
author: osimage developers (@osimage)
options:
  image:
    description: The disk image to boot.
    type: path
    required: true
  console_log:
    description: File receiving the serial console.
    type: path
    required: true
  report:
    description: JSON report to write (C(boot-report.json)).
    type: path
    required: true
  name:
    description: Name of the transient domain.
    type: str
    default: osimage-boot-test
  accel:
    description: Accelerator.
    type: str
    choices: [auto, kvm, tcg]
    default: auto
  probe_kernel:
    description: A Linux kernel image used to prove that KVM works, for O(accel=auto).
    type: path
  timeout:
    description: Seconds to wait for O(expect).
    type: int
    default: 300
  memory_mib:
    description: Guest memory.
    type: int
    default: 1024
  vcpus:
    description: Guest CPUs.
    type: int
    default: 2
  expect:
    description: Regular expression (multi-line) the console must show.
    type: str
    default: 'login:\s*$'
notes:
  - Needs a running libvirtd reachable at C(qemu:///system). Check mode does nothing.
requirements:
  - libvirt-python
  - qemu-img
'''

EXAMPLES = r'''
- name: Prove the image boots
  osimage.builder.boot_test:
    image: /srv/images/debian/debian-bookworm.qcow2
    console_log: /srv/images/debian/console.log
    report: /srv/images/debian/boot-report.json
'''

RETURN = r'''
outcome:
  description: V(passed), V(failed) or V(timeout).
  returned: always
  type: str
seconds_to_login:
  description: Seconds from domain start to the login prompt.
  returned: when the boot passed
  type: float
accel:
  description: V(kvm) or V(tcg).
  returned: always
  type: str
accel_reason:
  description: Why that accelerator was used.
  returned: when the boot ran
  type: str
console_tail:
  description: The last lines of the console.
  returned: always
  type: str
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='path', required=True),
            console_log=dict(type='path', required=True),
            report=dict(type='path', required=True),
            name=dict(type='str', default='osimage-boot-test'),
            accel=dict(type='str', default='auto', choices=['auto', 'kvm', 'tcg']),
            probe_kernel=dict(type='path'),
            timeout=dict(type='int', default=300),
            memory_mib=dict(type='int', default=1024),
            vcpus=dict(type='int', default=2),
            expect=dict(type='str', default=r'login:\s*$'),
        ),
        supports_check_mode=True,
    )
    if not libvirt_boot.HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib('libvirt-python'))
    params = module.params
    if module.check_mode:
        module.exit_json(changed=False, outcome='skipped', accel=params['accel'], console_tail='')
    started = time.time()
    try:
        report = libvirt_boot.boot(params['image'], params['console_log'], params['name'], accel=params['accel'],
                                   timeout=params['timeout'], memory_mib=params['memory_mib'],
                                   vcpus=params['vcpus'], expect=params['expect'],
                                   probe_kernel=params['probe_kernel'])
    except libvirt_boot.BootError as exc:
        report = {'outcome': 'error', 'message': str(exc), 'image': params['image'], 'accel': params['accel'],
                  'console_tail': ''}
    report['started_at'] = started
    tmp = params['report'] + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=2, sort_keys=True)
    os.replace(tmp, params['report'])
    if report['outcome'] != 'passed':
        module.fail_json(msg='boot test %s: %s\n--- last console lines ---\n%s'
                             % (report['outcome'], report.get('message', ''), report.get('console_tail', '')),
                         **{k: v for k, v in report.items() if k in ('outcome', 'accel', 'console_tail')})
    module.exit_json(changed=False, **{k: v for k, v in report.items() if k in
                                       ('outcome', 'seconds_to_login', 'accel', 'accel_reason', 'console_tail',
                                        'console_log')})


if __name__ == '__main__':
    main()
