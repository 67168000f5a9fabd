# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nothing changed, nothing redone: the fingerprint of everything that decides a build's image, and the stamp a
finished build leaves beside its artifacts.

``fingerprint`` covers the resolved request (what is drawn per build, the build id and the UUIDs derived from
it, left out; passwords only as their crypt hashes), the collection's own code, the content of the controller
files the request names and the Release files of its extra repositories. ``check`` says whether ``output_dir``
holds a finished build of that fingerprint, made from a bootstrap cache entry that is still the current one, whose
artifacts still have their checksums. ``reuse_hashes`` keeps a password's earlier crypt hash when the password is
unchanged, so that hashing with a fresh salt does not make every build with a password a new one.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import time

from ansible_collections.osimage.builder.plugins.module_utils import bootstrap, release_index, stamp
from ansible_collections.osimage.builder.plugins.module_utils.bootstrap import TREE_CACHE_MAX_AGE, cached_tree_stamp

try:
    from passlib.hash import sha512_crypt
    HAS_PASSLIB = True
except ImportError:
    HAS_PASSLIB = False

STAMP_NAME = '.osimage-build.json'
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What the build reads of the collection (playbooks/collections only links the collection to itself).
CODE_DIRS = ('plugins', 'roles', 'playbooks', 'data')
CODE_FILES = ('galaxy.yml', 'ansible.cfg')


def stamp_path(output_dir):
    return os.path.join(output_dir, STAMP_NAME)


@functools.lru_cache(maxsize=None)
def code_version(root=COLLECTION_ROOT):
    """sha256 over the path and content of every file of the collection that a build reads."""
    digest = hashlib.sha256()
    paths = [os.path.join(root, name) for name in CODE_FILES]
    for top in CODE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in ('__pycache__', 'collections'))
            paths += [os.path.join(dirpath, f) for f in sorted(filenames) if not f.endswith('.pyc')]
    for path in paths:
        if os.path.isfile(path):
            digest.update(os.path.relpath(path, root).encode('utf-8', 'surrogateescape') + b'\0')
            digest.update(stamp.sha256_file(path).encode('ascii') + b'\n')
    return digest.hexdigest()


def _content_digest(path):
    """sha256 of a file, or of every file under a directory (a role); 'missing' when it is gone."""
    if os.path.isfile(path):
        return stamp.sha256_file(path)
    if not os.path.isdir(path):
        return 'missing'
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            digest.update(os.path.relpath(full, path).encode('utf-8', 'surrogateescape') + b'\0')
            digest.update(_content_digest(full).encode('ascii') + b'\n')
    return digest.hexdigest()


def controller_files(resolved):
    """{path: digest} of the controller files whose content the build reads but the request names by path only
    (templates, tasks files and roles, key files; a file's src already has its sha256 in the request)."""
    paths = [f['template'] for f in resolved.get('files', []) if 'template' in f] + list(resolved.get('tasks', []))
    paths += [r['key_file'] for r in resolved.get('repositories', []) if r.get('key_file')]
    if resolved.get('location', {}).get('mirror_key_file'):
        paths.append(resolved['location']['mirror_key_file'])
    return {p: _content_digest(p) for p in paths}


def repository_indexes(resolved, indexes=None):
    """{repository name: [digest of its Release (or repomd.xml) per suite, 'unreachable' when none answers]}: a
    repository's new packages, which the build installs inside the tree, make a new image. ``indexes``:
    release_index.repositories' answer (preflight's), read now when not given."""
    digests = {r['name']: [] for r in resolved.get('repositories', [])}
    for i, repo, answer in release_index.repositories(resolved) if indexes is None else indexes:
        digests[repo['name']].append('unreachable' if answer[1] is None else hashlib.sha256(answer[1]).hexdigest())
    return digests


def _collect(value, key):
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == key and isinstance(v, str)] + \
            [x for v in value.values() for x in _collect(v, key)]
    if isinstance(value, list):
        return [x for v in value for x in _collect(v, key)]
    return []


