# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform profiles: the defaults one word (``platform: azure``) gives a request, read from data files.

Each profile is ``data/platforms/<name>.yml`` in the collection: ``description``, ``formats`` (used when
the request names none), ``packages`` (added to ``packages.install``), ``kernel_cmdline`` (added before the
request's own arguments), ``services`` (units the platform role enables in the image), ``disabled_services``
(added to the request's ``services.disabled``: units a package enables that should start only when their
device appears), ``cloud_init`` (the request's ``cloud_init`` when it has none: cloud-init with the
platform's datasource), ``agent_units`` (units the verify play expects to be installed) and ``arches``
(the architectures the platform runs, default amd64). Packages and units differ per family: a file names them
as a list (every family's) or as ``{debian: [...], el: [...], suse: [...]}``; kernel arguments may differ per
architecture (``{amd64: [...], arm64: [...]}``, such as the serial console); ``load`` gives them per family
and architecture and ``apply`` takes the request's. Runs on the controller only.
"""

from __future__ import annotations

import copy
import os

from ansible.module_utils.common.yaml import yaml_load
from ansible_collections.osimage.builder.plugins.module_utils import distros

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'data', 'platforms')
KEYS = ('description', 'formats', 'packages', 'kernel_cmdline', 'services', 'disabled_services', 'cloud_init',
        'agent_units', 'arches')
# The keys that name packages or units, which a profile gives per family.
FAMILY_KEYS = ('packages', 'services', 'disabled_services', 'agent_units')


def names():
    """The profiles there are, sorted."""
    try:
        return sorted(f[:-4] for f in os.listdir(DATA_DIR) if f.endswith('.yml'))
    except FileNotFoundError:
        return []


def load(name, family=None, arch=None):
    """The profile ``name`` with every key present: the packages and units of ``family``, or of each family
    as ``{family: [...]}`` when None; the kernel arguments of ``arch``, or of each as ``{arch: [...]}``."""
    with open(os.path.join(DATA_DIR, name + '.yml'), encoding='utf-8') as f:
        data = yaml_load(f) or {}
    defaults = {'description': '', 'cloud_init': {}, 'arches': ['amd64']}
    profile = {key: data.get(key, defaults.get(key, [])) for key in KEYS}
    for key in FAMILY_KEYS:
        profile[key] = distros.by_family(profile[key])
        if family:
            profile[key] = profile[key][family]
    if isinstance(profile['kernel_cmdline'], list):
        profile['kernel_cmdline'] = {a: list(profile['kernel_cmdline']) for a in profile['arches']}
    if arch:
        profile['kernel_cmdline'] = profile['kernel_cmdline'][arch]
    profile['name'] = name
    return profile


def _union(first, then):
    return list(first) + [item for item in then if item not in first]


def apply(request):
    """A copy of a valid request with its profile's defaults: the request's formats win, packages, kernel
    arguments and disabled services are the union (the profile's first; a unit the request enables stays
    enabled), the request's own cloud_init replaces the profile's, and the profile (with the packages and units
    of the request's distro's family) is kept as ``platform_profile``."""
    out = copy.deepcopy(request)
    if not out.get('platform'):
        return out
    profile = load(out['platform'], distros.family_of(out.get('distro', 'debian')), out.get('arch', 'amd64'))
    out.setdefault('formats', list(profile['formats']))
    packages = out.setdefault('packages', {})
    packages['install'] = _union(profile['packages'], packages.get('install', []))
    out['kernel_cmdline'] = _union(profile['kernel_cmdline'], out.get('kernel_cmdline', []))
    if profile['cloud_init']:
        out.setdefault('cloud_init', copy.deepcopy(profile['cloud_init']))
    if profile['disabled_services']:
        services = out.setdefault('services', {})
        enabled = services.get('enabled', [])
        services['disabled'] = _union([u for u in profile['disabled_services'] if u not in enabled],
                                      services.get('disabled', []))
    out['platform_profile'] = profile
    return out
