# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The packages installed in an image root tree, read from its package database by the host's tools, from
outside the tree. One function per database kind; ``run`` is a Runner's ``run``."""

from __future__ import annotations

import os

DPKG_FORMAT = '${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'
RPM_FORMAT = '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n'
# rpm lists each imported signing key as a package of this name; keys are not installed software.
RPM_KEY_NAME = 'gpg-pubkey'


def dpkg_packages(root, run):
    """[{name, version, arch}] of the packages dpkg has fully installed in ``root``, sorted by name."""
    _rc, out, _err = run(['dpkg-query', '--admindir=%s' % os.path.join(root, 'var/lib/dpkg'), '-W', '-f', DPKG_FORMAT],
                         what='listing the image packages')
    return parse_dpkg(out)


def parse_dpkg(out):
    packages = []
    for line in out.splitlines():
        status, name, version, arch = line.split('\t')
        if status.startswith('ii'):
            packages.append({'name': name, 'version': version, 'arch': arch})
    return sorted(packages, key=lambda p: p['name'])


def rpm_packages(root, dbpath, run):
    """[{name, version, release, arch}] of the packages in the rpm database at ``dbpath`` inside ``root``, sorted;
    the imported signing keys (gpg-pubkey) are left out."""
    _rc, out, _err = run(['rpm', '--root', root, '--dbpath', dbpath, '-qa', '--qf', RPM_FORMAT],
                         what='listing the image packages')
    return parse_rpm(out)


def parse_rpm(out):
    packages = []
    for line in out.splitlines():
        name, version, release, arch = line.split('\t')
        if name != RPM_KEY_NAME:
            packages.append({'name': name, 'version': version, 'release': release, 'arch': arch})
    return sorted(packages, key=lambda p: (p['name'], p['arch'], p['version'], p['release']))
