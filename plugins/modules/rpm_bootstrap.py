#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bootstrap an rpm-family root tree (Enterprise Linux with dnf, SUSE with zypper)."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rpm_bootstrap
short_description: Bootstrap an Enterprise Linux or SUSE root tree with dnf or zypper
version_added: 0.1.0
description:
  - Creates a root file system tree in O(path) by installing O(packages) and their dependencies from
    O(repositories) with dnf or zypper, ready to be customized in a chroot.
  - Only O(repositories) are used; the build host's repository configuration is never read, and nothing is
    written to the host's C(/etc/zypp), C(/etc/dnf) or C(/var/log).
  - Package signatures are always checked. The repositories' keys are imported into the tree's rpm database
    before the install; a package signed with another key, or not signed, fails the build. Keys are never
    imported on demand.
  - The tree is built next to O(path) and renamed into place only when complete, so a failed run never leaves
    a half-made tree at O(path).
  - A stamp of the inputs is kept beside the tree; running again with the same inputs changes nothing.
  - With O(cache_dir), downloaded packages are kept between builds and the finished tree is cached, so the
    next build with the same inputs copies the tree instead of installing it again.
  - Files that the tools copy from the build host (C(/etc/resolv.conf)) are removed from the tree.
author: osimage developers (@osimage)
options:
  path:
    description: Directory of the root tree to create. Missing parent directories are created.
    type: path
    required: true
  backend:
    description: The package manager that installs the tree.
    type: str
    choices: [dnf, zypper]
    required: true
  packages:
    description: Packages to install; their dependencies come with them.
    type: list
    elements: str
    required: true
  dbpath:
    description:
      - Directory of the rpm database inside the tree. V(/var/lib/rpm) for Enterprise Linux 8 and 9.
    type: str
    default: /usr/lib/sysimage/rpm
  install_weak_deps:
    description: Whether weak dependencies (Recommends) are installed too.
    type: bool
    default: false
  cache_dir:
    description:
      - Directory for downloaded packages (C(rpms/)) and finished trees (C(trees/)). No caching when omitted.
    type: path
  proxy:
    description:
      - HTTP proxy the downloads go through (C(http_proxy) and C(https_proxy) of the tools' environment).
        Not written into the tree and not part of the inputs that identify it.
    type: str
  tree_cache_max_age:
    description: Seconds a cached tree is reused before it is built afresh. V(0) turns the tree cache off.
    type: int
    default: 86400
notes:
  - Runs as root on the build host.
  - The rpm database is written by the build host's rpm, in its format (sqlite for Debian 12's rpm 4.18).
requirements:
  - rpm, and dnf or zypper, on the build host
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
  - osimage.builder.rpm_tree
'''

EXAMPLES = r'''
- name: Bootstrap a minimal AlmaLinux 9 tree
  osimage.builder.rpm_bootstrap:
    path: /var/tmp/osimage/build1/root
    backend: dnf
    releasever: "9"
    dbpath: /var/lib/rpm
    repositories:
      - name: baseos
        baseurl: https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/
        gpgkey: https://repo.almalinux.org/almalinux/RPM-GPG-KEY-AlmaLinux-9
    packages: [bash, systemd, kernel]
    cache_dir: /var/cache/osimage
'''

RETURN = r'''
path:
  description: The root tree.
  returned: always
  type: str
  sample: /var/tmp/osimage/build1/root
cached:
  description: Whether the tree was copied from the tree cache instead of being installed.
  returned: success
  type: bool
  sample: false
fingerprint:
  description: sha256 of the inputs that made the tree.
  returned: always
  type: str
packages:
  description: The packages in the new tree, read by the build host's rpm from outside the tree.
  returned: when the tree was made
  type: list
  elements: dict
  sample: [{name: bash, version: 5.1.8, release: 9.el9, arch: x86_64}]
commands:
  description: The commands that installed the tree, when they ran.
  returned: when the tree was installed
  type: list
  elements: list
'''

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils import package_db
from ansible_collections.osimage.builder.plugins.module_utils import rpm_tree
from ansible_collections.osimage.builder.plugins.module_utils.cachelock import CacheLock
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

HOST_COPIES = ('etc/resolv.conf',)


def install_argv(params, root, private):
    """The dnf or zypper command line that installs the packages into ``root`` with the config in ``private``."""
    weak = [] if params['backend'] == 'dnf' else ['--recommends' if params['install_weak_deps'] else '--no-recommends']
    return rpm_tree.tool_argv(params, root, private) + ['install'] + weak + sorted(set(params['packages']))


def import_keys(runner, params, root, env):
    """Trust exactly the repositories' keys: import them into the tree's new rpm database."""
    commands = [rpm_tree.rpm_argv(root, params['dbpath']) + ['--initdb']]
    commands += rpm_tree.import_key_commands(root, params['dbpath'], params['repositories'])
    for argv in commands:
        runner.run(argv, environ_update=env, what="importing the repositories' keys")
    return commands


def install(runner, params, root, pkg_cache):
    """Install the packages into ``root``, with the package cache copied in and out; return the commands."""
    private = tempfile.mkdtemp(prefix=atomic.temp_dir_prefix('rpm'))
    try:
        rpm_tree.write_private_config(params, private)
        env = rpm_tree.tool_environment(params, private)
        cache_rel = rpm_tree.CACHE_REL
        os.makedirs(os.path.join(root, os.path.dirname(cache_rel)))
        if pkg_cache:
            with CacheLock(pkg_cache + '.lock'):
                if os.path.isdir(pkg_cache):
                    bootstrap.copy_tree(runner, pkg_cache, os.path.join(root, cache_rel))
        commands = import_keys(runner, params, root, env)
        argv = install_argv(params, root, private)
        runner.run(argv, environ_update=env, what=params['backend'])
        if pkg_cache:
            with CacheLock(pkg_cache + '.lock'):
                bootstrap.replace_tree(runner, os.path.join(root, cache_rel), pkg_cache)
        bootstrap.remove_tree(runner, os.path.join(root, cache_rel))
        bootstrap.remove_host_copies(root, HOST_COPIES)
        return commands + [argv]
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=rpm_tree.argument_spec(
            path=dict(type='path', required=True),
            backend=dict(type='str', required=True, choices=['dnf', 'zypper']),
            packages=dict(type='list', elements='str', required=True),
            dbpath=dict(type='str', default='/usr/lib/sysimage/rpm'),
            install_weak_deps=dict(type='bool', default=False),
            cache_dir=dict(type='path'),
            proxy=dict(type='str', no_log=True),
            tree_cache_max_age=dict(type='int', default=bootstrap.TREE_CACHE_MAX_AGE),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params['repositories'] or not params['packages']:
        module.fail_json(msg='rpm_bootstrap needs at least one repository and one package')
    runner = Runner(module)
    path = os.path.abspath(params['path'])
    inputs = bootstrap.rpm_inputs(params)
    result = bootstrap.start(module, path, inputs, 'rpm_bootstrap')
    runner.which('rpm')
    runner.which(params['backend'])
    cache = params['cache_dir']
    pkg_cache = os.path.join(cache, 'rpms', '%s-%s-%s' % (params['backend'], params['releasever'],
                                                          params['architecture'])) if cache else None
    if pkg_cache:
        os.makedirs(os.path.dirname(pkg_cache), exist_ok=True)

    def make(partial):
        result['commands'] = install(runner, params, partial, pkg_cache)

    bootstrap.build(runner, path, inputs, result, cache, params['tree_cache_max_age'], make)
    result['packages'] = package_db.rpm_packages(path, params['dbpath'], runner.run)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
