# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The packages installed in an image root tree, read from its package database by the host's tools, from
outside the tree. One function per database kind; ``run`` is a Runner's ``run``."""

from __future__ import annotations

import os

from ansible_collections.osimage.builder.plugins.module_utils import rpm_tree

DPKG_FORMAT = '${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'
RPM_FORMAT = '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n'
# rpm lists each imported signing key as a package of this name; keys are not installed software.
RPM_KEY_NAME = 'gpg-pubkey'


def dpkg_packages(root, run):
    """[{name, version, arch}] of the packages dpkg has fully installed in ``root``, sorted by name."""
    _rc, out, _err = run(['dpkg-query', '--admindir=%s' % os.path.join(root, 'var/lib/dpkg'), '-W', '-f', DPKG_FORMAT],
                         what='listing the image packages')
    rows = fields(out, ('status', 'name', 'version', 'arch'))
    return sorted(({k: r[k] for k in ('name', 'version', 'arch')} for r in rows if r['status'].startswith('ii')),
                  key=lambda p: p['name'])


def rpm_packages(root, dbpath, run):
    """[{name, version, release, arch}] of the packages in the rpm database at ``dbpath`` inside ``root``, sorted;
    the imported signing keys (gpg-pubkey) are left out."""
    _rc, out, _err = run(rpm_tree.rpm_argv(root, dbpath) + ['-qa', '--qf', RPM_FORMAT], what='listing the image packages')
    rows = fields(out, ('name', 'version', 'release', 'arch'))
    return sorted((r for r in rows if r['name'] != RPM_KEY_NAME),
                  key=lambda p: (p['name'], p['arch'], p['version'], p['release']))


def fields(out, names):
    """Each tab-separated line of ``out`` as a dict of ``names``."""
    return [dict(zip(names, line.split('\t'))) for line in out.splitlines()]
