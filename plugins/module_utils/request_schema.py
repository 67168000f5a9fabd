# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build request's schema: one JSON Schema for the driver, the playbook's extra vars and an AWX survey.

``SCHEMA`` with its hints (``x-hint``, which error messages quote) and defaults, ``apply_defaults`` to fill
them in, ``request_view`` to keep only request keys, and ``RequestError``, which every step raises for a
request it cannot build. Runs on the controller only.
"""

from __future__ import annotations

import copy

from ansible_collections.osimage.builder.plugins.module_utils import customization
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import formats as fmts
from ansible_collections.osimage.builder.plugins.module_utils import platforms
from ansible_collections.osimage.builder.plugins.module_utils.request_repositories import REPOSITORY_SCHEMA, URL_RE

# Keys the controller may add to extra vars that are not request keys.
INTERNAL_PREFIXES = ('ansible_', 'osimage_', 'awx_', 'tower_', 'molecule_')

# Any family's package names; each family's own rule (distros.FAMILIES) is checked beside the schema.
PACKAGE_RE = r'^[A-Za-z0-9][A-Za-z0-9_+.-]*$'
USER_RE = r'^[a-z_][a-z0-9_-]{0,31}$'
HOST_RE = r'^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$'
PROXY_RE = r'^https?://([^\s/@:]+(:[^\s/@]*)?@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$'
SIZE_SCHEMA = {'type': ['string', 'integer'], 'x-hint': 'a size such as 4GiB or 512MiB'}


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

LOCATION_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'default': {},
    'properties': {
        'mirror': {'type': 'string', 'pattern': URL_RE, 'x-hint': 'an http://, https:// or file:// URL'},
        'security_mirror': {'type': 'string', 'pattern': URL_RE,
                            'x-hint': "an http://, https:// or file:// URL of the release's security suite"},
        'mirror_key_file': {'type': 'string', 'minLength': 1,
                            'x-hint': "the path of the OpenPGP public key that signs the mirror (default: the "
                                      "distro's archive key)"},
        'mirror_snapshot': {'type': 'boolean',
                            'x-hint': 'true when the mirror is a snapshot (such as snapshot.debian.org) whose indexes '
                                      'are past their Valid-Until: the build accepts them, the image does not'},
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
                'variant': {'enum': list(dict.fromkeys(v for f in distros.FAMILIES.values()
                                                       for v in f['bootstrap'].get('variants', []))),
                            'x-hint': "the package selection the bootstrap starts from (default: the family's first)"},
            },
        },
        'extends': {'type': ['string', 'array'], 'items': {'type': 'string', 'minLength': 1}, 'minLength': 1,
                    'x-hint': 'a request file or a list of them, relative to the file that names them'},
        'append': _list({'type': 'string', 'pattern': r'^[a-z_]+(\.[a-z_]+)*$'},
                        'a list of dotted key paths of lists that add to the base request, such as packages.install'),
        'preset': {'type': ['string', 'array'], 'items': {'type': 'string'},
                   'x-hint': 'a preset name or a list of them (osimage presets lists them)'},
        'repositories': _list(REPOSITORY_SCHEMA, 'a list of package repositories, each with a name, uri and key',
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
        'compress': {'type': 'boolean', 'default': True},
        'slim': {'type': 'boolean', 'default': False},
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
                # None by default: the boot test's guests get libvirt_boot.VCPUS by accelerator
                'vcpus': {'type': 'integer', 'minimum': 1, 'maximum': 64},
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

# Keys an existing image already decides, which `osimage retrofit` refuses (dotted paths; 'formats[]' names values
# of the list), each with why. The image's distro, release and arch are read from it; its disk is kept as it is.
KEEPS = 'the image keeps its own %s: remove the key (retrofit changes what is inside the file systems, not the disk)'
RETROFIT_REFUSED = {
    'distro': "the image's distribution is read from its /etc/os-release: remove the key",
    'release': "the image's release is read from its /etc/os-release: remove the key",
    'arch': "the image's architecture is read from its programs: remove the key",
    'bootstrap': 'nothing is bootstrapped: the image is the starting tree; remove the key',
    'mirror': 'the image keeps its own package sources: remove the key, or add one with repositories',
    'location.mirror': 'the image keeps its own package sources: remove the key, or add one with repositories',
    'location.security_mirror': 'the image keeps its own security sources: remove the key, or add one with '
                                'repositories',
    'platform': 'a platform profile lays out the disk, boot loader and kernel command line, which the image keeps; '
                'remove the key and name its packages and services instead',
    'kernel_cmdline': KEEPS % 'boot loader configuration',
    'serial_console': KEEPS % 'boot loader configuration',
    'disk.size': KEEPS % 'size (grow it with qemu-img resize and growpart)',
    'disk.table': KEEPS % 'partition table',
    'disk.firmware': KEEPS % 'firmware (BIOS or UEFI)',
    'disk.secure_boot': KEEPS % 'boot chain',
    'disk.bootloader': KEEPS % 'boot loader',
    'disk.grow': KEEPS % 'first-boot behaviour',
    'disk.partitions': KEEPS % 'partitions and file systems',
    'disk.lvm': KEEPS % 'volumes',
    'formats[iso]': 'a live ISO is made from a freshly bootstrapped tree, not from an existing disk: remove iso',
    'formats[tar]': 'a root tree archive is made from a freshly bootstrapped tree: remove tar',
    'formats[oci]': 'a container image is made from a freshly bootstrapped tree: remove oci',
}


class RequestError(ValueError):
    """A request that cannot be built; ``errors`` lists (key, message) pairs."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__('\n'.join("request key '%s': %s" % e for e in errors))


def distro_keys(request):
    """The request's distro, release and arch, the schema's defaults where it gives none."""
    return [request.get(k, SCHEMA['properties'][k]['default']) for k in ('distro', 'release', 'arch')]


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


def request_view(resolved, schema=None):
    """Only the request keys of ``resolved`` (no build facts such as build_id or partitions), in schema order."""
    schema = schema or SCHEMA
    if schema.get('type') == 'object' and isinstance(resolved, dict) and 'properties' in schema:
        return {k: request_view(resolved[k], sub) for k, sub in schema['properties'].items() if k in resolved}
    if schema.get('type') == 'array' and isinstance(resolved, list) and isinstance(schema.get('items'), dict):
        return [request_view(v, schema['items']) for v in resolved]
    return resolved
