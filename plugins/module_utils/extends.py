# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requests that extend other request files: load the chain and merge it into one request.

Merge rules (documented in README.md):

- ``extends`` names one file or a list of files; relative paths resolve against the directory of the
  file that names them (against the working directory when the request comes as extra vars).
- Each base is resolved on its own first (its own bases, then itself). Several bases are merged left to
  right; the extending request is merged over the result.
- Mappings merge key by key, recursively. Lists and scalars replace the base's value, except the lists
  whose dotted key paths the extending request names in ``append`` (for example
  ``append: [packages.install, users]``): those are the base's items followed by its own, without
  repeating a plain item the base already has (a single string, as ``preset: web``, counts as a list).
- ``extends`` and ``append`` themselves are not part of the merged request.

Pure Python: the caller passes ``load(path)``, which returns the plain data of one YAML file (the driver's
loader decrypts Ansible Vault values, the action plugin uses Ansible's).
"""

from __future__ import annotations

import copy
import os

from ansible_collections.osimage.builder.plugins.module_utils import request_limits
from ansible_collections.osimage.builder.plugins.module_utils.request import SCHEMA, RequestError, anchor_paths

META_KEYS = ('extends', 'append')


def _names(value, key):
    """The list of strings under ``key`` ('extends' or 'append'), or a RequestError naming it."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        hint = 'a file name or a list of file names' if key == 'extends' else 'a list of dotted key paths'
        raise RequestError([(key, '%r is not valid: expected %s' % (value, hint))])
    return items


def merge(base, over, append=()):
    """``over`` merged onto ``base`` (neither is changed): maps merge, lists replace unless appended."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            nested = [a[len(key) + 1:] for a in append if a.startswith(key + '.')]
            out[key] = merge(old, value, nested)
        elif key in append and isinstance(old, (list, str)) and isinstance(value, (list, str)):
            old, value = _as_list(old), _as_list(value)
            out[key] = old + [copy.deepcopy(v) for v in value if isinstance(v, (dict, list)) or v not in old]
        else:
            out[key] = copy.deepcopy(value)
    return out


def _as_list(value):
    return [value] if isinstance(value, str) else value


def _lookup(data, dotted):
    for part in dotted.split('.'):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _is_list_key(dotted):
    """Whether the schema makes ``dotted`` (such as packages.install) a list key."""
    schema = SCHEMA
    for part in dotted.split('.'):
        schema = schema.get('properties', {}).get(part)
        if schema is None:
            return False
    kind = schema.get('type')
    return kind == 'array' or isinstance(kind, list) and 'array' in kind


def _check_append(request, append):
    errors = []
    for i, dotted in enumerate(append):
        if not _is_list_key(dotted) or not isinstance(_lookup(request, dotted), (list, str)):
            errors.append(('append[%d]' % i, "'%s' is not a list this request gives; name the dotted path of "
                           "a list, such as packages.install or users" % dotted))
    if errors:
        raise RequestError(errors)


def resolve_extends(request, base_dir, load, _chain=()):
    """``request`` with its ``extends`` chain merged in; file paths in it anchored to ``base_dir``."""
    if not isinstance(request, dict):
        return request
    request = anchor_paths(dict(request), base_dir)
    bases = _names(request.pop('extends', None), 'extends')
    append = _names(request.pop('append', None), 'append')
    _check_append(request, append)
    merged = {}
    for name in bases:
        path = os.path.realpath(os.path.join(base_dir, os.path.expanduser(name)))
        named_in = _chain[-1] if _chain else 'the request'
        if path in _chain:
            cycle = ' -> '.join(list(_chain[_chain.index(path):]) + [path])
            raise RequestError([('extends', 'requests extend each other in a cycle: %s' % cycle)])
        if not os.path.isfile(path):
            raise RequestError([('extends', "'%s' (named in %s) does not exist" % (path, named_in))])
        data = load(path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RequestError([('extends', "'%s' (named in %s) is not a request: a request is a mapping of keys "
                                 "to values" % (path, named_in))])
        merged = merge(merged, resolve_extends(data, os.path.dirname(path), load, _chain + (path,)))
    return merge(merged, request, append)


def load_request_file(path, load):
    """The request in the file at ``path``, with its ``extends`` chain merged in (``request_limits`` bound
    how many files that reads and the size of the merged request)."""
    path = os.path.realpath(path)
    load = request_limits.counted(load)
    data = load(path)
    if not isinstance(data, dict):
        return {} if data is None else data
    merged = resolve_extends(data, os.path.dirname(path), load, (path,))
    request_limits.check_data(merged)
    return merged
