# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request's extra package repositories and signing keys: their schema, checks and resolved form.

``REPOSITORY_SCHEMA`` is one item of the request's ``repositories`` (``request_schema.SCHEMA`` includes it),
``errors`` and ``family_key_errors`` check what a schema cannot, ``key_file_error`` also checks the mirror's key,
and ``resolve`` gives each repository the keyring path and origin the family roles render. Runs on the
controller only.
"""

from __future__ import annotations

import base64
import os
from urllib.parse import urlparse

from ansible_collections.osimage.builder.plugins.module_utils import distros

URL_RE = r'^(https?|file)://[^\s;|&`$\'"]+$'
SUITE_RE = r'^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*$'
ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----'
ARMOR_END = '-----END PGP PUBLIC KEY BLOCK-----'
RESERVED_NAMES = tuple(distros.DISTROS) + ('debian-security',)

REPOSITORY_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'required': ['name', 'uri'],
    'properties': {
        'name': {'type': 'string', 'pattern': r'^[a-z0-9][a-z0-9_-]{0,62}$',
                 'x-hint': "a name of lower-case letters, digits, _ and - (it names the repository's file and key file)"},
        'uri': {'type': 'string', 'pattern': URL_RE, 'x-hint': 'an http://, https:// or file:// URL'},
        'suites': {'type': 'array', 'minItems': 1, 'x-hint': 'a list of suites such as bookworm or stable',
                   'items': {'type': 'string', 'pattern': SUITE_RE,
                             'x-hint': 'items of a list of suites such as bookworm or stable'}},
        'components': {'type': 'array', 'minItems': 1, 'default': ['main'],
                       'x-hint': 'a list of components such as main',
                       'items': {'type': 'string', 'pattern': r'^[A-Za-z0-9][A-Za-z0-9._-]*$',
                                 'x-hint': 'items of a list of components such as main'}},
        'key': {'type': 'string', 'pattern': r'^\s*' + ARMOR_BEGIN,
                'x-hint': 'an ASCII-armored OpenPGP public key block (%s ...)' % ARMOR_BEGIN},
        'key_file': {'type': 'string', 'minLength': 1,
                     'x-hint': 'the path of an OpenPGP public key file, armored or binary'},
        # Its range is the family's (distros.FAMILIES[...]['repository_priority']), checked by family_key_errors.
        'priority': {'type': 'integer',
                     'x-hint': "a whole number in the range of the family's package manager"},
        'signed_metadata': {'type': 'boolean', 'x-hint': 'true or false (false: only the packages are signed)'},
        'pin_packages': {'type': 'array', 'minItems': 1,
                         'x-hint': 'a list of package names (or globs) the priority applies to',
                         'items': {'type': 'string', 'pattern': r'^[a-z0-9*][a-z0-9+.*-]*$',
                                   'x-hint': 'items of a list of package names (or globs) the priority applies to'}},
    },
}

# Repository keys only some families take (distros.FAMILIES[...]['repository_keys']).
FAMILY_KEYS = ('suites', 'components', 'priority', 'pin_packages', 'signed_metadata')


def key_material_error(data):
    """Why ``data`` (bytes) is not an OpenPGP public key, armored or binary; None when it is one."""
    text = data.decode('ascii', 'replace').strip()
    if text.startswith('-----BEGIN PGP PRIVATE KEY BLOCK-----'):
        return 'is a private key; give the public key (gpg --export --armor)'
    if text.startswith(ARMOR_BEGIN):
        if ARMOR_END not in text:
            return 'has no %s line' % ARMOR_END
        body = text[len(ARMOR_BEGIN):text.index(ARMOR_END)].strip().split('\n\n', 1)[-1]
        lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith('=')]
        try:
            data = base64.b64decode(''.join(lines), validate=True)
        except ValueError:
            return 'is not valid ASCII armor (the base64 does not decode)'
    # Public-key packet tag 6, in the old (0x98-0x9b) or the new (0xc6) packet format.
    if not data or data[0] not in (0x98, 0x99, 0x9a, 0x9b, 0xc6):
        return 'is not an OpenPGP public key (armored or binary)'
    return None


def key_file_error(path):
    """Why the file at ``path`` is not an OpenPGP public key; None when it is one."""
    if not os.path.isfile(path):
        return "'%s' does not exist (relative paths start at the request file's directory)" % path
    with open(path, 'rb') as f:
        problem = key_material_error(f.read())
    return "'%s' %s" % (path, problem) if problem else None


def errors(repos):
    """(key, message) for each repository's name and key that the schema cannot check."""
    found = []
    names = set()
    for i, repo in enumerate(repos):
        if not isinstance(repo, dict):
            continue
        key = 'repositories[%d]' % i
        if repo.get('name') in RESERVED_NAMES:
            found.append((key + '.name', "'%s' is the distribution's own; choose another name" % repo['name']))
        if repo.get('name') in names:
            found.append((key + '.name', "'%s' is given twice; each repository needs its own name" % repo['name']))
        names.add(repo.get('name'))
        if ('key' in repo) == ('key_file' in repo):
            found.append((key + '.key', 'give the signing key inline (key) or as a file (key_file), exactly one'))
        if isinstance(repo.get('key'), str) and repo['key'].lstrip().startswith(ARMOR_BEGIN):
            problem = key_material_error(repo['key'].encode('ascii', 'replace'))
            if problem:
                found.append((key + '.key', 'the key %s' % problem))
        path = repo.get('key_file')
        problem = key_file_error(path) if isinstance(path, str) and path else None
        if problem:
            found.append((key + '.key_file', problem))
        if 'pin_packages' in repo and 'priority' not in repo:
            found.append((key + '.pin_packages', 'pins need a priority; add priority (for example 990)'))
    return found


