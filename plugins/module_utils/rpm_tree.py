# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running dnf or zypper on an rpm root tree from the build host: the tools' whole configuration in a private
directory (the host's is never read), their command lines, and the tree's package database read with the host's
rpm. Shared by rpm_bootstrap (a new tree) and rpm_packages (packages in a tree)."""

from __future__ import annotations

import os

# Where the tool keeps its downloads inside the tree while it runs (dnf puts its cache under the install root
# whatever it is told); removed afterwards.
CACHE_REL = 'var/cache/osimage-rpm'
NAME_FORMAT = '%{NAME}\n'


def argument_spec(**options):
    """rpm_bootstrap's and rpm_packages' argument spec: their own ``options`` and the release, architecture and
    repositories they share (documented by the osimage.builder.rpm_tree doc fragment)."""
    return dict(
        releasever=dict(type='str', required=True),
        architecture=dict(type='str', default='x86_64'),
        repositories=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            baseurl=dict(type='str', required=True),
            gpgkey=dict(type='str', required=True, no_log=False),
            repo_gpgcheck=dict(type='bool', default=False),
            priority=dict(type='int'),
        )),
        **options)


def ini(sections):
    """INI text of [(section, {key: value})], the format of dnf.conf, zypp.conf and .repo files."""
    return ''.join('[%s]\n%s\n' % (name, ''.join('%s=%s\n' % kv for kv in values.items()))
                   for name, values in sections)


def key_url(gpgkey):
    """A key's URL (a path on the build host as a file:// URL)."""
    return gpgkey if '://' in gpgkey else 'file://' + gpgkey


def checks(repo):
    """A repository's metadata check and priority as .repo keys (no priority: the tool's default)."""
    keys = {'repo_gpgcheck': int(bool(repo.get('repo_gpgcheck')))}
    if repo.get('priority') is not None:
        keys['priority'] = repo['priority']
    return keys


def dnf_config(params):
    """dnf.conf: only the given repositories, signatures checked, keys never imported into the rpm database by dnf
    (gpgkey= only where dnf checks the metadata's signature, which it verifies with that key alone), metadata from
    the cache used only after checking it is current."""
    main = {'gpgcheck': 1, 'localpkg_gpgcheck': 1, 'repo_gpgcheck': 0, 'reposdir': '/dev/null',
            'install_weak_deps': int(params['install_weak_deps']), 'cachedir': '/' + CACHE_REL, 'keepcache': 1,
            'metadata_expire': 0}
    repos = []
    for r in params['repositories']:
        keys = dict({'name': r['name'], 'baseurl': r['baseurl'], 'enabled': 1, 'gpgcheck': 1}, **checks(r))
        if keys['repo_gpgcheck']:
            keys['gpgkey'] = key_url(r['gpgkey'])
        repos.append((r['name'], keys))
    return ini([('main', main)] + repos)


def zypper_repo(repo):
    """A .repo file for zypper: package signatures checked (and the metadata's where asked, against the keys in
    the tree's rpm database), downloads kept for the package cache."""
    return ini([(repo['name'], dict({'name': repo['name'], 'baseurl': repo['baseurl'], 'type': 'rpm-md',
                                     'enabled': 1, 'autorefresh': 1, 'gpgcheck': 1, 'pkg_gpgcheck': 1,
                                     'keeppackages': 1}, **checks(repo)))])


def write_private_config(params, private):
    """The tool's whole configuration, in a directory of this build only: the host's is never read."""
    zypp = {'arch': params['architecture'], 'gpgcheck': 'on', 'pkg_gpgcheck': 'on'}
    files = {'.rpmmacros': '%%_dbpath %s\n' % params['dbpath'], 'dnf.conf': dnf_config(params),
             'zypper.conf': '', 'zypp.conf': ini([('main', zypp)])}
    files.update(('repos.d/%s.repo' % r['name'], zypper_repo(r)) for r in params['repositories'])
    for d in ('repos.d', 'vars'):
        os.mkdir(os.path.join(private, d))
    for rel, text in files.items():
        with open(os.path.join(private, rel), 'w', encoding='utf-8') as f:
            f.write(text)


def tool_environment(params, private):
    """HOME with the private .rpmmacros (Debian's rpm puts the database under ~ otherwise), zypp's config, log
    and lock in the private directory, and the proxy."""
    env = {'HOME': private, 'ZYPP_CONF': os.path.join(private, 'zypp.conf'),
           'ZYPP_LOGFILE': os.path.join(private, 'zypper.log'), 'ZYPP_LOCKFILE_ROOT': private}
    if params.get('proxy'):
        env.update(http_proxy=params['proxy'], https_proxy=params['proxy'])
    return env


def tool_argv(params, root, private):
    """dnf or zypper (``params['backend']``) on ``root`` with the configuration in ``private``, up to its verb."""
    if params['backend'] == 'dnf':
        return ['dnf', '-y', '--installroot=%s' % root, '--releasever=%s' % params['releasever'],
                '--forcearch=%s' % params['architecture'], '--config=%s' % os.path.join(private, 'dnf.conf'),
                '--setopt=reposdir=/dev/null', '--setopt=varsdir=%s' % os.path.join(private, 'vars'), '--noplugins']
    return ['zypper', '--non-interactive', '--root', root, '--config', os.path.join(private, 'zypper.conf'),
            '--reposd-dir', os.path.join(private, 'repos.d'), '--cache-dir', os.path.join(root, CACHE_REL),
            '--releasever', params['releasever']]


def rpm_argv(root, dbpath):
    """The host's rpm on the tree's database."""
    return ['rpm', '--root', root, '--dbpath', dbpath]


def import_key_commands(root, dbpath, repositories):
    """Trusting exactly the repositories' keys: one rpm --import each."""
    return [rpm_argv(root, dbpath) + ['--import', r['gpgkey']] for r in repositories]


def installed_names(root, dbpath, run):
    """The names of the packages in the tree's rpm database (imported keys, gpg-pubkey, included)."""
    _rc, out, _err = run(rpm_argv(root, dbpath) + ['-qa', '--qf', NAME_FORMAT], what='reading the rpm database')
    return set(out.split())