def _scrub(value, drawn):
    if isinstance(value, dict):
        return {k: _scrub(v, drawn) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, drawn) for v in value]
    if isinstance(value, str):
        for old in drawn:
            value = value.replace(old, '<drawn>')
    return value


def image_request(resolved):
    """The resolved request less what each build draws anew (its id, and the file system UUIDs with the seed they
    derive from) and less whether the boot test runs (which proves the image but does not make it)."""
    req = copy.deepcopy(resolved)
    disk = req.get('disk', {})
    drawn = sorted(set([req.pop('build_id'), disk.pop('uuid_seed', None)] + _collect(disk, 'uuid')) - {None},
                   key=len, reverse=True)
    req['boot_test'].pop('enabled', None)
    return _scrub(req, [d for d in drawn if d])


# Request keys applied after the customized-tree cache (customized_tree.py): a request that differs from a cached
# build's only in these restores its tree (and its disk UUIDs), and the customize play replays only the roles that
# read them: playbooks/tasks/customize.yml.
LATE_KEYS = ('hostname',)
# Request keys that never reach the root tree (where the build writes, the formats, the boot test's settings).
OUTSIDE_TREE_KEYS = ('name', 'output_dir', 'outputs', 'formats', 'compress', 'oci', 'boot_image', 'boot_test',
                     'work_dir', 'build_dir', 'cache_dir')


def tree_request(resolved):
    """image_request less LATE_KEYS and OUTSIDE_TREE_KEYS: what decides a customized tree up to the replayed roles.
    None when the request has files or tasks of its own: they may read or overwrite anything the replay writes."""
    if resolved.get('files') or resolved.get('tasks') or 'retrofit' in resolved:
        return None
    req = image_request(resolved)
    return {k: v for k, v in req.items() if k not in LATE_KEYS + OUTSIDE_TREE_KEYS}


def _inputs(resolved, indexes=None):
    return {'request': image_request(resolved), 'code': code_version(), 'files': controller_files(resolved),
            'repositories': repository_indexes(resolved, indexes)}


def fingerprint(resolved):
    """The fingerprint of everything that decides the image a resolved request builds."""
    return stamp.fingerprint(_inputs(resolved))


def secret_hashes(resolved):
    """{'root': hash, 'users': {name: hash}}: the crypt hashes the image's passwords were set from."""
    return {'root': resolved.get('root_password_hash'),
            'users': {u['name']: u['password_hash'] for u in resolved.get('users', []) if u.get('password_hash')}}


def reuse_hashes(request, output_dir):
    """A copy of ``request`` whose plain-text passwords that the last build in ``output_dir`` set are replaced
    by the crypt hash it used (checked with passlib): the same password gives the same request."""
    old = (stamp.read(stamp_path(output_dir)) or {}).get('secrets')
    if not old or not HAS_PASSLIB or not isinstance(request, dict):
        return request
    out = copy.deepcopy(request)

    def same(plain, hashed):
        return isinstance(plain, str) and bool(hashed) and sha512_crypt.identify(hashed) and \
            sha512_crypt.verify(plain, hashed)

    if 'root_password' in out and same(out['root_password'], old.get('root')):
        del out['root_password']
        out['root_password_hash'] = old['root']
    for user in out.get('users', []) if isinstance(out.get('users'), list) else []:
        hashed = isinstance(user, dict) and old.get('users', {}).get(user.get('name'))
        if hashed and 'password' in user and same(user['password'], hashed):
            del user['password']
            user['password_hash'] = hashed
    return out


