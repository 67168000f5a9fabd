# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build request's checks: ``validate`` names every bad key with what would be valid.

The schema's errors (with its hints), then the checks a schema cannot express: what the distro family and the
architecture allow (distros.py), the disk layout, the boot test, formats, secrets, repositories, location and
the customization keys. Each check guards its own types, so all run beside the schema's. Runs on the controller
only; nothing here touches the host.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import formats as fmts
from ansible_collections.osimage.builder.plugins.module_utils import layout
from ansible_collections.osimage.builder.plugins.module_utils import platforms
from ansible_collections.osimage.builder.plugins.module_utils import request_repositories as repositories
from ansible_collections.osimage.builder.plugins.module_utils import request_secrets as secrets
from ansible_collections.osimage.builder.plugins.module_utils.disk import LayoutError, parse_size
from ansible_collections.osimage.builder.plugins.module_utils.request_resolution import (
    DISK_FIRMWARES, load_presets, preset_names, request_facts)
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import (
    HOST_RE, PACKAGE_RE, RETROFIT_REFUSED, SCHEMA, RequestError, distro_keys)

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:
    HAS_JSONSCHEMA = False

SYSTEM_DIRS = ('/', '/etc', '/usr', '/var', '/root', '/home', '/boot')
MIN_DISK = 1024 ** 3
MAX_DISK = 2 * 1024 ** 4


def _key(path):
    key = ''
    for part in path:
        key += '[%d]' % part if isinstance(part, int) else ('.' if key else '') + str(part)
    return key or '(top level)'


def _schema_errors(request):
    errors = []
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for err in sorted(validator.iter_errors(request), key=lambda e: list(map(str, e.absolute_path))):
        key = _key(err.absolute_path)
        if err.validator == 'additionalProperties':
            known = sorted(err.schema.get('properties', {}))
            extra = sorted(set(err.instance) - set(known))
            for name in extra:
                errors.append((_key(list(err.absolute_path) + [name]),
                               'unknown key; valid keys here are: %s' % ', '.join(known)))
            continue
        if err.validator == 'required':
            errors.append((key, err.message.replace("is a required property", "is required")))
            continue
        value = err.instance
        shown = secrets.REDACTED if any(str(p) in secrets.SECRET_KEYS for p in err.absolute_path) else repr(value)
        if err.validator == 'enum' and isinstance(value, str) and value in err.schema.get('x-renamed', {}):
            errors.append((key, '%r %s' % (value, err.schema['x-renamed'][value])))
        elif err.validator == 'enum':
            errors.append((key, '%s is not valid; choose one of: %s'
                           % (shown, ', '.join(map(str, err.validator_value)))))
        elif 'x-hint' in err.schema:
            errors.append((key, '%s is not valid: expected %s' % (shown, err.schema['x-hint'])))
        elif shown == repr(value):
            errors.append((key, '%s is not valid: %s' % (shown, err.message.replace(repr(value) + ' ', '', 1))))
        else:
            errors.append((key, 'is not valid'))
    return errors


