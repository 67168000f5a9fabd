#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep an image's Boot Loader Specification entries in step with its kernels."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: boot_entries
short_description: Give each kernel in /boot one Boot Loader Specification entry made from the image's own
version_added: 0.5.0
description:
  - For a retrofit (playbooks/retrofit.yml) whose customization added or removed kernels, in an image whose boot
    loader reads Boot Loader Specification type 1 entries (C(/boot/loader/entries/*.conf), as the GRUB of the
    rpm families with C(blscfg) and systemd-boot do).
  - Each kernel in O(boot) that the image did not have (O(kernels_before)) gets an entry copied from the image's
    own entry of the newest kernel it had, with that kernel's version replaced by the new one in its file name,
    title, C(version), C(linux) and C(initrd) lines, so the new entry keeps the image's kernel options. Any other
    entry for the new kernel is removed; a kernel package's hook (C(kernel-install)) may have written one in the
    chroot, with the build host's C(/proc/cmdline) as its options.
  - The entries of kernels no longer in O(boot) are removed; an entry that names no kernel version is left alone.
  - An image without an entry of a kernel it had (its GRUB reads a menu in C(grub.cfg)) is left unchanged.
author: osimage developers (@osimage)
options:
  boot:
    description: The directory holding the kernels (C(vmlinuz-VERSION)) and C(loader/entries).
    type: path
    default: /boot
  kernels_before:
    description: The kernel file names (C(vmlinuz-VERSION)) in O(boot) before the customization.
    type: list
    elements: str
    required: true
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
- name: Give the kernel the customization installed an entry like the image's own
  osimage.builder.boot_entries:
    kernels_before: [vmlinuz-5.14.0-427.13.1.el9_4.x86_64]
'''

RETURN = r'''
written:
  description: The entry files written (names in C(loader/entries)).
  returned: always
  type: list
  elements: str
removed:
  description: The entry files removed.
  returned: always
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import boot_entries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            boot=dict(type='path', default='/boot'),
            kernels_before=dict(type='list', elements='str', required=True),
        ),
        supports_check_mode=True,
    )
    entries_dir = os.path.join(module.params['boot'], 'loader', 'entries')
    before = [k[len(boot_entries.KERNEL_PREFIX):] for k in module.params['kernels_before']]
    entries = boot_entries.read(entries_dir)
    write, remove = boot_entries.plan(entries, before, boot_entries.versions(module.params['boot']))
    current = {name: text for name, text, _version in entries}
    written = sorted(name for name, text in write.items() if current.get(name) != text)
    if not module.check_mode:
        for name in written:
            atomic.write_text(os.path.join(entries_dir, name), write[name])
            os.chmod(os.path.join(entries_dir, name), 0o644)
        for name in remove:
            os.unlink(os.path.join(entries_dir, name))
    module.exit_json(changed=bool(written or remove), written=written, removed=sorted(remove))


if __name__ == '__main__':
    main()
