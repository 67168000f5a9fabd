# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build request: one schema for the driver, the playbook's extra vars and an AWX survey.

``validate`` names every bad key with what would be valid; ``resolve`` turns a valid request into
the fully specified build (defaults, partition layout with UUIDs, absolute directories, passwords
hashed). Runs on the controller only; nothing here touches the host.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import os
import re
import uuid
from collections.abc import Mapping
from urllib.parse import urlparse

from ansible_collections.osimage.builder.plugins.module_utils import layout
from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils.disk import LayoutError, parse_size
from ansible_collections.osimage.builder.plugins.module_utils import formats as fmts
from ansible_collections.osimage.builder.plugins.module_utils import platforms

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:
    HAS_JSONSCHEMA = False

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

try:
    from passlib.hash import sha512_crypt
    HAS_PASSLIB = True
except ImportError:
    HAS_PASSLIB = False

# Keys the controller may add to extra vars that are not request keys.
INTERNAL_PREFIXES = ('ansible_', 'osimage_', 'awx_', 'tower_', 'molecule_')
SECRET_KEYS = ('root_password', 'password')
REDACTED = '********'

# Any family's package names; each family's own rule (distros.FAMILIES) is checked beside the schema.
PACKAGE_RE = r'^[A-Za-z0-9][A-Za-z0-9_+.-]*$'
USER_RE = r'^[a-z_][a-z0-9_-]{0,31}$'
HOST_RE = r'^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$'
URL_RE = r'^(https?|file)://[^\s;|&`$\'"]+$'
PROXY_RE = r'^https?://([^\s/@:]+(:[^\s/@]*)?@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$'
SUITE_RE = r'^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*$'
ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----'
ARMOR_END = '-----END PGP PUBLIC KEY BLOCK-----'
RESERVED_REPOSITORY_NAMES = tuple(distros.DISTROS) + ('debian-security',)
PRESETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'data', 'presets')
SIZE_SCHEMA = {'type': ['string', 'integer'], 'x-hint': 'a size such as 4GiB or 512MiB'}
SYSTEM_DIRS = ('/', '/etc', '/usr', '/var', '/root', '/home', '/boot')
MIN_DISK = 1024 ** 3
MAX_DISK = 2 * 1024 ** 4


def _list(item, hint, **extra):
    """An array schema; items without a hint of their own get the list's."""
    if 'x-hint' not in item and 'enum' not in item and item.get('type') != 'object':
        item = dict(item, **{'x-hint': 'items of ' + hint})
    return dict({'type': 'array', 'items': item, 'x-hint': hint}, **extra)


NAME_RE = r'^[A-Za-z0-9][A-Za-z0-9_-]{0,35}$'
MOUNT_RE = r'^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$'
PART_SIZE_SCHEMA = {'type': ['string', 'integer'], 'x-hint': 'a size such as 512MiB or 2GiB, or rest'}
OPTIONS_SCHEMA = _list({'type': 'string', 'pattern': r'^[A-Za-z0-9_.=,:@/+-]+$'},
                       'a list of mount options such as noatime or compress=zstd')
SUBVOLUME_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['name'],
    'properties': {
        'name': {'type': 'string', 'pattern': r'^@?[A-Za-z0-9_-]{1,32}$',
                 'x-hint': 'a subvolume name such as @home'},
        'mountpoint': {'type': 'string', 'pattern': MOUNT_RE, 'x-hint': 'an absolute path such as /home'},
        'options': OPTIONS_SCHEMA,
    },
}


