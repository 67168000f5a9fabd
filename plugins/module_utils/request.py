# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build request, one entry point for the driver and the playbook: ``validate`` and ``resolve``.

Each concern has its module: ``request_schema`` (the schema and its defaults), ``request_validation`` (every
bad key named with what would be valid), ``request_resolution`` (the fully specified build, resolved once),
``request_secrets`` (hashing and redaction), ``request_repositories`` (extra repositories and keys). This
module names what callers use. Runs on the controller only; nothing here touches the host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import request_repositories as repositories
from ansible_collections.osimage.builder.plugins.module_utils.request_resolution import load_presets, resolve_valid
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import (
    KEYS, SCHEMA, RequestError, request_view, unknown_keys)
from ansible_collections.osimage.builder.plugins.module_utils.request_secrets import hash_secrets, redact
from ansible_collections.osimage.builder.plugins.module_utils.request_validation import validate

__all__ = ['KEYS', 'SCHEMA', 'RequestError', 'anchor_paths', 'hash_secrets', 'load_presets', 'plain', 'redact',
           'request_view', 'resolve', 'unknown_keys', 'validate']


def plain(value):
    """Plain Python data from what Ansible hands over: tagged or lazy values, vaulted strings decrypted."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str) or type(value).__name__ == 'EncryptedString':
        return str(value)
    return value


def anchor_paths(request, base_dir):
    """A copy of ``request`` whose relative file paths (location.mirror_key_file, repositories' key_file; files'
    src and template; tasks) start at ``base_dir``."""
    return repositories.anchor_key_files(customization.anchor_paths(request, base_dir), base_dir)


def resolve(request, cwd=None, build_id=None, retrofit=None, uuid_seed=None):
    """Validate and return the fully specified build for ``request``; its file systems' UUIDs derive from
    ``uuid_seed`` (the id of the build whose customized tree it restores), else from its build id.

    With ``retrofit`` (what osimage.builder.retrofit_tree found in an existing image: distro, release, arch, table,
    firmware, bytes, mounts, fsck; {} before the image is opened) the keys an image decides are refused, then taken
    from the image: its disk is kept, so nothing is installed for a layout or boot loader."""
    cwd = cwd or os.getcwd()
    if isinstance(request, dict):
        request = anchor_paths(request, cwd)
    validate(request, cwd, retrofit=retrofit is not None)
    if retrofit is None:
        return resolve_valid(request, cwd, build_id, uuid_seed)
    image = dict(request, **{k: retrofit[k] for k in ('distro', 'release', 'arch') if k in retrofit})
    image['disk'] = {'grow': False, **{k: retrofit[k] for k in ('table', 'firmware') if k in retrofit}}
    resolved = resolve_valid(image, cwd, build_id)
    resolved['disk'].update(packages=[], grow=False, volumes=[])
    # The network role sets up the family's network stack, which a build's bootstrap installs: a retrofit installs it.
    resolved['packages']['install'] += [p for p in resolved['os']['packages']['network']
                                        if p not in resolved['packages']['install']]
    if 'mounts' in retrofit:
        resolved['disk']['mounts'] = [{'mountpoint': m['mountpoint'], 'filesystem': m['filesystem'],
                                       'uuid': m['uuid']} for m in retrofit['mounts']]
    if 'bytes' in retrofit:
        resolved['disk']['size_bytes'] = retrofit['bytes']
    resolved['retrofit'] = {k: v for k, v in retrofit.items() if k != 'mounts'}
    return resolved
