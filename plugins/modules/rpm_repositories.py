#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a request's package repositories into an rpm root tree as .repo files, with their signing keys."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rpm_repositories
short_description: Write package repositories into an Enterprise Linux or SUSE root tree as .repo files
version_added: 0.3.0
description:
  - Writes each of O(repositories) into the root tree at O(root) as C(NAME.repo) in the directory the family's
    package manager reads (O(repository_file.dir), such as C(/etc/yum.repos.d) or C(/etc/zypp/repos.d)), with the
    family's own keys (O(repository_file.options)), and its signing key at O(repositories[].signed_by), which the
    file names as its C(gpgkey). Package signatures are always checked (C(gpgcheck=1)); the metadata's too
    (C(repo_gpgcheck=1)) unless O(repositories[].signed_metadata=false).
  - Runs on the build host, on the tree from outside; nothing is run and the build host's own repositories are
    never read or written.
  - Idempotent - a file is rewritten only when its content differs, and C(changed) is false when none does.
  - The C(.repo) files it writes start with a marker line. A marked file whose repository is no longer in
    O(repositories) is removed, with the key it names if that is named after the repository (C(NAME.asc) or
    C(NAME.gpg)); other files are never touched.
author: osimage developers (@osimage)
options:
  root:
    description: The rpm root tree (made by M(osimage.builder.rpm_bootstrap)).
    type: path
    required: true
  repository_file:
    description: How the family's package manager reads repositories (the distro table's C(repository_file)).
    type: dict
    required: true
    suboptions:
      dir:
        description: The directory of C(.repo) files in the tree.
        type: str
        required: true
      options:
        description:
          - Keys every repository section gets besides those the request decides, such as C(type=rpm-md) and
            C(autorefresh=1) for zypper.
        type: dict
        default: {}
  repositories:
    description: The request's repositories, resolved (the build's C(repositories)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Repository id; names its C(.repo) file.
        type: str
        required: true
      uri:
        description: URL of the rpm-md repository; may contain C($releasever) and C($basearch).
        type: str
        required: true
      key:
        description: The ASCII-armored public signing key. Exactly one of O(repositories[].key) and
          O(repositories[].key_file).
        type: str
      key_file:
        description: A public signing key file on the build host, armored or binary.
        type: path
      signed_by:
        description: Where the key is written in the tree (an absolute path in the image).
        type: str
        required: true
      signed_metadata:
        description: Whether the repository's metadata must carry a valid signature (C(repo_gpgcheck)).
        type: bool
        default: true
      priority:
        description: The repository's priority (the lower, the more preferred); the package manager's default when
          unset.
        type: int
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
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Write the request's repositories into the tree
  osimage.builder.rpm_repositories:
    root: /var/tmp/osimage/build1/root
    repository_file: "{{ osimage.os.repository_file }}"
    repositories:
      - name: internal
        uri: https://repo.example.org/el9/
        key_file: files/RPM-GPG-KEY-internal
        signed_by: /etc/pki/rpm-gpg/internal.asc
        priority: 10
  delegate_to: localhost
  register: repositories_result

- name: Install from them as well as the release's repositories
  osimage.builder.rpm_packages:
    root: /var/tmp/osimage/build1/root
    backend: dnf
    verbs: "{{ osimage.os.package_verbs }}"
    releasever: "9"
    repositories: "{{ osimage.os.repositories + repositories_result.repositories }}"
    install: [internal-agent]
  delegate_to: localhost
'''

RETURN = r'''
written:
  description: The files in the tree (image paths) written, or that would be written in check mode.
  returned: always
  type: list
  elements: str
  sample: [/etc/yum.repos.d/internal.repo, /etc/pki/rpm-gpg/internal.asc]
removed:
  description: The files this module had written earlier that were removed, or would be in check mode.
  returned: always
  type: list
  elements: str
repositories:
  description: The repositories as M(osimage.builder.rpm_packages) takes them, their keys as files on the build
    host (in the tree).
  returned: always
  type: list
  elements: dict
  sample: [{name: internal, baseurl: "https://repo.example.org/el9/", gpgkey: /var/tmp/osimage/build1/root/etc/pki/rpm-gpg/internal.asc,
            repo_gpgcheck: true, priority: 10}]