def _fs_schema(filesystems, extra):
    """A partition's or logical volume's schema: a sized file system with a mount point."""
    props = {
        'name': {'type': 'string', 'pattern': NAME_RE, 'x-hint': 'a name of letters, digits, _ and -'},
        'size': PART_SIZE_SCHEMA,
        'filesystem': {'enum': filesystems},
        'mountpoint': {'type': 'string', 'pattern': MOUNT_RE, 'x-hint': 'an absolute path such as /var'},
        'label': {'type': 'string', 'pattern': r'^[A-Za-z0-9_-]{1,11}$',
                  'x-hint': 'a label of up to 11 letters, digits, _ and -'},
        'options': OPTIONS_SCHEMA,
        'subvolumes': _list(SUBVOLUME_SCHEMA, 'a list of btrfs subvolumes, each with a name'),
    }
    props.update(extra)
    return {'type': 'object', 'additionalProperties': False, 'required': ['size', 'filesystem'],
            'properties': props}


PARTITION_SCHEMA = _fs_schema(['ext4', 'xfs', 'btrfs', 'vfat', 'swap', 'lvm'], {})
VOLUME_SCHEMA = _fs_schema(['ext4', 'xfs', 'btrfs', 'swap'], {})
VOLUME_SCHEMA['required'] = ['name', 'size', 'filesystem']

USER_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'required': ['name'],
    'properties': {
        'name': {'type': 'string', 'pattern': USER_RE,
                 'x-hint': 'a user name of lower-case letters, digits, _ and -, starting with a letter or _'},
        'uid': {'type': 'integer', 'minimum': 1000, 'maximum': 60000, 'x-hint': 'a uid from 1000 to 60000'},
        'password': {'type': 'string', 'minLength': 1, 'x-hint': 'a plain-text password (use Ansible Vault)'},
        'password_hash': {'type': 'string', 'pattern': r'^\$[0-9a-z]+\$', 'x-hint': 'a crypt(3) hash such as $6$...'},
        'ssh_authorized_keys': _list({'type': 'string', 'pattern': r'^(ssh|ecdsa|sk)-[a-z0-9@.-]+ [A-Za-z0-9+/=]+'},
                                     'a list of OpenSSH public keys', default=[]),
        'sudo': {'type': 'boolean', 'default': False},
        'groups': _list({'type': 'string', 'pattern': USER_RE}, 'a list of group names', default=[]),
        'shell': {'type': 'string', 'pattern': r'^/[A-Za-z0-9/._-]+$', 'default': '/bin/bash',
                  'x-hint': 'an absolute path such as /bin/bash'},
    },
}

REPOSITORY_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'required': ['name', 'uri'],
    'properties': {
        'name': {'type': 'string', 'pattern': r'^[a-z0-9][a-z0-9_-]{0,62}$',
                 'x-hint': 'a name of lower-case letters, digits, _ and - (it names the .sources and key files)'},
        'uri': {'type': 'string', 'pattern': URL_RE, 'x-hint': 'an http://, https:// or file:// URL'},
        'suites': _list({'type': 'string', 'pattern': SUITE_RE}, 'a list of suites such as bookworm or stable',
                        minItems=1),
        'components': _list({'type': 'string', 'pattern': r'^[A-Za-z0-9][A-Za-z0-9._-]*$'},
                            'a list of components such as main', minItems=1, default=['main']),
        'key': {'type': 'string', 'pattern': r'^\s*' + ARMOR_BEGIN,
                'x-hint': 'an ASCII-armored OpenPGP public key block (%s ...)' % ARMOR_BEGIN},
        'key_file': {'type': 'string', 'minLength': 1,
                     'x-hint': 'the path of an OpenPGP public key file, armored or binary'},
        'priority': {'type': 'integer', 'minimum': -1, 'maximum': 1000,
                     'x-hint': 'an apt pin priority from -1 to 1000 (990 prefers this repository)'},
        'pin_packages': _list({'type': 'string', 'pattern': r'^[a-z0-9*][a-z0-9+.*-]*$'},
                              'a list of package names (or globs) the priority applies to', minItems=1),
    },
}

# Repository keys only some families take (distros.FAMILIES[...]['repository_keys']).
REPOSITORY_FAMILY_KEYS = ('suites', 'components', 'priority', 'pin_packages')