def check(resolved, key, force=False, now=None):
    """{'current': bool, 'proven': bool, 'reason': str}: whether ``resolved``'s output directory holds a finished
    build of fingerprint ``key`` whose bootstrap cache entry is unchanged and unexpired, whose artifacts still
    have their checksums and, when ``resolved`` wants a boot test, whose boot test passed (``proven``). A build
    not yet proven is built again: the boot test checks the image against this resolution (its UUIDs)."""
    old = stamp.read(stamp_path(resolved['output_dir']))
    reason = None
    if force:
        reason = 'a rebuild was asked for (force)'
    elif not old:
        reason = 'no finished build in the output directory'
    elif old.get('fingerprint') != key:
        reason = 'the request, the collection or a file it reads changed'
    else:
        reason = _bootstrap_change(old.get('bootstrap'), resolved['cache_dir'], now) or _artifact_change(old)
        if not reason and resolved['boot_test']['enabled'] and not old.get('proven'):
            reason = 'its boot test has not passed'
    return {'current': reason is None, 'proven': bool(reason is None and old.get('proven')),
            'reason': reason or 'up to date'}


def stamp_fact(resolved, force=False, indexes=None):
    """The fact ``osimage_stamp`` of a build: check()'s answer with its ``fingerprint``, its ``tree`` key (the
    customized-tree cache's, from tree_request; None when the request cannot use that cache) and its ``bootstrap``
    fingerprint (the bootstrap cache entry's). None for a retrofit (``resolved`` has ``retrofit``): its output is no
    stamped build, so it is never up to date and its boot test records nothing. ``indexes``: as
    repository_indexes."""
    if 'retrofit' in resolved:
        return None
    inputs = _inputs(resolved, indexes)
    key = stamp.fingerprint(inputs)
    early = tree_request(resolved)
    tree = stamp.fingerprint(dict(inputs, request=early)) if early is not None else None
    return dict(check(resolved, key, force=force), fingerprint=key, tree=tree,
                bootstrap=bootstrap.request_fingerprint(resolved))


def _bootstrap_change(entry, cache_dir, now=None):
    """Why the bootstrap cache entry a build used is no longer the one a new build would use; None if it is."""
    if not entry or not cache_dir:
        return 'the build used no bootstrap cache entry'
    cached = stamp.read(cached_tree_stamp(cache_dir, entry['fingerprint']))
    if not cached or cached.get('created') != entry['created']:
        return 'its bootstrap cache entry was replaced'
    if (now or time.time()) - cached['created'] >= TREE_CACHE_MAX_AGE:
        return 'its bootstrap cache entry expired (a new build bootstraps from the mirror again)'
    return None


def _artifact_change(old):
    for art in old.get('artifacts', []):
        if not os.path.isfile(art['path']) or stamp.sha256_file(art['path']) != art['sha256']:
            return '%s changed since it was built' % art['path']
    return None


def write(output_dir, key, secrets, bootstrap_entry, artifacts):
    """Record a finished build (mode 0600: the stamp holds the passwords' crypt hashes)."""
    data = {'fingerprint': key, 'secrets': secrets, 'bootstrap': bootstrap_entry, 'proven': False,
            'artifacts': [{'path': a['path'], 'sha256': a['sha256']} for a in artifacts]}
    old_umask = os.umask(0o077)
    try:
        stamp.write(stamp_path(output_dir), data)
    finally:
        os.umask(old_umask)


def mark_proven(output_dir, key):
    """Record that the build of fingerprint ``key`` passed its boot test; False when the stamp is another's."""
    data = stamp.read(stamp_path(output_dir))
    if not data or data.get('fingerprint') != key:
        return False
    data['proven'] = True
    old_umask = os.umask(0o077)
    try:
        stamp.write(stamp_path(output_dir), data)
    finally:
        os.umask(old_umask)
    return True


def remove(output_dir):
    """Forget the last build (a build that replaces the artifacts starts with this)."""
    try:
        os.unlink(stamp_path(output_dir))
    except FileNotFoundError:
        pass


def has_plain_passwords(request):
    """Whether ``request`` gives a password in plain text (root_password, a user's password)."""
    users = request.get('users') if isinstance(request, dict) and isinstance(request.get('users'), list) else []
    return isinstance(request, dict) and ('root_password' in request or
                                          any(isinstance(u, dict) and 'password' in u for u in users))