def family_key_errors(repos, facts):
    """(key, message) for each repository key the family (``facts``, distros.facts) does not take, each priority
    outside its package manager's range and each name the distribution's own repositories use."""
    found = []
    accepted = ', '.join(['name', 'uri', 'key or key_file'] + facts['repository_keys'][:-1]) \
        + ' and ' + facts['repository_keys'][-1]
    name = '%s %s' % (facts['distro'], facts['release'])
    for i, repo in enumerate(repos):
        if not isinstance(repo, dict):
            continue
        for key in sorted(set(repo) & set(FAMILY_KEYS) - set(facts['repository_keys'])):
            takers = [family for family, data in distros.FAMILIES.items() if key in data['repository_keys']]
            found.append(('repositories[%d].%s' % (i, key), 'is a key of %s repositories only; remove it (%s '
                          'repositories (%s) take %s)' % (' and '.join(takers), facts['family'],
                                                          facts['package_manager'], accepted)))
        limits = facts['repository_priority']
        priority = repo.get('priority')
        if 'priority' in facts['repository_keys'] and isinstance(priority, int) and not isinstance(priority, bool) \
                and not limits['min'] <= priority <= limits['max']:
            found.append(('repositories[%d].priority' % i, '%d is out of range: expected %s'
                          % (priority, limits['hint'])))
        if repo.get('name') in facts['reserved_repositories']:
            found.append(('repositories[%d].name' % i, "'%s' is a repository of %s's own; choose another name "
                          "(%s are taken)" % (repo['name'], name, ', '.join(facts['reserved_repositories']))))
    return found


def anchor_key_files(request, base_dir):
    """A copy of ``request`` whose relative key files (location.mirror_key_file, repositories' key_file) start
    at ``base_dir``."""
    out = dict(request)
    location = out.get('location')
    if isinstance(location, dict) and isinstance(location.get('mirror_key_file'), str) and location['mirror_key_file']:
        key_file = os.path.normpath(os.path.join(base_dir, location['mirror_key_file']))
        out['location'] = dict(location, mirror_key_file=key_file)
    if isinstance(out.get('repositories'), list):
        out['repositories'] = [
            dict(r, key_file=os.path.normpath(os.path.join(base_dir, r['key_file'])))
            if isinstance(r, dict) and isinstance(r.get('key_file'), str) and r['key_file'] else r
            for r in out['repositories']]
    return out


def resolve(repos, os_facts, release):
    """Give each (valid) repository its suites and signed_metadata (true) where the family takes them (and none of
    the schema's defaults of keys it does not, such as components), the keyring file its key is installed to
    (``signed_by``) and, where it pins, its host (``origin``)."""
    for repo in repos:
        for key in set(FAMILY_KEYS) - set(os_facts['repository_keys']):
            repo.pop(key, None)
        if 'suites' in os_facts['repository_keys']:
            repo.setdefault('suites', [release])
        if 'signed_metadata' in os_facts['repository_keys']:
            repo.setdefault('signed_metadata', True)
        repo['signed_by'] = '%s/%s.%s' % (os_facts['keyring_dir'], repo['name'], 'asc' if _armored(repo) else 'gpg')
        if 'pin_packages' in os_facts['repository_keys']:
            repo['origin'] = urlparse(repo['uri']).hostname or ''
    return repos


def mirror_key(key_file, os_facts):
    """The image's copy of the key that signs the request's mirror (``src`` on the controller, ``dest`` in the
    tree), for families whose image keeps the bootstrap's sources (``trusted_keys_dir``); None otherwise."""
    if not key_file or not os_facts.get('trusted_keys_dir'):
        return None
    suffix = 'asc' if _armored({'key_file': key_file}) else 'gpg'
    return {'src': key_file, 'dest': '%s/osimage-mirror.%s' % (os_facts['trusted_keys_dir'], suffix)}


def _armored(repo):
    if 'key' in repo:
        return True
    with open(repo['key_file'], 'rb') as f:
        return f.read(64).lstrip().startswith(ARMOR_BEGIN.encode('ascii'))