LOCATION_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'default': {},
    'properties': {
        'mirror': {'type': 'string', 'pattern': URL_RE, 'x-hint': 'an http://, https:// or file:// URL'},
        'security_mirror': {'type': 'string', 'pattern': URL_RE,
                            'x-hint': "an http://, https:// or file:// URL of the release's security suite"},
        'mirror_key_file': {'type': 'string', 'minLength': 1,
                            'x-hint': "the path of the OpenPGP public key that signs the mirror (default: the "
                                      "distro's archive key)"},
        'proxy': {'type': 'string', 'pattern': PROXY_RE,
                  'x-hint': 'an http:// proxy URL such as http://proxy.example:3128 (used during the build only)'},
        'dns': _list({'type': 'string'}, 'a list of IPv4 or IPv6 addresses', default=[], uniqueItems=True),
        'ntp': _list({'type': 'string'}, 'a list of NTP server host names or IP addresses', default=[],
                     uniqueItems=True),
    },
}

SCHEMA = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    'title': 'osimage build request',
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'name': {'type': 'string', 'pattern': r'^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
                 'x-hint': 'a file name of letters, digits, ., _ and - (no slashes)'},
        'distro': {'enum': list(distros.DISTROS), 'default': 'debian'},
        'release': {'type': 'string', 'default': 'bookworm', 'x-hint': "a release of the distro (osimage distros)"},
        'arch': {'enum': list(distros.ARCHES), 'default': 'amd64'},
        'mirror': {'type': 'string', 'pattern': r'^(https?|file)://[^\s]+$',
                   'x-hint': 'an http://, https:// or file:// URL'},
        'bootstrap': {
            'type': 'object', 'additionalProperties': False, 'default': {},
            'properties': {
                'tool': {'enum': sorted({t for f in distros.FAMILIES.values() for t in f['bootstrap']['tools']}),
                         'x-hint': "the family's bootstrap tool (default: its first, such as mmdebstrap or dnf)"},
                'variant': {'enum': ['apt', 'minbase', 'required', 'important', 'standard'],
                            'x-hint': 'the Debian package selection to start from (default apt)'},
            },
        },
        'extends': {'type': ['string', 'array'], 'items': {'type': 'string', 'minLength': 1}, 'minLength': 1,
                    'x-hint': 'a request file or a list of them, relative to the file that names them'},
        'append': _list({'type': 'string', 'pattern': r'^[a-z_]+(\.[a-z_]+)*$'},
                        'a list of dotted key paths of lists that add to the base request, such as packages.install'),
        'preset': {'type': ['string', 'array'], 'items': {'type': 'string'},
                   'x-hint': 'a preset name or a list of them (osimage presets lists them)'},
        'repositories': _list(REPOSITORY_SCHEMA, 'a list of apt repositories, each with a name, uri and key',
                              default=[]),
        'location': LOCATION_SCHEMA,
        'packages': {
            'type': 'object', 'additionalProperties': False, 'default': {},
            'properties': {
                'install': _list({'type': 'string', 'pattern': PACKAGE_RE}, 'a list of package names', default=[]),
                'remove': _list({'type': 'string', 'pattern': PACKAGE_RE}, 'a list of package names', default=[]),
            },
        },
        'hostname': {'type': 'string', 'pattern': HOST_RE, 'default': 'localhost',
                     'x-hint': 'a host name of letters, digits and hyphens'},
        'root_password': {'type': 'string', 'minLength': 1, 'x-hint': 'a plain-text password (use Ansible Vault)'},
        'root_password_hash': {'type': 'string', 'pattern': r'^\$[0-9a-z]+\$', 'x-hint': 'a crypt(3) hash such as $6$...'},
        'users': _list(USER_SCHEMA, 'a list of users, each with at least a name', default=[]),
        'kernel_cmdline': _list({'type': 'string', 'pattern': r'^[^\s;|&`$]+$'},
                                'a list of kernel arguments without spaces', default=[]),
        'serial_console': {'type': 'boolean', 'default': True},
        'disk': {
            'type': 'object', 'additionalProperties': False, 'default': {},
            'properties': {
                'size': dict(SIZE_SCHEMA, default='3GiB'),
                'table': {'enum': ['gpt', 'mbr'], 'default': 'gpt'},
                'firmware': {'enum': ['bios', 'uefi', 'hybrid'],
                             'x-hint': 'bios, uefi or hybrid (the default on gpt; bios on mbr)'},
                'secure_boot': {'type': 'boolean', 'default': False},
                'bootloader': {'enum': ['grub', 'systemd-boot', 'extlinux'], 'default': 'grub'},
                'grow': {'type': 'boolean', 'default': True},
                'partitions': _list(PARTITION_SCHEMA, 'a list of partitions, each with a size and a filesystem',
                                    minItems=1),
                'lvm': {
                    'type': 'object', 'additionalProperties': False, 'required': ['volumes'],
                    'properties': {
                        'vg': {'type': 'string', 'pattern': NAME_RE, 'default': 'vg0',
                               'x-hint': 'a volume group name of letters, digits, _ and -'},
                        'volumes': _list(VOLUME_SCHEMA, 'a list of logical volumes, each with a name, size and '
                                                        'filesystem', minItems=1),
                    },
                },
            },
        },
        'formats': _list({'enum': list(fmts.FORMATS), 'x-renamed': fmts.RENAMED},
                         'a list of formats: ' + ', '.join(fmts.FORMATS),
                         minItems=1, uniqueItems=True, default=['qcow2']),
        'compress': {'type': 'boolean', 'default': False},
        'oci': fmts.OCI_SCHEMA,
        'platform': {'enum': platforms.names()},
        'output_dir': {'type': 'string', 'minLength': 1},
        'work_dir': {'type': 'string', 'minLength': 1, 'default': '/var/tmp/osimage'},
        'cache_dir': {'type': 'string', 'minLength': 1, 'default': '/var/cache/osimage'},
        'boot_test': {
            'type': 'object', 'additionalProperties': False, 'default': {},
            'properties': {
                'enabled': {'type': 'boolean', 'default': True},
                'timeout': {'type': 'integer', 'minimum': 10, 'maximum': 7200, 'default': 300,
                            'x-hint': 'seconds from 10 to 7200'},
                'accel': {'enum': ['auto', 'kvm', 'tcg'], 'default': 'auto'},
                'memory_mib': {'type': 'integer', 'minimum': 256, 'maximum': 65536, 'default': 1024},
                'vcpus': {'type': 'integer', 'minimum': 1, 'maximum': 64, 'default': 2},
                'verify': {'type': 'boolean', 'default': True},
                'grow': dict(SIZE_SCHEMA, **{'x-hint': 'a size such as 1GiB added to the disk the guest boots on'}),
                'firmware': {'enum': ['auto', 'bios', 'uefi', 'both'], 'default': 'auto',
                             'x-hint': 'auto (every firmware the disk boots with), bios, uefi or both'},
                'verify_tasks': {'type': 'string', 'pattern': r'^/.+\.ya?ml$',
                                 'x-hint': 'an absolute path to a YAML tasks file'},
            },
        },
        # groups, locale, timezone, keyboard, services, files, security, cloud_init, tasks
        **customization.PROPERTIES,
    },
}
KEYS = tuple(SCHEMA['properties'])


