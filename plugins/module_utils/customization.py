# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request keys that customize the system inside the image, their checks and their derived packages.

Schemas of ``user_groups``, ``locale``, ``timezone``, ``keyboard``, ``services``, ``files``, ``security``,
``cloud_init`` and ``tasks`` (``request.SCHEMA`` includes them), the checks a schema cannot express
(``semantic_errors``, which also checks ``users`` against the image), and ``resolve`` which adds the packages
these keys need and makes controller paths absolute. Runs on the controller only.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.osimage.builder.plugins.module_utils import stamp

try:
    import zoneinfo
    HAS_ZONEINFO = True
except ImportError:  # Python < 3.9
    HAS_ZONEINFO = False

NAME_RE = r'^[a-z_][a-z0-9_-]{0,31}$'
UNIT_RE = r'^[A-Za-z0-9][A-Za-z0-9@._:-]{0,250}\.(service|socket|timer|path|mount|target)$'
LOCALE_RE = r'^(C|POSIX|C\.UTF-8|[a-z]{2,3}_[A-Z]{2}(\.[A-Za-z0-9-]+)?(@[a-z]+)?)$'
MODE_RE = r'^0?[0-7]{3,4}$'
DATASOURCES = ['NoCloud', 'ConfigDrive', 'OpenStack', 'Ec2', 'Azure', 'GCE', 'Oracle', 'Hetzner',
               'DigitalOcean', 'Scaleway', 'Vultr', 'VMware', 'LXD', 'None']
# Login shells and the packages that bring them; an empty tuple means every image has it.
SHELLS = {
    '/bin/bash': (), '/usr/bin/bash': (), '/bin/sh': (), '/usr/bin/sh': (), '/bin/dash': (),
    '/usr/bin/dash': (), '/usr/sbin/nologin': (), '/sbin/nologin': (), '/bin/false': (), '/usr/bin/false': (),
    '/bin/zsh': ('zsh',), '/usr/bin/zsh': ('zsh',), '/usr/bin/fish': ('fish',), '/bin/tcsh': ('tcsh',),
    '/usr/bin/tcsh': ('tcsh',), '/bin/ksh': ('ksh',), '/usr/bin/ksh': ('ksh', 'ksh93u+m'),
    '/bin/mksh': ('mksh',), '/usr/bin/mksh': ('mksh',),
}
FORBIDDEN_PATHS = ('/proc', '/sys', '/dev', '/run', '/tmp')
SUPPORTED_LOCALES = '/usr/share/i18n/SUPPORTED'
XKB_RULES = '/usr/share/X11/xkb/rules/base.lst'


def _list(item, hint, **extra):
    return dict({'type': 'array', 'items': item, 'x-hint': hint}, **extra)


GROUP_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['name'],
    'properties': {
        'name': {'type': 'string', 'pattern': NAME_RE,
                 'x-hint': 'a group name of lower-case letters, digits, _ and -, starting with a letter or _'},
        'gid': {'type': 'integer', 'minimum': 100, 'maximum': 60000, 'x-hint': 'a gid from 100 to 60000'},
        'system': {'type': 'boolean', 'default': False},
    },
}

OWNER = {'type': 'string', 'pattern': NAME_RE, 'x-hint': 'a user or group name such as root'}
FILE_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['path'],
    'properties': {
        'path': {'type': 'string', 'pattern': r'^/[^\0]*[^/]$', 'x-hint': 'an absolute path in the image'},
        'state': {'enum': ['file', 'directory', 'link'], 'default': 'file'},
        'src': {'type': 'string', 'minLength': 1, 'x-hint': 'a file on the controller (absolute, or relative '
                'to the directory the build runs in)'},
        'content': {'type': 'string', 'x-hint': 'the text of the file'},
        'template': {'type': 'string', 'minLength': 1, 'x-hint': 'a Jinja2 template on the controller'},
        'target': {'type': 'string', 'pattern': r'^[^\0]+$', 'x-hint': 'the path a symlink points to'},
        'owner': dict(OWNER, default='root'),
        'group': dict(OWNER, default='root'),
        'mode': {'type': 'string', 'pattern': MODE_RE,
                 'x-hint': "a quoted octal mode such as '0644' (quote it: YAML reads 0644 as a number)"},
    },
}

PORT_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['port'],
    'properties': {
        'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535, 'x-hint': 'a port from 1 to 65535'},
        'proto': {'enum': ['tcp', 'udp'], 'default': 'tcp'},
    },
}