def _semantic_errors(request, cwd=None):
    """Checks a schema cannot express; each guards its own types, so it runs beside the schema's."""
    errors = _distro_errors(request)
    disk = request.get('disk')
    size = parse_size('3GiB')
    if isinstance(disk, dict) and isinstance(disk.get('size'), (str, int)) and not isinstance(disk['size'], bool):
        try:
            size = parse_size(disk['size'])
            if not MIN_DISK <= size <= MAX_DISK:
                errors.append(('disk.size', '%r is out of range: use 1GiB to 2TiB' % (disk['size'],)))
        except LayoutError as exc:
            errors.append(('disk.size', str(exc)))
            size = None
    facts = request_facts(request)
    disk = layout.for_arch(disk if isinstance(disk, dict) else {},
                           facts['machine'] if facts else distros.ARCHES[SCHEMA['properties']['arch']['default']])
    errors += layout.errors(disk, size)
    errors += secrets.errors(request)
    names = set()
    users = request.get('users') if isinstance(request.get('users'), list) else []
    for i, user in enumerate(u for u in users if isinstance(u, dict)):
        if user.get('name') in names or user.get('name') == 'root':
            errors.append(('users[%d].name' % i, "'%s' is given twice or is root" % user.get('name')))
        names.add(user.get('name'))
    errors += _boot_firmware_errors(request, disk)
    grow = (request.get('boot_test') or {}).get('grow') if isinstance(request.get('boot_test'), dict) else None
    if isinstance(grow, (str, int)) and not isinstance(grow, bool):
        try:
            if not 0 < parse_size(grow) <= MAX_DISK:
                errors.append(('boot_test.grow', '%r is out of range: use 1MiB to 2TiB' % (grow,)))
        except LayoutError as exc:
            errors.append(('boot_test.grow', str(exc)))
    tasks = (request.get('boot_test') or {}).get('verify_tasks') if isinstance(request.get('boot_test'), dict) else None
    if isinstance(tasks, str) and tasks.startswith('/') and not os.path.isfile(tasks):
        errors.append(('boot_test.verify_tasks', "'%s' does not exist" % tasks))
    errors += _format_errors(request)
    for key in ('output_dir', 'work_dir', 'cache_dir'):
        if isinstance(request.get(key), str) and os.path.normpath(request[key]) in SYSTEM_DIRS:
            errors.append((key, "'%s' is a system directory; use a directory of its own" % request[key]))
    errors += customization.semantic_errors(request, facts, cwd)
    return errors


def _distro_errors(request):
    """The release, arch, boot loader, bootstrap, mirror, package names and repository keys the family allows."""
    keys = distro_keys(request)
    if not all(isinstance(v, str) for v in keys) or keys[0] not in distros.DISTROS:
        return []  # the schema names a distro or arch of the wrong type or unknown
    try:
        facts = distros.facts(*keys)
    except distros.DistroError as exc:
        return [(exc.key, str(exc))]
    name = '%s %s' % (facts['distro'], facts['release'])
    errors = []
    disk = request.get('disk') if isinstance(request.get('disk'), dict) else {}
    bootloader = disk.get('bootloader', 'grub')
    if isinstance(bootloader, str) and bootloader in layout.BOOTLOADER_FIRMWARES:
        if bootloader not in facts['bootloaders']:
            errors.append(('disk.bootloader', "the %s family installs only %s; %s cannot use %s"
                           % (facts['family'], ', '.join(facts['bootloaders']), name, bootloader)))
        elif bootloader == 'systemd-boot' and not facts.get('ukify'):
            errors.append(('disk.bootloader', 'systemd-boot with a Unified Kernel Image needs ukify, which %s does '
                                              'not ship: use a release that does (such as trixie) or grub' % name))
    boot = request.get('bootstrap') if isinstance(request.get('bootstrap'), dict) else {}
    tools = facts['bootstrap']['tools']
    if isinstance(boot.get('tool'), str) and boot['tool'] not in tools:
        errors.append(('bootstrap.tool', "%s is bootstrapped with %s, not %s" % (name, ' or '.join(tools), boot['tool'])))
    if 'variant' in boot and not facts['bootstrap'].get('variants'):
        takers = [t for f in distros.FAMILIES.values() if f['bootstrap'].get('variants') for t in f['bootstrap']['tools']]
        errors.append(('bootstrap.variant', 'a package selection variant is for %s bootstraps; remove it (%s starts '
                                            'from its base packages)' % (' and '.join(takers), name)))
    if facts['mirror'] is None and not request.get('mirror') and not (request.get('location') or {}).get('mirror'):
        errors.append(('mirror', '%s has no public mirror: set mirror to your installation media or RMT server '
                                 '(registration stays yours)' % facts['distro']))
    location = request.get('location') if isinstance(request.get('location'), dict) else {}
    if location.get('mirror_snapshot') is True and not facts.get('snapshot_config'):
        errors.append(('location.mirror_snapshot', "%s's indexes (%s) carry no expiry date to pass over: remove "
                                                   "location.mirror_snapshot" % (name, facts['package_manager'])))
    security = request.get('security') if isinstance(request.get('security'), dict) else {}
    if security.get('apparmor') is not None and facts['mac'] != 'apparmor':
        errors.append(('security.apparmor', '%s uses %s, not AppArmor: remove security.apparmor' % (name, facts['mac'])))
    packages = request.get('packages') if isinstance(request.get('packages'), dict) else {}
    for verb in ('install', 'remove'):
        items = packages.get(verb) if isinstance(packages.get(verb), list) else []
        for i, pkg in enumerate(items):
            if isinstance(pkg, str) and re.match(PACKAGE_RE, pkg) and not re.match(facts['package_name'], pkg):
                errors.append(('packages.%s[%d]' % (verb, i), '%r is not valid: expected %s'
                               % (pkg, facts['package_hint'])))
    repos = request.get('repositories') if isinstance(request.get('repositories'), list) else []
    errors += repositories.family_key_errors(repos, facts)
    return errors + _arch_errors(request, facts)