class RequestError(ValueError):
    """A request that cannot be built; ``errors`` lists (key, message) pairs."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__('\n'.join("request key '%s': %s" % e for e in errors))


def plain(value):
    """Plain Python data from what Ansible hands over: tagged or lazy values, vaulted strings decrypted."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str) or type(value).__name__ == 'EncryptedString':
        return str(value)
    return value


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
        shown = '********' if any(str(p) in SECRET_KEYS for p in err.absolute_path) else repr(value)
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
    release = request.get('release', 'bookworm')
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
    if 'root_password' in request and 'root_password_hash' in request:
        errors.append(('root_password', 'give root_password or root_password_hash, not both'))
    names = set()
    users = request.get('users') if isinstance(request.get('users'), list) else []
    for i, user in enumerate(u for u in users if isinstance(u, dict)):
        if 'password' in user and 'password_hash' in user:
            errors.append(('users[%d].password' % i, 'give password or password_hash, not both'))
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


def _distro_keys(request):
    """The request's distro, release and arch, the schema's defaults where it gives none."""
    return [request.get(k, SCHEMA['properties'][k]['default']) for k in ('distro', 'release', 'arch')]


def request_facts(request):
    """The merged distro table entry of a request's distro, release and arch; None when they are not valid."""
    try:
        return distros.facts(*_distro_keys(request))
    except (distros.DistroError, TypeError):
        return None


