#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set up or tear down the environment a root tree needs to run commands in a chroot."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: chroot_env
short_description: Prepare an image root tree for commands run inside it, and undo it
version_added: 0.1.0
description:
  - With O(state=present), mounts C(/proc), a read-only C(/sys), a private C(/dev) holding only
    null, zero, full, random, urandom, tty and a new C(devpts) instance, C(/dev/shm) and C(/run) in the tree.
    Host devices are never visible inside.
  - Installs the family's service policy script (O(service_policy)) so that package installs do not start
    services, and puts the build host's resolver in C(/etc/resolv.conf) so that packages can be downloaded.
  - With O(state=absent), stops every process still running inside the tree, unmounts everything below it
    and restores C(/etc/resolv.conf) and the policy script exactly as they were. Always safe to run again.
  - A symlink in the tree is never followed to the host, for example a C(/etc/resolv.conf) that points
    to an absolute path.
  - Every mount is named C(osimage-BUILD_ID) so that a killed build's mounts can be found later.
author: osimage developers (@osimage)
options:
  path:
    description: The root tree.
    type: path
    required: true
  state:
    description: Whether the environment is set up or torn down.
    type: str
    choices: [present, absent]
    default: present
  build_id:
    description: Build identifier recorded on every mount.
    type: str
    default: manual
  resolv_conf:
    description: Use the build host's C(/etc/resolv.conf) inside the tree while it is set up.
    type: bool
    default: true
  service_policy:
    description:
      - Absolute path in the tree of the script that package scripts ask before they start a service (the
        distro table's C(service_policy)); it is installed exiting 101 (refused) while the environment is set
        up. Empty for a family whose package scripts start nothing in a chroot.
    type: str
    default: ""
notes:
  - Runs as root on the build host.
seealso:
  - plugin: osimage.builder.chroot
    plugin_type: connection
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
- name: Set up the chroot environment
  osimage.builder.chroot_env:
    path: /var/tmp/osimage/build1/root
    build_id: build1
    service_policy: "{{ osimage.os.service_policy }}"

- name: Tear it down, even after a failure
  osimage.builder.chroot_env:
    path: /var/tmp/osimage/build1/root
    state: absent
'''

RETURN = r'''
mounts:
  description: Mount points below the tree after the module ran.
  returned: always
  type: list
  elements: str
killed:
  description: PIDs of processes that were still running inside the tree and were stopped.
  returned: when O(state=absent)
  type: list
  elements: int
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import chroot
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils import tree
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

POLICY_SCRIPT = b'#!/bin/sh\n# osimage: services do not start while the image is built\nexit 101\n'
RESOLV = 'etc/resolv.conf'


def set_up(module, runner, root, state_path):
    params = module.params
    saved = stamp.read(state_path) or {'build_id': params['build_id']}
    mounted = set(chroot.mounts_under(root))
    todo = [m for m in chroot.API_MOUNTS if os.path.join(root, m[0]) not in mounted]
    needs_resolv = params['resolv_conf'] and 'resolv' not in saved
    policy = params['service_policy'].lstrip('/')
    needs_policy = bool(policy) and 'policy' not in saved
    if not (todo or needs_resolv or needs_policy):
        return False
    if module.check_mode:
        return True
    for rel, fstype, options in todo:
        fd = tree.open_dir(root, rel, create=True)
        os.close(fd)
        runner.run(['mount', '-t', fstype, '-o', options, chroot.TAG + saved['build_id'], os.path.join(root, rel)])
        if rel == 'dev':
            fd = tree.open_dir(root, rel)
            try:
                chroot.populate_dev(fd)
            finally:
                os.close(fd)
    if needs_policy:
        saved['policy'] = {'path': policy, 'saved': tree.snapshot(root, policy)}
        tree.write_file(root, policy, POLICY_SCRIPT, 0o755)
    if needs_resolv:
        saved['resolv'] = tree.snapshot(root, RESOLV)
        with open('/etc/resolv.conf', 'rb') as f:
            tree.write_file(root, RESOLV, f.read(), 0o644)
    stamp.write(state_path, saved)
    return True


def tear_down(module, runner, root, state_path):
    saved = stamp.read(state_path)
    # Below the tree, not the tree itself: a retrofit's root is a mount, and the files restored below live on it.
    busy = [m for m in chroot.mounts_under(root) if m != os.path.realpath(root)]
    pids = chroot.pids_in(root)
    if not (saved or busy or pids):
        return False, []
    if module.check_mode:
        return True, pids
    left = chroot.kill_processes(root)
    if left:
        module.fail_json(msg='processes %s inside %s could not be stopped' % (left, root))
    for mnt in busy:
        rc, _out, _err = runner.run(['umount', mnt], check=False)
        if rc != 0:
            runner.run(['umount', '--lazy', mnt])
    if saved:
        if 'resolv' in saved:
            tree.restore(root, RESOLV, saved['resolv'])
        if 'policy' in saved:
            tree.restore(root, saved['policy']['path'], saved['policy']['saved'])
        os.unlink(state_path)
    return True, pids


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            build_id=dict(type='str', default='manual'),
            resolv_conf=dict(type='bool', default=True),
            service_policy=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )
    runner = Runner(module)
    root = os.path.realpath(module.params['path'])
    state_path = root + '.osimage-env.json'
    if module.params['state'] == 'present':
        if not os.path.isdir(root):
            module.fail_json(msg="'%s' is not a directory" % root)
        try:
            changed = set_up(module, runner, root, state_path)
        except tree.TreeEscape as exc:
            tear_down(module, runner, root, state_path)
            module.fail_json(msg='unsafe image tree: %s' % exc)
        module.exit_json(changed=changed, mounts=sorted(chroot.mounts_under(root)))
    changed, killed = tear_down(module, runner, root, state_path)
    module.exit_json(changed=changed, killed=killed, mounts=sorted(chroot.mounts_under(root)))


if __name__ == '__main__':
    main()