def _arch_errors(request, facts):
    """The firmware, boot loader, Secure Boot, formats and platform the architecture (distros.ARCHES) allows."""
    machine, arch, errors = facts['machine'], facts['arch'], []
    disk = request.get('disk') if isinstance(request.get('disk'), dict) else {}
    firmware, bootloader = disk.get('firmware'), disk.get('bootloader')
    if isinstance(firmware, str) and firmware in DISK_FIRMWARES and firmware not in machine['firmwares']:
        errors.append(('disk.firmware', "%s boots with %s firmware only, not %s: set disk.firmware to %s (or leave "
                                        "it out)" % (arch, ' or '.join(machine['firmwares']), firmware,
                                                     machine['firmwares'][0])))
    if isinstance(bootloader, str) and bootloader in layout.BOOTLOADER_FIRMWARES \
            and bootloader not in machine['bootloaders']:
        errors.append(('disk.bootloader', "%s cannot boot %s; choose one of: %s"
                       % (bootloader, arch, ', '.join(machine['bootloaders']))))
    if disk.get('secure_boot') is True and not machine['secure_boot']:
        errors.append(('disk.secure_boot', 'Secure Boot is not supported for %s yet (no signed boot of it is '
                                           'proven here); set disk.secure_boot to false' % arch))
    wanted = request.get('formats') if isinstance(request.get('formats'), list) else []
    for fmt in [f for f in wanted if isinstance(f, str) and f in machine['refused_formats']]:
        errors.append(('formats', "'%s' cannot be made for %s: %s" % (fmt, arch, machine['refused_formats'][fmt])))
    if request.get('platform') in platforms.names():
        made_for = platforms.load(request['platform'])['arches']
        if arch not in made_for:
            errors.append(('platform', 'the %s profile is made for %s, not %s (its consoles and agents); remove '
                                       'platform or choose one made for %s (osimage platforms)'
                           % (request['platform'], ', '.join(made_for), arch, arch)))
    return errors


def _format_errors(request):
    """Formats that cannot be made or proved as asked."""
    errors = []
    profile = platforms.load(request['platform']) if request.get('platform') in platforms.names() else {}
    wanted = request.get('formats', profile.get('formats', ['qcow2']))
    wanted = [f for f in wanted if isinstance(f, str)] if isinstance(wanted, list) else []
    boot_test = request.get('boot_test') if isinstance(request.get('boot_test'), dict) else {}
    if wanted and all(f in fmts.FORMATS for f in wanted) and boot_test.get('enabled', True) is not False \
            and not any(fmts.FORMATS.get(f, {}).get('boots') for f in wanted):
        errors.append(('formats', 'none of %s can be booted to prove it (tar and oci are root trees, not disks); '
                                  'add a disk format such as qcow2 or set boot_test.enabled: false' % ', '.join(wanted)))
    errors += fmts.oci_errors(request, wanted)
    disk = request.get('disk') if isinstance(request.get('disk'), dict) else {}
    if 'vhd' in wanted and isinstance(disk.get('size'), (str, int)) and not isinstance(disk['size'], bool):
        try:
            if parse_size(disk['size']) % fmts.MIB:
                errors.append(('disk.size', '%r is not a whole number of MiB, which a fixed VHD (Azure) needs; '
                                            'use a size such as 4GiB' % (disk['size'],)))
        except LayoutError:
            pass
    return errors