def _distro_errors(request):
    """The release, arch, boot loader, bootstrap, mirror, package names and repository keys the family allows."""
    keys = _distro_keys(request)
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
        errors.append(('bootstrap.variant', 'a package selection variant is for Debian-family bootstraps; '
                                            'remove it (%s starts from its base packages)' % name))
    if facts['mirror'] is None and not request.get('mirror') and not (request.get('location') or {}).get('mirror'):
        errors.append(('mirror', '%s has no public mirror: set mirror to your installation media or RMT server '
                                 '(registration stays yours)' % facts['distro']))
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
    for i, repo in enumerate(r for r in repos if isinstance(r, dict)):
        for key in sorted(set(repo) & set(REPOSITORY_FAMILY_KEYS) - set(facts['repository_keys'])):
            errors.append(('repositories[%d].%s' % (i, key), 'is an apt repository key; %s repositories (%s) take '
                           'name, uri and key or key_file' % (facts['family'], facts['package_manager'])))
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


# The firmwares a disk boots with, by its disk.firmware.
DISK_FIRMWARES = {'bios': ['bios'], 'uefi': ['uefi'], 'hybrid': ['bios', 'uefi']}


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


def boot_firmwares(req):
    """The firmwares the boot test uses for a resolved request, in order; the first one is verified."""
    capable = DISK_FIRMWARES[layout.firmware_of(req['disk'])]
    wanted = req['boot_test']['firmware']
    chosen = capable if wanted in ('auto', 'both') else [wanted]
    uefi = 'uefi_secure' if req['disk'].get('secure_boot') else 'uefi'
    return [uefi if fw == 'uefi' else fw for fw in chosen]


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


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


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


def _repository_errors(repos):
    errors = []
    names = set()
    for i, repo in enumerate(repos):
        if not isinstance(repo, dict):
            continue
        key = 'repositories[%d]' % i
        if repo.get('name') in RESERVED_REPOSITORY_NAMES:
            errors.append((key + '.name', "'%s' is the distribution's own; choose another name" % repo['name']))
        if repo.get('name') in names:
            errors.append((key + '.name', "'%s' is given twice; each repository needs its own name" % repo['name']))
        names.add(repo.get('name'))
        if ('key' in repo) == ('key_file' in repo):
            errors.append((key + '.key', 'give the signing key inline (key) or as a file (key_file), exactly one'))
        if isinstance(repo.get('key'), str) and repo['key'].lstrip().startswith(ARMOR_BEGIN):
            problem = key_material_error(repo['key'].encode('ascii', 'replace'))
            if problem:
                errors.append((key + '.key', 'the key %s' % problem))
        path = repo.get('key_file')
        problem = _key_file_error(path) if isinstance(path, str) and path else None
        if problem:
            errors.append((key + '.key_file', problem))
        if 'pin_packages' in repo and 'priority' not in repo:
            errors.append((key + '.pin_packages', 'pins need a priority; add priority (for example 990)'))
    return errors


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
        problem = _key_file_error(path)
        if problem:
            errors.append(('location.mirror_key_file', problem))
    return errors


