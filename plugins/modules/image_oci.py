#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write an image's root tree as an OCI container image: an image layout and an oci-archive file."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: image_oci
short_description: Write a root tree as an OCI image layout and oci-archive, and check it
version_added: 0.2.0
description:
  - Makes one gzip layer of the root tree O(src) (GNU tar, POSIX format, numeric owners, extended attributes,
    sorted by name), without the kernel, its modules, initramfs and the boot loader's files unless
    O(kernel=true), and with the directories a container runtime mounts (C(/dev), C(/proc), C(/sys), C(/run))
    kept empty.
  - "The image is built with C(umoci) (an OCI image layout from a layer, no daemon and no storage driver): the
    config names O(architecture), C(os) linux, the command O(command) (C(Cmd); no C(Entrypoint), so
    C(podman run IMAGE other-command) replaces it) and the labels C(org.opencontainers.image.title) (O(name)),
    C(org.opencontainers.image.created) and O(labels). C(skopeo copy) then writes the oci-archive O(dest),
    whose image is tagged C(NAME:TAG) (what C(podman load) names it)."
  - "Checked before it is renamed into place: C(skopeo inspect) reads the archive back with the expected
    labels, architecture and os; the archive is read member by member: every blob's sha256 and size match
    its descriptor, the layer's uncompressed sha256 matches the config's C(diff_ids), the layer holds
    C(etc/os-release) and, unless O(kernel=true), nothing under C(boot/) or C(usr/lib/modules/)."
  - Written under temporary names and renamed into place when complete and checked, with C(DEST.sha256) beside
    the archive and, with O(layout), the image layout directory; a failed run leaves no partial artifact and
    never touches the previous one.
  - "Idempotent: the fingerprint of the inputs (the tree's entries, sizes, owners, modes and times, and every
    option but O(created)) is kept as the manifest annotation C(osimage.builder.inputs); nothing is done when
    O(dest), its checksum and O(layout) exist and the archive's fingerprint is the same."