UNITS = _list({'type': 'string', 'pattern': UNIT_RE,
               'x-hint': 'a systemd unit name with its suffix, such as nginx.service'},
              'a list of unit names such as nginx.service', uniqueItems=True, default=[])

PROPERTIES = {
    # Not `groups`: Ansible's inventory variable of that name would hide it in the playbook's extra vars.
    'user_groups': _list(GROUP_SCHEMA, 'a list of groups, each with at least a name', default=[]),
    'locale': {'type': 'string', 'pattern': LOCALE_RE, 'default': 'C.UTF-8',
               'x-hint': 'a locale such as en_US.UTF-8 or C.UTF-8'},
    'timezone': {'type': 'string', 'pattern': r'^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$', 'default': 'Etc/UTC',
                 'x-hint': 'a tz database name such as Europe/Berlin or Etc/UTC'},
    'keyboard': {
        'type': 'object', 'additionalProperties': False,
        'properties': {
            'layout': {'type': 'string', 'pattern': r'^[a-z]{2,10}(,[a-z]{2,10})*$', 'default': 'us',
                       'x-hint': 'an XKB layout such as us, de or us,de'},
            'variant': {'type': 'string', 'pattern': r'^[a-z0-9_-]*(,[a-z0-9_-]*)*$', 'default': '',
                        'x-hint': 'an XKB variant such as nodeadkeys, or empty'},
            'model': {'type': 'string', 'pattern': r'^[a-z0-9_-]+$', 'default': 'pc105',
                      'x-hint': 'an XKB model such as pc105'},
            'options': {'type': 'string', 'pattern': r'^[A-Za-z0-9_:,-]*$', 'default': '',
                        'x-hint': 'XKB options such as ctrl:nocaps'},
        },
    },
    'services': {
        'type': 'object', 'additionalProperties': False, 'default': {},
        'properties': {'enabled': UNITS, 'disabled': UNITS, 'masked': UNITS},
    },
    'files': _list(FILE_SCHEMA, 'a list of files, directories and symlinks, each with a path', default=[]),
    'security': {
        'type': 'object', 'additionalProperties': False, 'default': {},
        'properties': {
            'ssh': {
                'type': 'object', 'additionalProperties': False, 'default': {},
                'properties': {
                    'password_authentication': {'type': 'boolean', 'default': False},
                    'permit_root_login': {'enum': ['no', 'prohibit-password', 'yes'],
                                          'default': 'prohibit-password'},
                    'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535, 'default': 22,
                             'x-hint': 'a port from 1 to 65535'},
                },
            },
            'firewall': {
                'type': 'object', 'additionalProperties': False, 'default': {},
                'properties': {
                    'enabled': {'type': 'boolean', 'default': False},
                    'allowed_ports': _list(PORT_SCHEMA, 'a list of {port, proto} to accept', default=[]),
                    'allow_ssh': {'type': 'boolean', 'default': True},
                },
            },
            'automatic_updates': {'type': 'boolean', 'default': False},
            'apparmor': {'type': ['boolean', 'null'], 'default': None,
                         'x-hint': 'true (installed and enforcing), false (off) or null (the distro default)'},
        },
    },
    'cloud_init': {
        'type': 'object', 'additionalProperties': False, 'default': {},
        'properties': {
            'enabled': {'type': 'boolean', 'default': False},
            'datasources': _list({'enum': DATASOURCES}, 'a list of datasources: ' + ', '.join(DATASOURCES),
                                 minItems=1, uniqueItems=True, default=['NoCloud']),
        },
    },
    'tasks': _list({'type': 'string', 'minLength': 1,
                    'x-hint': 'a tasks file (.yml) or a role directory on the controller'},
                   'a list of tasks files or role directories, run in the image after osimage\'s roles',
                   default=[]),
}


def controller_path(path, cwd=None):
    """``path`` made absolute against ``cwd`` (the build's working directory)."""
    return os.path.normpath(os.path.join(cwd or os.getcwd(), os.path.expanduser(path)))


