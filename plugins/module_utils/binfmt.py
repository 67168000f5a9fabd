# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a foreign architecture's programs through qemu-user: one binfmt_misc entry per build.

The entry is the rule Debian's qemu-user-static ships (``/usr/lib/binfmt.d/qemu-MACHINE.conf``, flag F: the
kernel opens the interpreter when the rule is registered, so it works inside a chroot) renamed
``osimage-<build id>``, so a build removes only its own entry and ``leftovers`` finds those of killed builds.
The binfmt_misc file system is mounted when it is not (as systemd does at boot) and left mounted.
"""

from __future__ import annotations

import os

BINFMT_DIR = '/proc/sys/fs/binfmt_misc'
RULES_DIR = '/usr/lib/binfmt.d'


def foreign(machine):
    """True when this host cannot run ``machine``'s (uname -m) programs natively."""
    return os.uname().machine != machine


def path_of(name):
    return os.path.join(BINFMT_DIR, name)


def mounted():
    return os.path.exists(os.path.join(BINFMT_DIR, 'register'))


def registered(name):
    return os.path.exists(path_of(name))


def rule(machine, name, rules_dir=RULES_DIR):
    """qemu-user-static's binfmt rule for ``machine``, renamed ``name``; ValueError when it is not installed."""
    conf = os.path.join(rules_dir, 'qemu-%s.conf' % machine)
    try:
        with open(conf, encoding='ascii') as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith('#')]
    except OSError as exc:
        raise ValueError("no binfmt rule for %s programs (%s); install qemu-user-static" % (machine, exc)) from exc
    sep = lines[0][0]
    fields = lines[0].split(sep)
    fields[1] = name
    return sep.join(fields)


def register(line):
    with open(os.path.join(BINFMT_DIR, 'register'), 'w', encoding='ascii') as f:
        f.write(line)


def unregister(name):
    """Remove the entry ``name``; True when there was one."""
    if not registered(name):
        return False
    with open(path_of(name), 'w', encoding='ascii') as f:
        f.write('-1')
    return True


def entries(prefix):
    """The names of the registered entries that start with ``prefix``."""
    if not mounted():
        return []
    return sorted(e for e in os.listdir(BINFMT_DIR) if e.startswith(prefix))
