# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request's secrets: passwords hashed before they leave the controller, and redacted wherever shown.

``hash_secrets`` replaces plain-text passwords by sha512-crypt hashes (the build only ever sees hashes),
``redact`` hides passwords, hashes and proxy credentials for manifests, logs and ``osimage show``, ``errors``
refuses a password given twice. Runs on the controller only.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.osimage.builder.plugins.module_utils.request_schema import RequestError

try:
    from passlib.hash import sha512_crypt
    HAS_PASSLIB = True
except ImportError:
    HAS_PASSLIB = False

# Request keys whose values are never shown, not even in an error message.
SECRET_KEYS = ('root_password', 'password')
REDACTED = '********'


def errors(request):
    """(key, message) for a password given both in plain text and as a hash."""
    found = []
    if 'root_password' in request and 'root_password_hash' in request:
        found.append(('root_password', 'give root_password or root_password_hash, not both'))
    users = request.get('users') if isinstance(request.get('users'), list) else []
    for i, user in enumerate(u for u in users if isinstance(u, dict)):
        if 'password' in user and 'password_hash' in user:
            found.append(('users[%d].password' % i, 'give password or password_hash, not both'))
    return found


def hash_secrets(request):
    """Return a copy whose plain-text passwords are replaced by sha512-crypt hashes (passlib)."""
    out = copy.deepcopy(request)
    if 'root_password' in out or any('password' in u for u in out.get('users', [])):
        if not HAS_PASSLIB:
            raise RequestError([('root_password', 'the passlib Python library is required to hash passwords')])
    if 'root_password' in out:
        out['root_password_hash'] = sha512_crypt.hash(out.pop('root_password'))
    for user in out.get('users', []):
        if 'password' in user:
            user['password_hash'] = sha512_crypt.hash(user.pop('password'))
    return out


def redact(request):
    """A copy with every secret replaced, for manifests and logs."""
    out = copy.deepcopy(request)
    location = out.get('location')
    if isinstance(location, dict) and isinstance(location.get('proxy'), str):
        location['proxy'] = re.sub(r'//([^/@:]+):[^/@]*@', '//\\1:%s@' % REDACTED, location['proxy'])
    for key in ('root_password', 'root_password_hash'):
        if key in out:
            out[key] = REDACTED
    for user in out.get('users', []):
        for key in ('password', 'password_hash'):
            if key in user:
                user[key] = REDACTED
    return out
