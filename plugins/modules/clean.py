#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release what killed osimage builds left on the host."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: clean
short_description: Release what killed osimage builds left on the build host
version_added: 0.1.0
description:
  - A build that was killed (SIGKILL, a lost machine) cannot undo its own mounts, chroot processes,
    libvirt domain or build directory. Each of those carries the build's id (mount source
    C(osimage-ID), domain C(osimage-ID), directory C(WORK_DIR/ID) with an owner record in C(WORK_DIR/owners)).
  - This module finds every id whose owner process is gone and releases its resources, in reverse order of
    taking them. Builds that are still running, and anything without the osimage tag, are left alone.
  - Every build runs it first, so the next build cleans up after a killed one; C(osimage clean) runs it by hand.
author: osimage developers (@osimage)
options:
  work_dir:
    description: The builds' work directory.
    type: path
    default: /var/tmp/osimage
attributes:
  check_mode:
    support: full
    details: Lists what would be released.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Release what killed builds left
  osimage.builder.clean:
    work_dir: /var/tmp/osimage
'''

RETURN = r'''
released:
  description: For each stale build id, what was released.
  returned: always
  type: dict
  sample: {"3f2a9c1d0e4b": ["domain osimage-3f2a9c1d0e4b", "mount /var/tmp/osimage/3f2a9c1d0e4b/root/proc"]}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import leftovers


def main():
    module = AnsibleModule(argument_spec=dict(work_dir=dict(type='path', default='/var/tmp/osimage')),
                           supports_check_mode=True)
    work_dir = module.params['work_dir']
    if module.check_mode:
        stale = [i for i in leftovers.build_ids(work_dir) if not leftovers.alive(work_dir, i)]
        module.exit_json(changed=bool(stale), released={i: ['(check mode)'] for i in stale})
    released = leftovers.release_stale(work_dir)
    module.exit_json(changed=bool(released), released=released)


if __name__ == '__main__':
    main()
