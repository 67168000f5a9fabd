# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A valid request turned into the fully specified build, once; every later step reads what it gives.

``resolve_valid`` fills the defaults, the distro table's facts for the release and arch (``os``) and whether this
host emulates that arch (``foreign``), presets, repositories, the partition layout with UUIDs derived from the
build id, absolute directories, the outputs and the boot test's firmwares. ``request_facts`` gives the table's
entry for a request not yet validated. Runs on the controller only.
"""

from __future__ import annotations

import os
import re
import uuid

from ansible_collections.osimage.builder.plugins.module_utils import binfmt
from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import formats as fmts
from ansible_collections.osimage.builder.plugins.module_utils import layout
from ansible_collections.osimage.builder.plugins.module_utils import platforms
from ansible_collections.osimage.builder.plugins.module_utils import request_repositories as repositories
from ansible_collections.osimage.builder.plugins.module_utils.disk import parse_size
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import (
    SCHEMA, RequestError, apply_defaults, distro_keys)
from ansible_collections.osimage.builder.plugins.module_utils.request_secrets import hash_secrets

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

PRESETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'data', 'presets')
# The firmwares a disk boots with, by its disk.firmware.
DISK_FIRMWARES = {'bios': ['bios'], 'uefi': ['uefi'], 'hybrid': ['bios', 'uefi']}


def request_facts(request):
    """The merged distro table entry of a request's distro, release and arch; None when they are not valid."""
    try:
        return distros.facts(*distro_keys(request))
    except (distros.DistroError, TypeError):
        return None


def load_presets(directory=PRESETS_DIR):
    """{name: {description, packages, services}} from the collection's data/presets/<name>.yml files, packages
    and services as ``{family: [...]}`` (a file gives a list for every family, or a list per family)."""
    if not HAS_YAML:
        raise RequestError([('preset', 'the PyYAML Python library is required to read presets')])
    presets = {}
    for entry in sorted(os.listdir(directory)):
        if entry.endswith('.yml'):
            with open(os.path.join(directory, entry), encoding='utf-8') as f:
                data = yaml.safe_load(f) or {}
            presets[entry[:-len('.yml')]] = {'description': data.get('description', ''),
                                             'packages': distros.by_family(data.get('packages')),
                                             'services': distros.by_family(data.get('services'))}
    return presets


def preset_names(request):
    """The request's presets as a list of names."""
    value = request.get('preset', [])
    return [value] if isinstance(value, str) else list(value)


def _unique(items):
    return list(dict.fromkeys(items))


def resolve_customization(req):
    """Expand presets into packages (and ``preset_services``), add what location needs, fill repositories."""
    presets = load_presets()
    names = _unique(preset_names(req))
    family = req['family']
    wanted = [p for n in names for p in presets[n]['packages'][family]] + req['packages']['install']
    if req['location']['ntp']:
        wanted += distros.packages(req['os'], ['ntp'])
    req['preset'] = names
    req['preset_services'] = [s for s in _unique(s for n in names for s in presets[n]['services'][family])
                              if s.split('.')[0] not in req['packages']['remove']]
    req['packages']['install'] = [p for p in _unique(wanted) if p not in req['packages']['remove']]
    repositories.resolve(req['repositories'], req['os'], req['release'])
    return req


def outputs(req):
    """The files a build writes, in the order it makes them, each with what it is made from.

    Disk formats come from the raw disk; then the archives: an OVA from the streamOptimized vmdk (made in
    the build directory only, ``keep`` false, when vmdk itself is not requested), the GCE tarball from
    the raw disk, the tar from the root tree.
    """
    wanted, build_dir = list(req['formats']), req['build_dir']
    raw = os.path.join(build_dir, 'disk.raw')
    made = [f for f in fmts.DISK_FORMATS if f in wanted] + [f for f in fmts.ARCHIVE_FORMATS if f in wanted]
    out = [{'format': f, 'path': os.path.join(req['output_dir'], fmts.file_name(req['name'], f)), 'keep': True}
           for f in made]
    if 'ova' in wanted and 'vmdk' not in wanted:
        out.insert(0, {'format': 'vmdk', 'path': os.path.join(build_dir, 'ova-disk.vmdk'), 'keep': False})
    vmdk = [o['path'] for o in out if o['format'] == 'vmdk']
    for item in out:
        item['src'] = {'ova': vmdk and vmdk[0], 'tar': os.path.join(build_dir, 'root'),
                       'oci': os.path.join(build_dir, 'root'),
                       'iso': os.path.join(build_dir, 'root')}.get(item['format'], raw)
    return out


