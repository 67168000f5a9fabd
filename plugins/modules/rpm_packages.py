#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install and remove packages in an rpm root tree from the build host (dnf --installroot, zypper --root)."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rpm_packages
short_description: Install and remove packages in an Enterprise Linux or SUSE root tree with dnf or zypper
version_added: 0.2.0
description:
  - Installs O(install) and removes O(remove) in the rpm root tree at O(root), running the build host's dnf or
    zypper on it from outside (the package scripts run chrooted in the tree), with the family's verbs
    (the distro table's C(package_verbs)).
  - Only O(repositories) are used; the build host's repository configuration is never read, and nothing is
    written to the host's C(/etc/zypp), C(/etc/dnf) or C(/var/log). Package signatures are always checked
    against the repositories' keys, which are imported into the tree's rpm database; keys are never imported
    on demand.
  - Idempotent - only packages not yet in the tree's rpm database are installed and only those in it removed;
    C(changed) is false when there is nothing to do. Afterwards the database is read again, and a package
    that is still missing (or still there) fails the task, since a failed C(%post) does not fail the tools.
  - The tools' downloads are kept in the tree only while they run.
author: osimage developers (@osimage)
options:
  root:
    description: The rpm root tree (made by M(osimage.builder.rpm_bootstrap)).
    type: path
    required: true
  backend:
    description: The package manager (the distro table's C(package_manager)).
    type: str
    choices: [dnf, zypper]
    required: true
  verbs:
    description:
      - The package manager's verbs and their options (the distro table's C(package_verbs)), each placed after
        the root and configuration options and before the package names.
    type: dict
    required: true
    suboptions:
      install:
        description: The verb that installs, such as V([install]) or V([install, --no-recommends]).
        type: list
        elements: str
        required: true
      remove:
        description: The verb that removes, such as V([remove]) or V([remove, --clean-deps]).
        type: list
        elements: str
        required: true
  dbpath:
    description: Directory of the rpm database inside the tree (the distro table's C(rpm_dbpath)).
    type: str
    default: /usr/lib/sysimage/rpm
  install:
    description: Packages to install, with their dependencies.
    type: list
    elements: str
    default: []
  remove:
    description: Packages to remove.
    type: list
    elements: str
    default: []
  install_weak_deps:
    description: Whether dnf installs weak dependencies (Recommends) too; zypper's verbs say it for zypper.
    type: bool
    default: false
  proxy:
    description: HTTP proxy the downloads go through (the tools' C(http_proxy) and C(https_proxy)).
    type: str
notes:
  - Runs as root on the build host.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
requirements:
  - rpm, and dnf or zypper, on the build host
extends_documentation_fragment:
  - osimage.builder.attributes
  - osimage.builder.rpm_tree
'''

EXAMPLES = r'''
- name: Install and remove the request's packages in the tree
  osimage.builder.rpm_packages:
    root: /var/tmp/osimage/build1/root
    backend: "{{ osimage.os.package_manager }}"
    verbs: "{{ osimage.os.package_verbs }}"
    releasever: "{{ osimage.os.version }}"
    architecture: "{{ osimage.os.arch_name }}"
    repositories: "{{ osimage.os.repositories }}"
    dbpath: "{{ osimage.os.rpm_dbpath }}"
    install: [tmux]
    remove: [nano]
  delegate_to: localhost
'''

RETURN = r'''
installed:
  description: The packages of O(install) that were not in the tree (installed unless in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: The packages of O(remove) that were in the tree (removed unless in check mode).
  returned: always
  type: list
  elements: str
commands:
  description: The commands that ran.
  returned: when anything ran
  type: list
  elements: list
packages:
  description: The packages in the tree afterwards, read by the build host's rpm from outside the tree.
  returned: when anything changed
  type: list
  elements: dict
  sample: [{name: bash, version: 5.1.8, release: 9.el9, arch: x86_64}]
'''

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import package_db
from ansible_collections.osimage.builder.plugins.module_utils import rpm_tree
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner


def plan(params, installed):
    """(to install, to remove): the requested packages that are missing, and those present, in request order."""
    wanted = [p for i, p in enumerate(params['install']) if p not in params['install'][:i]]
    unwanted = [p for i, p in enumerate(params['remove']) if p not in params['remove'][:i]]
    return [p for p in wanted if p not in installed], [p for p in unwanted if p in installed]


def commands_for(params, root, private, to_install, to_remove):
    """The key imports and the tool's runs that bring the tree to the request."""
    base = rpm_tree.tool_argv(params, root, private)
    commands = rpm_tree.import_key_commands(root, params['dbpath'], params['repositories']) if to_install else []
    if to_remove:
        commands.append(base + params['verbs']['remove'] + to_remove)
    if to_install:
        commands.append(base + params['verbs']['install'] + to_install)
    return commands


def apply(runner, params, root, to_install, to_remove):
    """Run the commands with the private configuration; return them."""
    private = tempfile.mkdtemp(prefix='osimage-rpm-')
    cache = os.path.join(root, rpm_tree.CACHE_REL)
    try:
        rpm_tree.write_private_config(params, private)
        env = rpm_tree.tool_environment(params, private)
        commands = commands_for(params, root, private, to_install, to_remove)
        for argv in commands:
            runner.run(argv, environ_update=env, what=os.path.basename(argv[0]))
        return commands
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=rpm_tree.argument_spec(
            root=dict(type='path', required=True),
            backend=dict(type='str', required=True, choices=['dnf', 'zypper']),
            verbs=dict(type='dict', required=True, options=dict(
                install=dict(type='list', elements='str', required=True),
                remove=dict(type='list', elements='str', required=True),
            )),
            dbpath=dict(type='str', default='/usr/lib/sysimage/rpm'),
            install=dict(type='list', elements='str', default=[]),
            remove=dict(type='list', elements='str', default=[]),
            install_weak_deps=dict(type='bool', default=False),
            proxy=dict(type='str', no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    root = os.path.abspath(params['root'])
    if not os.path.isdir(os.path.join(root, params['dbpath'].lstrip('/'))):
        module.fail_json(msg="'%s' has no rpm database at %s: bootstrap it with osimage.builder.rpm_bootstrap first"
                             % (root, params['dbpath']))
    both = sorted(set(params['install']) & set(params['remove']))
    if both:
        module.fail_json(msg='packages both to install and to remove: %s' % ', '.join(both))
    runner = Runner(module)
    runner.which('rpm')
    to_install, to_remove = plan(params, rpm_tree.installed_names(root, params['dbpath'], runner.run))
    if to_install and not params['repositories']:
        module.fail_json(msg='installing %s needs at least one repository' % ', '.join(to_install))
    result = dict(changed=bool(to_install or to_remove), installed=to_install, removed=to_remove)
    if not result['changed'] or module.check_mode:
        module.exit_json(**result)
    runner.which(params['backend'])
    result['commands'] = apply(runner, params, root, to_install, to_remove)
    missing, left = plan(params, rpm_tree.installed_names(root, params['dbpath'], runner.run))
    if missing or left:
        module.fail_json(msg='%s ran, yet the tree lacks %s and still has %s'
                             % (params['backend'], missing or 'nothing', left or 'nothing'), **result)
    result['packages'] = package_db.rpm_packages(root, params['dbpath'], runner.run)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
