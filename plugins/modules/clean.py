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
  - With O(cache_dir), it also releases what killed builds left in the cache (temporary files, half-made
    entries and their lock files) while the entry's lock is free, and the private temporary directories
    (C(osimage-KIND-PID-*)) of processes that are gone.
  - Every build runs it first, so the next build cleans up after a killed one; C(osimage clean) runs it by hand.
author: osimage developers (@osimage)
options:
  work_dir:
    description: The builds' work directory.
    type: path
    default: /var/tmp/osimage
  cache_dir:
    description: The builds' cache directory. Its leftovers, and temporary directories, are left alone when omitted.
    type: path
    version_added: 0.3.0
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
    cache_dir: /var/cache/osimage
'''

RETURN = r'''
released:
  description: For each stale build id, what was released.
  returned: always
  type: dict
  sample: {"3f2a9c1d0e4b": ["domain osimage-3f2a9c1d0e4b", "mount /var/tmp/osimage/3f2a9c1d0e4b/root/proc"]}
cache:
  description: What was released in O(cache_dir).
  returned: always
  type: list
  elements: str
  sample: ["partial cache entry /var/cache/osimage/trees/7ed6.partial", "lock file /var/cache/osimage/trees/7ed6.lock"]
temp_dirs:
  description: The temporary directories released (with O(cache_dir) only).
  returned: always
  type: list
  elements: str
  sample: ["temporary directory /tmp/osimage-runner-4242-x1y2z3"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import leftovers


def main():
    module = AnsibleModule(argument_spec=dict(work_dir=dict(type='path', default='/var/tmp/osimage'),
                                              cache_dir=dict(type='path')),
                           supports_check_mode=True)
    work_dir, cache_dir = module.params['work_dir'], module.params['cache_dir']
    if module.check_mode:
        stale = [i for i in leftovers.build_ids(work_dir) if not leftovers.alive(work_dir, i)]
        module.exit_json(changed=bool(stale), released={i: ['(check mode)'] for i in stale}, cache=[], temp_dirs=[])
    released = leftovers.release_stale(work_dir)
    cache = leftovers.release_cache(cache_dir) if cache_dir else []
    temp_dirs = leftovers.release_temp_dirs() if cache_dir else []
    module.exit_json(changed=bool(released or cache or temp_dirs), released=released, cache=cache, temp_dirs=temp_dirs)


if __name__ == '__main__':
    main()