'''

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import rpm_tree

MARKER = '# Written by osimage.builder.rpm_repositories; it rewrites and removes this file.\n'


def in_tree(root, path):
    """The build host's path of the image path ``path`` in the tree at ``root``; ValueError when a symbolic link in
    the tree would lead it out of the tree (onto the build host's own files)."""
    host_path = os.path.join(root, os.path.normpath('/' + path).lstrip('/'))
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(os.path.dirname(host_path))]) != real_root:
        raise ValueError('%s in the tree leads out of it through a symbolic link' % path)
    return host_path


def repo_text(repo, repository_file):
    """A repository's .repo file: the marker, then one section."""
    keys = {'name': repo['name'], 'baseurl': repo['uri'], **repository_file['options'], 'gpgcheck': 1,
            'gpgkey': 'file://' + repo['signed_by']}
    keys.update(rpm_tree.checks({'repo_gpgcheck': repo['signed_metadata'], 'priority': repo['priority']}))
    return MARKER + rpm_tree.ini([(repo['name'], keys)])


def key_bytes(repo):
    """The repository's signing key as it is written."""
    if repo.get('key'):
        return (repo['key'].strip() + '\n').encode('utf-8')
    with open(repo['key_file'], 'rb') as f:
        return f.read()


def wanted_files(params):
    """{image path: content (bytes)} of every file the repositories need."""
    files = {}
    for repo in params['repositories']:
        path = '%s/%s.repo' % (params['repository_file']['dir'].rstrip('/'), repo['name'])
        files[path] = repo_text(repo, params['repository_file']).encode('utf-8')
        files[repo['signed_by']] = key_bytes(repo)
    return files


def stale_files(root, params, wanted):
    """Image paths of the marked .repo files not wanted, and of the keys named after their repository that they
    name (unless wanted)."""
    directory = params['repository_file']['dir'].rstrip('/')
    stale = []
    for host_path in sorted(glob.glob(os.path.join(in_tree(root, directory), '*.repo'))):
        path = '%s/%s' % (directory, os.path.basename(host_path))
        with open(host_path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        if path in wanted or not text.startswith(MARKER):
            continue
        # Its key, written under the repository's name (request_repositories.resolve names it so).
        stem = os.path.basename(path)[:-len('.repo')]
        keys = [line.split('file://', 1)[1].strip() for line in text.splitlines() if line.startswith('gpgkey=file://')]
        stale.extend([path] + [key for key in keys
                               if key not in wanted and os.path.basename(key) in (stem + '.asc', stem + '.gpg')])
    return stale


def differs(host_path, content):
    """Whether the file at ``host_path`` is missing or holds other than ``content``."""
    if not os.path.isfile(host_path):
        return True
    with open(host_path, 'rb') as f:
        return f.read() != content


def for_rpm_packages(root, repositories):
    """The repositories in rpm_packages' terms: their keys read from the tree."""
    return [{'name': r['name'], 'baseurl': r['uri'], 'gpgkey': in_tree(root, r['signed_by']),
             'repo_gpgcheck': r['signed_metadata'], 'priority': r['priority']} for r in repositories]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', required=True),
            repository_file=dict(type='dict', required=True, options=dict(
                dir=dict(type='str', required=True),
                options=dict(type='dict', default={}),
            )),
            repositories=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                uri=dict(type='str', required=True),
                key=dict(type='str', no_log=False),
                key_file=dict(type='path'),
                signed_by=dict(type='str', required=True),
                signed_metadata=dict(type='bool', default=True),
                priority=dict(type='int'),
            ), required_one_of=[('key', 'key_file')], mutually_exclusive=[('key', 'key_file')]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    root = os.path.abspath(params['root'])
    if not os.path.isdir(root):
        module.fail_json(msg="'%s' is not a root tree: bootstrap it with osimage.builder.rpm_bootstrap first" % root)
    for repo in params['repositories']:
        if repo['key_file'] and not os.path.isfile(repo['key_file']):
            module.fail_json(msg="repository %s: the key file '%s' does not exist" % (repo['name'], repo['key_file']))
    wanted = wanted_files(params)
    try:
        written = [path for path, content in wanted.items() if differs(in_tree(root, path), content)]
        removed = [path for path in stale_files(root, params, wanted) if os.path.lexists(in_tree(root, path))]
        result = dict(changed=bool(written or removed), written=written, removed=removed,
                      repositories=for_rpm_packages(root, params['repositories']))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if module.check_mode:
        module.exit_json(**result)
    for path in written:
        host_path = in_tree(root, path)
        os.makedirs(os.path.dirname(host_path), mode=0o755, exist_ok=True)
        with atomic.replacing(host_path) as tmp:
            with open(tmp, 'wb') as f:
                f.write(wanted[path])
            os.chmod(tmp, 0o644)
    for path in removed:
        os.unlink(in_tree(root, path))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