def _boot_firmware_errors(request, disk):
    boot = request.get('boot_test') if isinstance(request.get('boot_test'), dict) else {}
    wanted, disk_fw = boot.get('firmware', 'auto'), layout.firmware_of(disk)
    if not isinstance(disk_fw, str) or disk_fw not in DISK_FIRMWARES or wanted == 'auto':
        return []
    capable = DISK_FIRMWARES[disk_fw]
    if (wanted == 'both' and len(capable) < 2) or (wanted in ('bios', 'uefi') and wanted not in capable):
        return [('boot_test.firmware', "'%s' cannot boot a disk made for %s firmware; use auto or %s"
                 % (wanted, disk_fw, ' or '.join(capable)))]
    return []


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _location_errors(request):
    errors = []
    location = request.get('location')
    if not isinstance(location, dict):
        return errors
    for i, server in enumerate(location.get('dns') if isinstance(location.get('dns'), list) else []):
        if isinstance(server, str) and not _is_ip(server):
            errors.append(('location.dns[%d]' % i, "'%s' is not an IPv4 or IPv6 address" % server))
    for i, server in enumerate(location.get('ntp') if isinstance(location.get('ntp'), list) else []):
        if isinstance(server, str) and not (_is_ip(server) or re.match(HOST_RE, server)):
            errors.append(('location.ntp[%d]' % i, "'%s' is not a host name or an IP address" % server))
    mirror = request.get('mirror')
    if isinstance(mirror, str) and isinstance(location.get('mirror'), str) and mirror != location['mirror']:
        errors.append(('location.mirror', 'give mirror or location.mirror, not two different ones'))
    path = location.get('mirror_key_file')
    if isinstance(path, str) and path:
        problem = repositories.key_file_error(path)
        if problem:
            errors.append(('location.mirror_key_file', problem))
    return errors


def _customization_errors(request):
    """Semantic checks of preset, repositories and location."""
    errors = []
    preset = request.get('preset')
    if isinstance(preset, (str, list)) and all(isinstance(p, str) for p in preset_names(request)):
        known = load_presets()
        for name in preset_names(request):
            if name not in known:
                errors.append(('preset', "'%s' is not a preset; choose from: %s" % (name, ', '.join(known))))
    if isinstance(request.get('repositories'), list):
        errors += repositories.errors(request['repositories'])
    return errors + _location_errors(request)


def retrofit_errors(request):
    """The keys of ``request`` that an existing image decides (request_schema.RETROFIT_REFUSED), each with why."""
    errors = []
    for key, why in RETROFIT_REFUSED.items():
        path, _sep, value = key.partition('[')
        here = request
        for part in path.split('.'):
            here = here.get(part) if isinstance(here, dict) else None
        if value and isinstance(here, list) and value.rstrip(']') in here:
            errors.append((path, why))
        elif not value and here is not None:
            errors.append((key, why))
    return errors


def validate(request, cwd=None, retrofit=False):
    """Raise RequestError naming every bad key; return None when the request is valid.

    Paths on the controller (``files``, ``tasks``) are relative to ``cwd`` (default: the current directory).
    With ``retrofit``, the keys an existing image decides are refused first, alone, before anything else is judged.
    """
    if retrofit and isinstance(request, dict) and retrofit_errors(request):
        raise RequestError(retrofit_errors(request))
    if not HAS_JSONSCHEMA:
        raise RequestError([('(top level)', 'the jsonschema Python library is required on the controller')])
    if not isinstance(request, dict):
        raise RequestError([('(top level)', 'a request is a mapping of keys to values, not %s'
                             % type(request).__name__)])
    errors = _schema_errors(request)
    seen = {key for key, _msg in errors}
    errors += [e for e in _semantic_errors(request, cwd) + _customization_errors(request) if e[0] not in seen]
    if errors:
        raise RequestError(errors)