def _key_file_error(path):
    """Why the file at ``path`` is not an OpenPGP public key; None when it is one."""
    if not os.path.isfile(path):
        return "'%s' does not exist (relative paths start at the request file's directory)" % path
    with open(path, 'rb') as f:
        problem = key_material_error(f.read())
    return "'%s' %s" % (path, problem) if problem else None


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
        errors += _repository_errors(request['repositories'])
    return errors + _location_errors(request)


def anchor_paths(request, base_dir):
    """A copy of ``request`` whose relative file paths (location.mirror_key_file, repositories' key_file; files'
    src and template; tasks) start at ``base_dir``."""
    out = customization.anchor_paths(request, base_dir)
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
    for repo in req['repositories']:
        if 'suites' in req['os']['repository_keys']:
            repo.setdefault('suites', [req['release']])
        repo['signed_by'] = '%s/%s.%s' % (req['os']['keyring_dir'], repo['name'], 'asc' if _armored(repo) else 'gpg')
        repo['origin'] = urlparse(repo['uri']).hostname or ''
    return req


def _armored(repo):
    if 'key' in repo:
        return True
    with open(repo['key_file'], 'rb') as f:
        return f.read(64).lstrip().startswith(ARMOR_BEGIN.encode('ascii'))


def validate(request, cwd=None):
    """Raise RequestError naming every bad key; return None when the request is valid.

    Paths on the controller (``files``, ``tasks``) are relative to ``cwd`` (default: the current directory).
    """
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


def unknown_keys(variables):
    """Top-level names in ``variables`` that are neither request keys nor internal variables."""
    return sorted(k for k in variables if k not in KEYS and not k.startswith(INTERNAL_PREFIXES))


def apply_defaults(schema, value):
    """Fill in the schema's defaults, recursively, without touching the given values."""
    if schema.get('type') == 'object' and isinstance(value, dict):
        for key, sub in schema.get('properties', {}).items():
            if key not in value and 'default' in sub:
                value[key] = copy.deepcopy(sub['default'])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
    elif schema.get('type') == 'array' and isinstance(value, list) and isinstance(schema.get('items'), dict):
        value = [apply_defaults(schema['items'], v) for v in value]
    return value


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


def request_view(resolved, schema=None):
    """Only the request keys of ``resolved`` (no build facts such as build_id or partitions), in schema order."""
    schema = schema or SCHEMA
    if schema.get('type') == 'object' and isinstance(resolved, dict) and 'properties' in schema:
        return {k: request_view(resolved[k], sub) for k, sub in schema['properties'].items() if k in resolved}
    if schema.get('type') == 'array' and isinstance(resolved, list) and isinstance(schema.get('items'), dict):
        return [request_view(v, schema['items']) for v in resolved]
    return resolved


def resolve(request, cwd=None, build_id=None):
    """Validate and return the fully specified build for ``request``."""
    cwd = cwd or os.getcwd()
    if isinstance(request, dict):
        request = anchor_paths(request, cwd)
    validate(request, cwd)
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
    req['family'] = req['os']['family']
    req['version'] = req['os']['version']
    req['bootstrap'].setdefault('tool', req['os']['bootstrap']['tools'][0])
    if req['os']['bootstrap'].get('variants'):
        req['bootstrap'].setdefault('variant', req['os']['bootstrap']['variants'][0])
    req = resolve_customization(req)
    req.setdefault('output_dir', os.path.join('output', req['name']))
    for key in ('output_dir', 'work_dir', 'cache_dir'):
        req[key] = os.path.normpath(os.path.join(cwd, req[key]))
    req['disk'] = layout.for_arch(req['disk'], req['os']['machine'])
    req['disk']['size_bytes'] = parse_size(req['disk']['size'])
    layout.resolve(req['disk'], build_id)
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
    return customization.resolve(req, cwd)
