"""Build hosts: a ``--builder [USER@]HOST[:PORT]`` or an inventory group's hosts, and the ssh command lines that
reach them."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from osimage.exit_codes import EXIT_BUILD_FAILED

DEFAULT_GROUP = 'osimage_builders'


class BuilderError(Exception):
    """The builder cannot take the build (unreachable, no osimage, missing tools); ``code`` is the exit code."""

    def __init__(self, message, code=EXIT_BUILD_FAILED):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Builder:
    """A build host and how this driver reaches and uses it."""
    name: str
    host: str
    user: str | None = None
    port: int | None = None
    limit: int = 1                     # builds at once (inventory variable osimage_builder_limit)
    command: str = 'osimage'           # the osimage command on the builder (osimage_command)
    work_dir: str = '/var/tmp/osimage-builder'       # the builder's own work_dir (osimage_work_dir)
    cache_dir: str = '/var/cache/osimage'            # and package cache (osimage_cache_dir)
    output_root: str = '/var/tmp/osimage-builder/output'  # builds write under OUTPUT_ROOT/BUILD_ID (osimage_output_dir)
    ssh_options: tuple = field(default=())             # -o OPTION for ssh (--ssh-option, ansible_ssh_common_args)

    def ssh(self, *argv):
        """The ssh command line that runs ``argv`` (each word quoted for the remote shell) on the builder."""
        cmd = ['ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4']
        for option in self.ssh_options:
            cmd += ['-o', option]
        if self.port:
            cmd += ['-p', str(self.port)]
        return cmd + [('%s@%s' % (self.user, self.host)) if self.user else self.host, '--',
                      ' '.join(shlex.quote(a) for a in argv)]

    def osimage(self, *argv):
        """The ssh command line that runs the builder's osimage command with ``argv``."""
        return self.ssh(*shlex.split(self.command), *argv)


def parse_spec(spec, ssh_options=()):
    """A Builder from ``[user@]HOST[:PORT]``; ValueError naming the problem."""
    user, hostport = spec.rsplit('@', 1) if '@' in spec else ('', spec)
    host, port = hostport, None
    if hostport.count(':') == 1:
        host, text = hostport.split(':')
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError('--builder %s: the port %r is not a number from 1 to 65535' % (spec, text))
        port = int(text)
    if not host or any(c.isspace() for c in spec):
        raise ValueError('--builder %s: give [USER@]HOST[:PORT]' % spec)
    return Builder(name=spec, host=host, user=user or None, port=port, ssh_options=tuple(ssh_options))


INVENTORY_VARS = {'osimage_builder_limit': 'limit', 'osimage_command': 'command', 'osimage_work_dir': 'work_dir',
                  'osimage_cache_dir': 'cache_dir', 'osimage_output_dir': 'output_root'}


def from_inventory(path, group=DEFAULT_GROUP, ssh_options=()):
    """The builders of an Ansible inventory's ``group`` with their variables; ValueError naming the problem."""
    from ansible.inventory.manager import InventoryManager  # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.vars.manager import VariableManager  # pylint: disable=import-outside-toplevel

    if not os.path.exists(path):
        raise ValueError('--builders %s: no such inventory' % path)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[path])
    variables = VariableManager(loader=loader, inventory=inventory)
    hosts = inventory.get_groups_dict().get(group)
    if not hosts:
        raise ValueError('--builders %s: the inventory has no host in group %s (set --builder-group, or put the '
                         'build hosts under %s:)' % (path, group, group))
    found = []
    for name in hosts:
        hostvars = variables.get_vars(host=inventory.get_host(name))
        settings = {attr: hostvars[var] for var, attr in INVENTORY_VARS.items() if var in hostvars}
        try:
            settings['limit'] = int(settings.get('limit', 1))
            if settings['limit'] < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError('--builders %s: host %s: osimage_builder_limit must be a whole number >= 1, not %r'
                             % (path, name, hostvars.get('osimage_builder_limit'))) from None
        options = list(ssh_options) + shlex.split(str(hostvars.get('ansible_ssh_common_args', '')))[1::2]
        if hostvars.get('ansible_ssh_private_key_file'):
            options.append('IdentityFile=%s' % hostvars['ansible_ssh_private_key_file'])
        port = hostvars.get('ansible_port')
        found.append(Builder(name=name, host=str(hostvars.get('ansible_host', name)), user=hostvars.get('ansible_user'),
                             port=int(port) if port else None, ssh_options=tuple(options), **settings))
    return found
