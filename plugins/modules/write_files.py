#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write several small files from their contents in one module call."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: write_files
short_description: Write several small files from their contents in one call
version_added: 0.4.0
description:
  - Writes each file of O(files) whose content or mode differs, under a temporary name beside it that is then
    renamed over it (a symlink at the path is replaced, as M(ansible.builtin.copy) does by default), and sets
    the mode of those whose content is right but whose mode is not.
  - What it saves over a M(ansible.builtin.copy) per file is time - the copy action stats the file, makes a
    temporary directory, transfers the content and removes the directory, each a process start on the host that
    runs it (through the chroot connection, one inside the image tree each); this module is one.
  - Missing parent directories are made with mode C(0755) (as C(mkdir -p) would). A new file belongs to the user
    that runs the module; an existing file keeps its owner and group.
author: osimage developers (@osimage)
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole content of the file, as text (written as UTF-8).
        type: str
        required: true
      mode:
        description: Permissions of the file, an octal string such as V('0644').
        type: str
        default: '0644'
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - osimage.builder.attributes
notes:
  - Put C(no_log) on the task when a content is a secret.
'''

EXAMPLES = r'''
- name: Write the host name and /etc/hosts
  osimage.builder.write_files:
    files:
      - path: /etc/hostname
        content: "web1\n"
      - path: /etc/hosts
        content: |
          127.0.0.1 localhost
          127.0.1.1 web1
'''

RETURN = r'''
paths:
  description: The files written or whose mode was set (or, in check mode, that would be), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/hostname]
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.osimage.builder.plugins.module_utils import atomic


def current(path):
    """The lstat of the regular file at ``path`` and its content, or (None, None) when there is none (or a symlink)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, None
    with open(path, 'rb') as f:
        return info, f.read()


def make_parents(path):
    """Make the missing directories above ``path``, mode 0755 whatever the umask."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        make_parents(parent)
        os.mkdir(parent)
        os.chmod(parent, 0o755)


def write(path, data, mode, old):
    """Write ``data`` to ``path`` with ``mode``, and the owner of the ``old`` file's lstat if there is one, through a
    temporary file beside it renamed over it."""
    with atomic.replacing(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        if old is not None:
            os.chown(tmp, old.st_uid, old.st_gid)
        os.chmod(tmp, mode)


def mode_of(module, spec):
    try:
        return int(spec['mode'], 8)
    except ValueError:
        module.fail_json(msg='files: the mode %r of %s is not an octal number such as 0644'
                         % (spec['mode'], spec['path']))


def main():
    module = AnsibleModule(
        argument_spec=dict(files=dict(type='list', elements='dict', required=True, options=dict(
            path=dict(type='path', required=True), content=dict(type='str', required=True),
            mode=dict(type='str', default='0644')))),
        supports_check_mode=True,
    )
    changed = []
    for spec in module.params['files']:
        path, mode = spec['path'], mode_of(module, spec)
        data = to_bytes(spec['content'], errors='surrogate_or_strict')
        info, old = current(path)
        if old == data and stat.S_IMODE(info.st_mode) == mode:
            continue
        changed.append(path)
        if module.check_mode:
            continue
        try:
            if old == data:
                os.chmod(path, mode)
            else:
                make_parents(path)
                write(path, data, mode, info)
        except OSError as exc:
            module.fail_json(msg='writing %s: %s' % (path, exc), paths=changed[:-1])
    module.exit_json(changed=bool(changed), paths=changed)


if __name__ == '__main__':
    main()
