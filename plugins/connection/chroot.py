# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run Ansible tasks inside an image root tree."""

from __future__ import annotations

DOCUMENTATION = r'''
---
name: chroot
short_description: Run tasks inside an image root tree, in the build sandbox
version_added: 0.1.0
description:
  - Runs modules inside a root tree on the controller, so that roles written for ordinary hosts
    (apt, user, template, lineinfile, ...) customize an image that is being built.
  - Why a connection plugin rather than an action plugin that wraps commands in chroot - every existing
    module and role works unchanged inside the image, and the same role runs against a booted VM with the
    ssh connection. Setting up C(/proc), C(/dev) and friends is a separate step,
    M(osimage.builder.chroot_env), run once before and undone in an C(always) block, because a connection
    is opened and closed for every task.
  - Files are written and read through C(dd) inside the chroot, so a symlink in the image resolves inside
    the image and never reaches the host.
  - Every command runs in the build sandbox (C(plugins/module_utils/sandbox.py)) - the tree as its root by
    pivot_root, new mount, PID, IPC and UTS namespaces, a fresh C(/proc), a reduced capability bounding set - so
    that a task or a package's maintainer script cannot see, signal or write to the host. Processes a command
    leaves running end with it.
  - Commands run with a clean environment (C(PATH), C(HOME), C(LANG), C(DEBIAN_FRONTEND=noninteractive)),
    not the controller's.
author: osimage developers (@osimage)
options:
  remote_addr:
    description: Path of the root tree.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
notes:
  - The controller runs as root. The tree needs C(/bin/sh) and, for modules, C(python3).
  - The sandbox shares the host's network, so that packages can be downloaded.
'''

import os
import subprocess

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display
from ansible_collections.osimage.builder.plugins.module_utils import sandbox

display = Display()

CHROOT_ENV = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME': '/root',
    'LANG': 'C.UTF-8',
    'DEBIAN_FRONTEND': 'noninteractive',
    'SYSTEMD_OFFLINE': '1',
}
BUFSIZE = 65536


class Connection(ConnectionBase):
    """Local chroot connection."""

    transport = 'osimage.builder.chroot'
    has_pipelining = True
    has_tty = False
    default_user = 'root'

    def __init__(self, play_context, new_stdin, *args, **kwargs):
        super().__init__(play_context, new_stdin, *args, **kwargs)
        self.root = None

    def _connect(self):
        if self._connected:
            return self
        self.root = self.get_option('remote_addr')
        if os.geteuid() != 0:
            raise AnsibleError('the chroot connection needs the controller to run as root')
        if not os.path.isdir(self.root):
            raise AnsibleError("chroot connection: '%s' is not a directory" % self.root)
        if not os.path.lexists(os.path.join(self.root, 'bin', 'sh')):
            raise AnsibleError("chroot connection: '%s' has no /bin/sh" % self.root)
        display.vvv('ESTABLISH CHROOT CONNECTION', host=self.root)
        super()._connect()
        self._connected = True
        return self

    def _popen(self, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE):
        return subprocess.Popen(sandbox.command(self.root) + argv, stdin=stdin, stdout=stdout,
                                stderr=subprocess.PIPE, env=CHROOT_ENV, close_fds=True)

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv('EXEC %s' % cmd, host=self.root)
        proc = self._popen(['/bin/sh', '-c', cmd])
        stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv('PUT %s TO %s' % (in_path, out_path), host=self.root)
        try:
            with open(to_bytes(in_path, errors='surrogate_or_strict'), 'rb') as src:
                proc = self._popen(['dd', 'of=%s' % out_path, 'bs=%d' % BUFSIZE, 'status=none'], stdin=src)
                _out, err = proc.communicate()
        except OSError as exc:
            raise AnsibleError('chroot connection: cannot read %s: %s' % (in_path, exc)) from exc
        if proc.returncode != 0:
            raise AnsibleError('chroot connection: writing %s failed: %s' % (out_path, err.decode(errors='replace')))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv('FETCH %s TO %s' % (in_path, out_path), host=self.root)
        with open(to_bytes(out_path, errors='surrogate_or_strict'), 'wb') as dest:
            proc = self._popen(['dd', 'if=%s' % in_path, 'bs=%d' % BUFSIZE, 'status=none'], stdout=dest)
            _out, err = proc.communicate()
        if proc.returncode != 0:
            raise AnsibleError('chroot connection: reading %s failed: %s' % (in_path, err.decode(errors='replace')))

    def close(self):
        self._connected = False