author: osimage developers (@osimage)
options:
  src:
    description: The image's root tree.
    type: path
    required: true
  dest:
    description: The oci-archive file to write (by convention C(NAME.oci.tar)).
    type: path
    required: true
  layout:
    description: Also keep the OCI image layout directory here (by convention C(NAME.oci)); none when omitted.
    type: path
  name:
    description: The image's name (C(org.opencontainers.image.title), and the repository part of its tag).
    type: str
    required: true
  tag:
    description: The tag of the image in the archive and the layout, C(NAME:TAG).
    type: str
    default: latest
  architecture:
    description: The config's architecture, as OCI names it (the distro table's C(oci)).
    type: str
    choices: [amd64, arm64]
    required: true
  command:
    description:
      - "What the container starts (C(Cmd)): a shell by default. V([/sbin/init]) starts systemd as PID 1, which
        a runtime has to prepare for (C(podman run) does when the command is C(/sbin/init))."
    type: list
    elements: str
    default: [/bin/bash]
  kernel:
    description: Keep the kernel, C(/boot), the kernel modules and the boot loader's files in the layer.
    type: bool
    default: false
  labels:
    description: Further labels for the config (osimage's distro, release, arch and build id).
    type: dict
    default: {}
  created:
    description: The image's creation time, RFC 3339 in UTC; default now. Not part of the fingerprint.
    type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
requirements:
  - GNU tar, umoci and skopeo on the build host
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: The root tree as a container image that starts a shell
  osimage.builder.image_oci:
    src: /var/tmp/osimage/build1/root
    dest: /srv/images/debian.oci.tar
    layout: /srv/images/debian.oci
    name: debian
    architecture: amd64
    labels:
      osimage.builder.distro: debian
      osimage.builder.release: bookworm

- name: A container image that boots systemd, kernel kept
  osimage.builder.image_oci:
    src: /var/tmp/osimage/build1/root
    dest: /srv/images/debian-init.oci.tar
    name: debian-init
    architecture: amd64
    command: [/sbin/init]
    kernel: true
'''

RETURN = r'''
dest:
  description: The oci-archive.
  returned: always
  type: str
format:
  description: V(oci).
  returned: always
  type: str
layout:
  description: The image layout directory, when O(layout) is given.
  returned: when O(layout) is given
  type: str
reference:
  description: The image's tag in the archive and the layout, C(NAME:TAG).
  returned: always
  type: str
bytes:
  description: Size of the archive in bytes.
  returned: unless check mode
  type: int
sha256:
  description: sha256 of the archive.
  returned: unless check mode
  type: str
members:
  description: The archive's members in order.
  returned: when changed, unless check mode
  type: list
  elements: str
image:
  description: The image as read back from the archive (manifest and config digests, layer digest, size and
    diff_id, entries, labels, architecture, os, command).
  returned: when changed, unless check mode
  type: dict
seconds:
  description: Seconds writing and checking took.
  returned: when changed, unless check mode
  type: float
checks:
  description: The checks made on the written archive, each with C(name) and C(detail).
  returned: when changed, unless check mode
  type: list
  elements: dict
'''

import datetime
import gzip
import hashlib
import json
import os
import shutil
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import stamp
from ansible_collections.osimage.builder.plugins.module_utils.formats import OCI_KERNEL_PATHS, OCI_RUNTIME_PATHS
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

INPUTS = 'osimage.builder.inputs'
CHUNK = 4 * 1024 * 1024
KERNEL_PREFIXES = ('boot/', 'usr/lib/modules/')


def layer_argv(src, path, kernel):
    """GNU tar writing the root tree ``src`` as an uncompressed POSIX tar layer at ``path``."""
    excludes = OCI_RUNTIME_PATHS + (() if kernel else OCI_KERNEL_PATHS)
    return (['tar', '--create', '--format=posix', '--file', path, '--directory', src, '--numeric-owner',
             '--xattrs', '--xattrs-include=*', '--one-file-system', '--sort=name', '--anchored']
            + ['--exclude=%s' % p for p in excludes] + ['.'])


def labels_of(params, created):
    labels = {k: str(v) for k, v in params['labels'].items()}
    labels.update({'org.opencontainers.image.title': params['name'], 'org.opencontainers.image.created': created})
    return labels


def build_layout(runner, params, layout, layer, created, inputs):
    """An OCI image layout at ``layout`` holding one image, ``layer`` its only layer."""
    image = '%s:%s' % (layout, reference(params))
    runner.run(['umoci', 'init', '--layout', layout], what='umoci init')
    runner.run(['umoci', 'new', '--image', image], what='umoci new')
    runner.run(['umoci', 'raw', 'add-layer', '--image', image, '--history.created', created,
                '--history.created_by', 'osimage.builder.image_oci: the root tree', layer], what='umoci raw add-layer')
    argv = ['umoci', 'config', '--image', image, '--no-history', '--os', 'linux',
            '--architecture', params['architecture'], '--created', created, '--author', 'osimage',
            '--manifest.annotation', '%s=%s' % (INPUTS, inputs)]
    argv += ['--config.cmd=%s' % arg for arg in params['command']]
    argv += ['--config.label=%s=%s' % item for item in sorted(labels_of(params, created).items())]
    runner.run(argv, what='umoci config')
    runner.run(['umoci', 'gc', '--layout', layout], what='umoci gc')
    for dirpath, _dirs, files in os.walk(layout):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)


def reference(params):
    return '%s:%s' % (params['name'], params['tag'])


class _Hashing:
    """A read-only file object that hashes and counts what is read through it."""

    def __init__(self, raw):
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def read(self, size=-1):
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self):
        while self.read(CHUNK):
            pass


def _member(members, descriptor):
    algo, _sep, hexdigest = descriptor['digest'].partition(':')
    name = 'blobs/%s/%s' % (algo, hexdigest)
    if algo != 'sha256' or name not in members:
        raise ValueError('the archive has no blob %s' % descriptor['digest'])
    return members[name]


def _verify(descriptor, hashing):
    """Raise ValueError unless what ``hashing`` read is the blob ``descriptor`` names."""
    found = 'sha256:' + hashing.digest.hexdigest()
    if found != descriptor['digest'] or hashing.size != descriptor['size']:
        raise ValueError('blob %s holds %d bytes with sha256 %s; its descriptor says %d bytes'
                         % (descriptor['digest'], hashing.size, found, descriptor['size']))


def _json_blob(tar, members, descriptor):
    with tar.extractfile(_member(members, descriptor)) as f:
        hashing = _Hashing(f)
        data = hashing.read()
    _verify(descriptor, hashing)
    return json.loads(data)


def _layer_facts(tar, members, descriptor):
    """(sha256 of the uncompressed layer, its entry names), its blob verified, in one pass through gzip."""
    with tar.extractfile(_member(members, descriptor)) as raw:
        blob = _Hashing(raw)
        try:
            with gzip.GzipFile(fileobj=blob) as unzipped:
                unpacked = _Hashing(unzipped)
                with tarfile.open(fileobj=unpacked, mode='r|') as layer:
                    names = [m.name[2:] if m.name.startswith('./') else m.name for m in layer]
                unpacked.drain()
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise ValueError('layer %s is not a gzip tar: %s' % (descriptor['digest'], exc))
        blob.drain()
    _verify(descriptor, blob)
    return 'sha256:' + unpacked.digest.hexdigest(), names


def read_back(path):
    """Read an oci-archive holding one image; every digest and size is recomputed from the blobs.

    Returns the image's facts; raises ValueError naming what does not match.
    """
    with tarfile.open(path, 'r:') as tar:
        members = {m.name[2:] if m.name.startswith('./') else m.name: m for m in tar.getmembers()}
        if 'oci-layout' not in members or 'index.json' not in members:
            raise ValueError('no oci-layout or index.json among %s' % sorted(members))
        with tar.extractfile(members['oci-layout']) as f:
            version = json.load(f).get('imageLayoutVersion')
        with tar.extractfile(members['index.json']) as f:
            index = json.load(f)
        if len(index.get('manifests', [])) != 1:
            raise ValueError('the index names %d images, not one' % len(index.get('manifests', [])))
        descriptor = index['manifests'][0]
        manifest = _json_blob(tar, members, descriptor)
        config = _json_blob(tar, members, manifest['config'])
        diff_ids = config.get('rootfs', {}).get('diff_ids', [])
        if len(diff_ids) != len(manifest['layers']):
            raise ValueError('the manifest has %d layers, the config %d diff_ids' % (len(manifest['layers']), len(diff_ids)))
        layers = []
        for layer, diff_id in zip(manifest['layers'], diff_ids):
            if not layer['mediaType'].endswith('tar+gzip'):
                raise ValueError('layer %s is %s, not a gzip tar' % (layer['digest'], layer['mediaType']))
            found, names = _layer_facts(tar, members, layer)
            if found != diff_id:
                raise ValueError('layer %s unpacks to %s; the config says %s' % (layer['digest'], found, diff_id))
            layers.append({'digest': layer['digest'], 'size': layer['size'], 'diff_id': diff_id, 'names': names})
        order = [m.name for m in tar.getmembers()]
    settings = config.get('config', {})
    return {'layout_version': version, 'reference': descriptor.get('annotations', {}).get('org.opencontainers.image.ref.name'),
            'manifest': descriptor['digest'], 'annotations': manifest.get('annotations', {}),
            'config': manifest['config']['digest'], 'architecture': config.get('architecture'), 'os': config.get('os'),
            'labels': settings.get('Labels') or {}, 'cmd': settings.get('Cmd'), 'entrypoint': settings.get('Entrypoint'),
            'layers': layers, 'members': order}


def check(runner, params, path, labels, inputs):
    """Read the written archive back with skopeo and member by member; return (facts, checks) or raise ValueError."""
    _rc, out, _err = runner.run(['skopeo', 'inspect', '--config', 'oci-archive:%s' % path], what='skopeo inspect')
    inspected = json.loads(out)
    seen = inspected.get('config', {}).get('Labels') or {}
    if seen != labels or inspected.get('architecture') != params['architecture'] or inspected.get('os') != 'linux':
        raise ValueError('skopeo inspect reads labels %s, %s/%s; expected %s, linux/%s'
                         % (seen, inspected.get('os'), inspected.get('architecture'), labels, params['architecture']))
    checks = [{'name': 'skopeo inspect reads the config back',
               'detail': 'linux/%s, %d labels, Cmd %s'
                         % (params['architecture'], len(labels), inspected['config'].get('Cmd'))}]
    facts = read_back(path)
    if facts['reference'] != reference(params) or facts['annotations'].get(INPUTS) != inputs \
            or facts['cmd'] != params['command'] or facts['labels'] != labels:
        raise ValueError('the archive holds %s with Cmd %s; expected %s with Cmd %s'
                         % (facts['reference'], facts['cmd'], reference(params), params['command']))
    checks.append({'name': 'blob digests and sizes recomputed',
                   'detail': 'manifest, config and %d layer(s) match their descriptors; the layer matches its diff_id'
                             % len(facts['layers'])})
    names = [n for layer in facts['layers'] for n in layer['names']]
    if 'etc/os-release' not in names:
        raise ValueError('the layer has no etc/os-release among its %d entries' % len(names))
    kernel = [n for n in names if n.startswith(KERNEL_PREFIXES)]
    if kernel and not params['kernel']:
        raise ValueError('the layer holds the kernel or boot loader files %s, left out unless kernel is true' % kernel[:5])
    checks.append({'name': 'the layer holds the root tree', 'detail': '%d entries with etc/os-release, %s' % (
        len(names), 'kernel kept' if params['kernel'] else 'nothing under /boot or /usr/lib/modules')})
    return facts, checks


def archived_inputs(path):
    """The inputs fingerprint an archive was made from, or None."""
    try:
        with tarfile.open(path, 'r:') as tar:
            members = {m.name: m for m in tar.getmembers()}
            with tar.extractfile(members['index.json']) as f:
                digest = json.load(f)['manifests'][0]['digest'].split(':', 1)[1]
            with tar.extractfile(members['blobs/sha256/' + digest]) as f:
                return json.load(f).get('annotations', {}).get(INPUTS)
    except (OSError, KeyError, IndexError, ValueError, tarfile.TarError):
        return None


def up_to_date(params, dest, inputs):
    if not (os.path.isfile(dest) and os.path.isfile(dest + '.sha256')):
        return False
    if params['layout'] and not os.path.isfile(os.path.join(params['layout'], 'index.json')):
        return False
    return archived_inputs(dest) == inputs


def publish_layout(built, layout):
    """Rename the layout directory ``built`` into place at ``layout``; a previous one is removed only after."""
    old = '%s.old-%d' % (layout, os.getpid())
    if os.path.lexists(layout):
        os.rename(layout, old)
    try:
        os.rename(built, layout)
    except OSError:
        if os.path.lexists(old):
            os.rename(old, layout)
        raise
    if os.path.lexists(old):
        shutil.rmtree(old)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            layout=dict(type='path'),
            name=dict(type='str', required=True),
            tag=dict(type='str', default='latest'),
            architecture=dict(type='str', required=True, choices=['amd64', 'arm64']),
            command=dict(type='list', elements='str', default=['/bin/bash']),
            kernel=dict(type='bool', default=False),
            labels=dict(type='dict', default={}),
            created=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    dest = os.path.abspath(params['dest'])
    params['layout'] = params['layout'] and os.path.abspath(params['layout'])
    if not os.path.isdir(params['src']):
        module.fail_json(msg="src '%s' is not a directory" % params['src'])
    if not params['command'] or not params['command'][0].startswith('/'):
        module.fail_json(msg='command must start with an absolute path, such as /bin/bash or /sbin/init')
    inputs = stamp.fingerprint({'tree': stamp.tree_fingerprint(params['src']),
                                'options': {k: v for k, v in params.items() if k not in ('src', 'created')}})
    result = dict(dest=dest, format='oci', reference=reference(params))
    if params['layout']:
        result['layout'] = params['layout']
    if up_to_date(params, dest, inputs):
        module.exit_json(changed=False, bytes=os.path.getsize(dest), sha256=stamp.sha256_file(dest), **result)
    if module.check_mode:
        module.exit_json(changed=True, **result)

    runner = Runner(module)
    started = time.monotonic()
    created = params['created'] or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    labels = labels_of(params, created)
    work = atomic.temp_name(dest) + '.d'
    layout = params['layout'] and atomic.temp_name(params['layout'])
    built = layout or os.path.join(work, 'layout')
    try:
        with runner.artifact(dest) as tmp:
            os.makedirs(work)
            layer = os.path.join(work, 'layer.tar')
            runner.run(layer_argv(params['src'], layer, params['kernel']), what='tar of the root tree')
            build_layout(runner, params, built, layer, created, inputs)
            os.unlink(layer)
            runner.run(['skopeo', 'copy', '--quiet', 'oci:%s:%s' % (built, reference(params)),
                        'oci-archive:%s:%s' % (tmp, reference(params))], what='skopeo copy to the oci-archive')
            try:
                facts, checks = check(runner, params, tmp, labels, inputs)
            except (ValueError, KeyError, OSError, tarfile.TarError) as exc:
                module.fail_json(msg='the oci archive failed its check: %s' % exc)
            if layout:
                publish_layout(layout, params['layout'])
            digest = stamp.publish(tmp, dest)
    finally:
        for leftover in (work, layout):
            if leftover and os.path.lexists(leftover):
                shutil.rmtree(leftover)
    members = facts.pop('members')
    for layer in facts['layers']:
        layer['entries'] = len(layer.pop('names'))
    module.exit_json(changed=True, bytes=os.path.getsize(dest), sha256=digest, members=members, image=facts,
                     checks=checks, seconds=round(time.monotonic() - started, 1), **result)


if __name__ == '__main__':
    main()