def anchor_paths(request, base_dir=None):
    """A copy of ``request`` whose controller paths (files' src and template, tasks) are absolute.

    Relative paths start at ``base_dir`` (the request file's directory); values of the wrong type are
    left for validation to name.
    """
    out = dict(request)

    def anchored(value):
        return controller_path(value, base_dir) if isinstance(value, str) and value else value

    if isinstance(out.get('tasks'), list):
        out['tasks'] = [anchored(p) for p in out['tasks']]
    if isinstance(out.get('files'), list):
        out['files'] = [dict(f, **{k: anchored(f[k]) for k in ('src', 'template') if k in f})
                        if isinstance(f, dict) else f for f in out['files']]
    return out


def _installs(request):
    packages = request.get('packages') if isinstance(request.get('packages'), dict) else {}
    install = packages.get('install') if isinstance(packages.get('install'), list) else []
    return {p for p in install if isinstance(p, str)}


def _items(request, key):
    value = request.get(key)
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _read_lines(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read().splitlines()
    except OSError:
        return None


def known_locales():
    """Locale names glibc supports, from the controller's list; None when the controller has none."""
    lines = _read_lines(SUPPORTED_LOCALES)
    if lines is None:
        return None
    return {line.split()[0] for line in lines if line.strip() and not line.startswith('#')} | {'C', 'POSIX', 'C.UTF-8'}


def known_timezones():
    """tz database names the controller knows; None when it knows none."""
    if not HAS_ZONEINFO:
        return None
    zones = zoneinfo.available_timezones()
    return zones or None


def known_layouts():
    """XKB layouts from the controller's rules list; None when the controller has none."""
    lines = _read_lines(XKB_RULES)
    if lines is None:
        return None
    layouts, section = set(), None
    for line in lines:
        if line.startswith('!'):
            section = line[1:].strip()
        elif section == 'layout' and line.strip():
            layouts.add(line.split()[0])
    return layouts


def _user_group_errors(request, system_groups):
    errors = []
    installs = _installs(request)
    groups = _items(request, 'user_groups')
    users = _items(request, 'users')
    declared = {g.get('name') for _i, g in groups}
    known = set(system_groups) | declared
    gids, names = {}, set()
    for i, group in groups:
        name = group.get('name')
        if name in names:
            errors.append(('user_groups[%d].name' % i, "'%s' is given twice" % name))
        elif name in system_groups:
            errors.append(('user_groups[%d].name' % i, "'%s' is a system group the image already has; "
                           'list it only in users[].groups' % name))
        names.add(name)
        if isinstance(group.get('gid'), int):
            if group['gid'] in gids:
                errors.append(('user_groups[%d].gid' % i, '%d is also the gid of %s' % (group['gid'], gids[group['gid']])))
            gids[group['gid']] = name
    uids = {}
    for i, user in users:
        name = user.get('name')
        if name in declared:
            errors.append(('users[%d].name' % i, "'%s' is also in user_groups; a user gets a group of its own name"
                           % name))
        if isinstance(user.get('uid'), int):
            if user['uid'] in uids:
                errors.append(('users[%d].uid' % i, '%d is also the uid of %s' % (user['uid'], uids[user['uid']])))
            uids[user['uid']] = name
        shell = user.get('shell', '/bin/bash')
        if isinstance(shell, str) and shell.startswith('/'):
            needs = SHELLS.get(shell)
            if needs is None:
                errors.append(('users[%d].shell' % i, "'%s' is not a shell the image will have; choose one of: %s"
                               % (shell, ', '.join(sorted(SHELLS)))))
            elif needs and not installs & set(needs):
                errors.append(('users[%d].shell' % i, "'%s' needs the package %s: add it to packages.install"
                               % (shell, needs[0])))
        for j, group in enumerate(user.get('groups') if isinstance(user.get('groups'), list) else []):
            if isinstance(group, str) and re.match(NAME_RE, group) and group not in known:
                errors.append(('users[%d].groups[%d]' % (i, j), "'%s' is neither a group of the image nor in "
                               'user_groups; add it to user_groups, or use one of: %s'
                               % (group, ', '.join(sorted(system_groups)))))
    return errors


def _setting_errors(request):
    errors = []
    locale = request.get('locale')
    supported = known_locales()
    if isinstance(locale, str) and re.match(LOCALE_RE, locale) and supported is not None and locale not in supported:
        close = sorted(s for s in supported if s.split('.')[0] == locale.split('.')[0])
        errors.append(('locale', "'%s' is not a locale glibc supports%s" % (
            locale, '; did you mean: ' + ', '.join(close) if close else '; use a name such as en_US.UTF-8')))
    zone = request.get('timezone')
    zones = known_timezones()
    if isinstance(zone, str) and zones is not None and zone not in zones:
        errors.append(('timezone', "'%s' is not a tz database name; use a name such as Europe/Berlin or Etc/UTC"
                       % zone))
    keyboard = request.get('keyboard')
    layouts = known_layouts()
    if isinstance(keyboard, dict) and isinstance(keyboard.get('layout'), str) and layouts is not None:
        for layout in keyboard['layout'].split(','):
            if re.match(r'^[a-z]{2,10}$', layout) and layout not in layouts:
                errors.append(('keyboard.layout', "'%s' is not an XKB layout; use one such as us, de, fr, gb"
                               % layout))
    services = request.get('services') if isinstance(request.get('services'), dict) else {}
    seen = {}
    for state in ('enabled', 'disabled', 'masked'):
        units = services.get(state) if isinstance(services.get(state), list) else []
        for j, unit in enumerate(u for u in units if isinstance(u, str)):
            if unit in seen:
                errors.append(('services.%s[%d]' % (state, j), "'%s' is also %s; give each unit one state"
                               % (unit, seen[unit])))
            seen.setdefault(unit, state)
    return errors


def _file_errors(request, cwd):
    errors = []
    paths = set()
    for i, item in _items(request, 'files'):
        key = 'files[%d]' % i
        path = item.get('path')
        if isinstance(path, str) and path.startswith('/'):
            norm = os.path.normpath(path)
            if norm != path.rstrip('/') or '/..' in path:
                errors.append((key + '.path', "'%s' is not a normalized path (no '.', '..' or '//')" % path))
            elif norm == '/' or any(norm == p or norm.startswith(p + '/') for p in FORBIDDEN_PATHS):
                errors.append((key + '.path', "'%s' is not part of the image; %s are filled at run time"
                               % (path, ', '.join(FORBIDDEN_PATHS))))
            elif norm in paths:
                errors.append((key + '.path', "'%s' is given twice" % path))
            paths.add(norm)
        state = item.get('state', 'file')
        sources = [k for k in ('src', 'content', 'template') if k in item]
        if state == 'file' and len(sources) != 1:
            errors.append((key, 'a file needs exactly one of src, content or template (has %s)'
                           % (', '.join(sources) or 'none')))
        if state in ('directory', 'link') and sources:
            errors.append((key + '.' + sources[0], 'a %s has no %s' % (state, sources[0])))
        if state == 'link' and 'target' not in item:
            errors.append((key + '.target', 'a link needs the target it points to'))
        if state != 'link' and 'target' in item:
            errors.append((key + '.target', "only a link (state: link) has a target"))
        if state == 'link' and ('mode' in item):
            errors.append((key + '.mode', 'a link has no mode of its own'))
        for src_key in ('src', 'template'):
            src = item.get(src_key)
            if isinstance(src, str) and src and not os.path.isfile(controller_path(src, cwd)):
                errors.append((key + '.' + src_key, "'%s' does not exist on the controller (looked at %s)"
                               % (src, controller_path(src, cwd))))
    return errors


def _security_errors(request):
    errors = []
    security = request.get('security') if isinstance(request.get('security'), dict) else {}
    ssh = security.get('ssh') if isinstance(security.get('ssh'), dict) else {}
    firewall = security.get('firewall') if isinstance(security.get('firewall'), dict) else {}
    boot_test = request.get('boot_test') if isinstance(request.get('boot_test'), dict) else {}
    verifies = boot_test.get('enabled', True) is not False and boot_test.get('verify', True) is not False
    if ssh.get('permit_root_login') == 'no' and verifies:
        errors.append(('security.ssh.permit_root_login', "'no' locks out the boot test, which logs in as root "
                       'with a key made for the boot; set boot_test.verify: false, or use prohibit-password'))
    if ssh.get('port', 22) != 22 and verifies:
        errors.append(('security.ssh.port', 'the boot test reaches SSH on port 22; set boot_test.verify: false '
                       'to build an image with another port'))
    ports = firewall.get('allowed_ports') if isinstance(firewall.get('allowed_ports'), list) else []
    if ports and firewall.get('enabled') is not True:
        errors.append(('security.firewall.allowed_ports', 'the firewall is disabled; set '
                       'security.firewall.enabled: true or drop allowed_ports'))
    seen = set()
    for i, port in enumerate(p for p in ports if isinstance(p, dict)):
        pair = (port.get('port'), port.get('proto', 'tcp'))
        if pair in seen:
            errors.append(('security.firewall.allowed_ports[%d]' % i, '%s/%s is given twice' % pair))
        seen.add(pair)
    if firewall.get('enabled') and firewall.get('allow_ssh') is False and verifies:
        errors.append(('security.firewall.allow_ssh', 'a firewall without SSH locks out the boot test; set '
                       'boot_test.verify: false to build such an image'))
    return errors


def _tasks_errors(request, cwd):
    errors = []
    tasks = request.get('tasks') if isinstance(request.get('tasks'), list) else []
    for i, path in enumerate(tasks):
        if not isinstance(path, str) or not path:
            continue
        full = controller_path(path, cwd)
        if os.path.isdir(full):
            if not os.path.isfile(os.path.join(full, 'tasks', 'main.yml')):
                errors.append(('tasks[%d]' % i, "'%s' is a directory without tasks/main.yml, so not a role" % path))
        elif not os.path.isfile(full):
            errors.append(('tasks[%d]' % i, "'%s' does not exist on the controller (looked at %s)" % (path, full)))
        elif not full.endswith(('.yml', '.yaml')):
            errors.append(('tasks[%d]' % i, "'%s' is not a YAML tasks file (.yml or .yaml)" % path))
    return errors


def _package_errors(request, os_facts):
    """Packages these keys need must not be removed by the same request."""
    packages = request.get('packages') if isinstance(request.get('packages'), dict) else {}
    remove = packages.get('remove') if isinstance(packages.get('remove'), list) else []
    errors = []
    try:
        needed = needed_packages(request, os_facts)
    except (AttributeError, TypeError):
        return errors
    for j, name in enumerate(remove):
        if name in needed:
            errors.append(('packages.remove[%d]' % j, "'%s' is needed by %s; keep it or drop that key"
                           % (name, needed[name])))
    return errors


def semantic_errors(request, os_facts, cwd=None):
    """(key, message) pairs for what the schema cannot check; each guards its own types. ``os_facts`` is the
    distro table's entry for the request (distros.facts), None when the distro or release is not valid."""
    errors = _setting_errors(request) + _file_errors(request, cwd) + _security_errors(request) \
        + _tasks_errors(request, cwd)
    if os_facts:
        errors += _user_group_errors(request, os_facts['system_groups']) + _package_errors(request, os_facts)
    return errors


def needed_packages(request, os_facts):
    """{package: request key that needs it} for the keys given, in the family's package names."""
    needed = {}
    locale = request.get('locale', 'C.UTF-8')
    if locale not in ('C', 'POSIX', 'C.UTF-8'):
        needed['locales'] = 'locale'
    if request.get('timezone', 'Etc/UTC') not in ('Etc/UTC', 'UTC'):
        needed['tzdata'] = 'timezone'
    if request.get('keyboard'):
        needed['keyboard'] = 'keyboard'
    security = request.get('security') or {}
    if (security.get('firewall') or {}).get('enabled'):
        needed['firewall'] = 'security.firewall'
    if security.get('automatic_updates'):
        needed['automatic-updates'] = 'security.automatic_updates'
    if security.get('apparmor'):
        needed['mac'] = 'security.apparmor'
    if (request.get('cloud_init') or {}).get('enabled'):
        # with growpart and resize2fs, with which cloud-init grows the root file system to its disk
        needed['cloud-init'] = 'cloud_init'
    return {name: key for need, key in needed.items() for name in os_facts['packages'].get(need, [])}


def resolve(req, cwd):
    """Complete a defaulted request in place: needed packages, absolute controller paths, file checksums."""
    install = req['packages']['install']
    install.extend(p for p in sorted(needed_packages(req, req['os'])) if p not in install)
    req['tasks'] = [controller_path(p, cwd) for p in req['tasks']]
    for item in req['files']:
        for key in ('src', 'template'):
            if key in item:
                item[key] = controller_path(item[key], cwd)
        if 'src' in item:
            item['sha256'] = stamp.sha256_file(item['src'])
        elif 'content' in item:
            item['sha256'] = hashlib.sha256(item['content'].encode('utf-8')).hexdigest()
    if req['security']['apparmor'] is False and 'apparmor=0' not in req['kernel_cmdline']:
        req['kernel_cmdline'] = req['kernel_cmdline'] + ['apparmor=0']
    return req