def boot_firmwares(req):
    """The firmwares the boot test uses for a resolved request, in order; the first one is verified."""
    capable = DISK_FIRMWARES[layout.firmware_of(req['disk'])]
    wanted = req['boot_test']['firmware']
    chosen = capable if wanted in ('auto', 'both') else [wanted]
    uefi = 'uefi_secure' if req['disk'].get('secure_boot') else 'uefi'
    return [uefi if fw == 'uefi' else fw for fw in chosen]


def resolve_valid(request, cwd, build_id=None, uuid_seed=None):
    """The fully specified build for a request ``request_validation.validate`` accepted, paths anchored at
    ``cwd``; the file system UUIDs derive from ``uuid_seed``, else from ``build_id`` (drawn when not given)."""
    req = apply_defaults(SCHEMA, platforms.apply(hash_secrets(request)))
    build_id = build_id or uuid.uuid4().hex[:12]
    if not re.match(r'^[a-z0-9]{4,32}$', build_id):
        raise RequestError([('osimage_build_id', "'%s' is not 4 to 32 lower-case letters and digits" % build_id)])
    req.setdefault('name', '%s-%s' % (req['distro'], req['release']))
    req['mirror'] = req['location'].get('mirror') or req.get('mirror') or distros.DISTROS[req['distro']]['mirror']
    req['location']['mirror'] = req['mirror']
    # The distro table resolved for this release, arch and mirror: every later step reads it from here.
    req['os'] = distros.resolve(req['distro'], req['release'], req['arch'], req['mirror'],
                                security_mirror=req['location'].get('security_mirror'),
                                mirror_key=req['location'].get('mirror_key_file'))
    trusted = repositories.mirror_key(req['location'].get('mirror_key_file'), req['os'])
    if trusted:
        req['os']['mirror_key'] = trusted
    # Whether this host runs the image's programs through qemu-user (build.yml's binfmt entry), decided once here.
    req['foreign'] = binfmt.foreign(req['os']['machine']['machine'])
    req['family'] = req['os']['family']
    req['version'] = req['os']['version']
    req['bootstrap'].setdefault('tool', req['os']['bootstrap']['tools'][0])
    if req['os']['bootstrap'].get('variants'):
        req['bootstrap'].setdefault('variant', req['os']['bootstrap']['variants'][0])
    req = resolve_customization(req)
    if req['slim']:
        req['slim_tree'] = distros.slim(req['os'], req['locale'])
    req.setdefault('output_dir', os.path.join('output', req['name']))
    for key in ('output_dir', 'work_dir', 'cache_dir'):
        req[key] = os.path.normpath(os.path.join(cwd, req[key]))
    req['disk'] = layout.for_arch(req['disk'], req['os']['machine'])
    req['disk']['size_bytes'] = parse_size(req['disk']['size'])
    req['disk']['uuid_seed'] = uuid_seed or build_id
    layout.resolve(req['disk'], req['disk']['uuid_seed'])
    req['disk']['packages'] = distros.packages(req['os'], req['disk'].pop('needs'))
    req['boot_test']['firmwares'] = boot_firmwares(req)
    if 'grow' in req['boot_test']:
        req['boot_test']['grow_bytes'] = parse_size(req['boot_test']['grow'])
    req['build_id'] = build_id
    req['build_dir'] = os.path.join(req['work_dir'], build_id)
    req['outputs'] = outputs(req)
    if 'iso' in req['formats']:
        req['packages']['install'] += [p for p in distros.packages(req['os'], ['live'])
                                       if p not in req['packages']['install']]
    # The boot test starts the first requested format that boots (the request's order decides); a disk
    # before the live ISO, which is proven alone, to its login prompt, with SeaBIOS and OVMF.
    boots = [f for f in req['formats'] if fmts.FORMATS[f]['boots'] and f != 'iso'] or \
        [f for f in req['formats'] if f == 'iso']
    req['boot_image'] = os.path.join(req['output_dir'], fmts.file_name(req['name'], boots[0])) if boots else None
    if boots == ['iso']:
        req['boot_test'].update(verify=False, firmwares=['bios', 'uefi'])
    req = customization.resolve(req, cwd)
    req['bootstrap']['args'] = bootstrap.request_args(req)
    return req
