"""The distro table's seam, end to end on the build host: a request for a distribution whose mirror is out of
reach here is resolved and bootstrapped by its family's role from a local archive laid out like that
distribution's mirror, signed with the test's key (given as location.mirror_key_file)."""

import json
import os
import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from local_apt import LocalRepository, debian_closure
from local_rpm import PACKAGES as RPM_PACKAGES, LocalRpmRepository
from osimage_testlib import ROOT, playbook, run

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/family_bootstrap.yml')
# Debian's packages stand in for Ubuntu's, kept between runs like the build's own package cache.
CLOSURE_CACHE = '/var/cache/osimage/test-archives/bookworm'
# What only Ubuntu has, made by the test, each in a pocket or component the seam must have configured.
UBUNTU_ONLY = {
    'linux-image-virtual': ('6.8.0-1-osimage', {'usr/share/osimage/kernel': 'virtual\n'}, 'the virtual kernel'),
    'netplan.io': ('1.0-osimage', {'usr/share/osimage/netplan': 'netplan\n'}, 'netplan'),
}
UBUNTU_LAYOUT = {'noble': {'main': [], 'universe': []}, 'noble-updates': {'main': [], 'universe': ['netplan.io']},
                 'noble-security': {'main': ['linux-image-virtual'], 'universe': []}}


def resolved(request, tmp_path):
    build = req.resolve(request, cwd=str(tmp_path), build_id='seam%s' % request['distro'].replace('-', '')[:8])
    return build


def bootstrap(build, root, tmp_path, customize=False):
    """Run the family's bootstrap role (and with ``customize`` its main entry point); return the process."""
    args = tmp_path / 'build.json'
    args.write_text(json.dumps({'osimage': build, 'osimage_root': str(root), 'family_customize': customize}))
    return playbook(PLAYBOOK, '-e', '@%s' % args)


@pytest.fixture(scope='module')
def ubuntu_archive(tmp_path_factory):
    """An archive shaped like Ubuntu noble's (pockets noble, -updates and -security; main and universe)."""
    probe = resolved({'distro': 'ubuntu', 'release': 'noble'}, tmp_path_factory.mktemp('probe'))
    wanted = probe['os']['packages']['base'] + probe['os']['packages']['network'] + probe['disk']['packages']
    debs = debian_closure(CLOSURE_CACHE, [p for p in wanted if p not in UBUNTU_ONLY])
    archive = LocalRepository(packages=UBUNTU_ONLY, layout=UBUNTU_LAYOUT, debs=debs)
    yield archive
    archive.close()


def ubuntu_request(archive, key_file, cache_dir):
    return {'distro': 'ubuntu', 'release': 'noble', 'cache_dir': str(cache_dir),
            'location': {'mirror': archive.uri.rstrip('/'), 'security_mirror': archive.uri.rstrip('/'),
                         'mirror_key_file': key_file}}


def test_ubuntu_bootstraps_from_its_pockets_and_components_with_the_mirrors_key(ubuntu_archive, tmp_path):
    build = resolved(ubuntu_request(ubuntu_archive, ubuntu_archive.key_file, tmp_path / 'cache'), tmp_path)
    assert build['family'] == 'debian' and build['bootstrap']['tool'] == 'mmdebstrap'
    root = tmp_path / 'root'
    proc = bootstrap(build, root, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    status = run(['dpkg-query', '--admindir', str(root / 'var/lib/dpkg'), '-W', '-f', '${Package} ${Version}\n'],
                 check=True).stdout.splitlines()
    installed = dict(line.split(' ', 1) for line in status)
    # From the -security pocket's main and the -updates pocket's universe: both were configured.
    assert installed['linux-image-virtual'] == '6.8.0-1-osimage' and installed['netplan.io'] == '1.0-osimage'
    assert {'systemd', 'openssh-server', 'python3-apt', 'grub-pc-bin', 'apt'} <= set(installed)
    served = ubuntu_archive.requests()
    for suite in ('noble', 'noble-updates', 'noble-security'):
        assert '/dists/%s/InRelease' % suite in served
    assert '/dists/noble-updates/universe/binary-amd64/Packages' in served
    sources = (root / 'etc/apt/sources.list').read_text()
    assert 'noble-security main universe' in sources and 'noble-updates main universe' in sources


def test_a_mirror_signed_with_another_key_is_refused(ubuntu_archive, tmp_path):
    other = os.path.join(ROOT, 'tests', 'data', 'repo-key.asc')
    build = resolved(ubuntu_request(ubuntu_archive, other, tmp_path / 'cache'), tmp_path)
    root = tmp_path / 'root'
    proc = bootstrap(build, root, tmp_path)
    assert proc.returncode != 0
    assert 'NO_PUBKEY' in proc.stdout + proc.stderr or 'not signed' in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert not root.exists()


# rpm families: every package the table names for the release, made by the test, in the repositories of the
# distro's mirror layout; the key where the table looks for it (rocky) or given as the mirror's key (leap). A
# request repository (extra/, its metadata signed too) holds the request's own package.
EXTRA = 'osimage-extra'
RPM_DISTROS = {
    'rocky': {'release': '9', 'repositories': ['9/BaseOS/x86_64/os', '9/AppStream/x86_64/os'],
              'key_name': 'RPM-GPG-KEY-Rocky-9', 'mirror_key': False},
    'opensuse-leap': {'release': '15.6', 'repositories': ['distribution/leap/15.6/repo/oss', 'update/leap/15.6/oss'],
                      'key_name': 'mirror-key.asc', 'mirror_key': True},
}


def table_packages(build):
    """What the family's bootstrap installs for a build: the table's base, kernel and network, and the layout's."""
    packages = build['os']['packages']
    return sorted(set(packages['base'] + packages['kernel'] + packages['network'] + build['disk']['packages']))


@pytest.fixture(scope='module', params=sorted(RPM_DISTROS))
def rpm_archive(request, tmp_path_factory):
    distro, shape = request.param, RPM_DISTROS[request.param]
    probe = resolved({'distro': distro, 'release': shape['release'], 'mirror': 'http://mirror.invalid'},
                     tmp_path_factory.mktemp('probe'))
    names = table_packages(probe)
    specs = {name: ('1.0', 'Requires: osimage-sh\n\n%%description\n%s stand-in\n\n%%files\n' % name) for name in names}
    specs['osimage-sh'] = RPM_PACKAGES['osimage-sh']
    specs[EXTRA] = ('1.0', 'Requires: osimage-sh\n\n%description\nfrom the request repository\n\n%files\n')
    first, second = shape['repositories']
    layout = {first: ['osimage-sh'] + names[::2], second: names[1::2], 'extra': [EXTRA]}
    archive = LocalRpmRepository(packages=specs, layout=layout, key_name=shape['key_name'])
    yield distro, shape, names, archive
    archive.close()


def test_an_rpm_distro_bootstraps_what_its_table_names_from_its_mirror_layout(rpm_archive, tmp_path):
    distro, shape, names, archive = rpm_archive
    # The family role's in-tree step removes one of them (sudo: in every family's base) after the bootstrap, and
    # installs the request's package from the request's repository, which it writes into the tree.
    request = {'distro': distro, 'release': shape['release'], 'cache_dir': str(tmp_path / 'cache'),
               'packages': {'remove': ['sudo'], 'install': [EXTRA]},
               'repositories': [{'name': 'extra', 'uri': archive.baseurl + 'extra/', 'key_file': archive.key_file}],
               'location': dict({'mirror': archive.baseurl.rstrip('/')},
                                **({'mirror_key_file': archive.key_file} if shape['mirror_key'] else {}))}
    build = resolved(request, tmp_path)
    assert build['bootstrap']['tool'] == {'el': 'dnf', 'suse': 'zypper'}[build['family']]
    root = tmp_path / 'root'
    proc = bootstrap(build, root, tmp_path, customize=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    listed = run(['rpm', '--root', str(root), '--dbpath', build['os']['rpm_dbpath'], '-qa', '--qf', '%{NAME}\n'],
                 check=True).stdout.split()
    assert 'sudo' in names
    assert re.search(r"packages in the tree\] \**\nchanged: ", proc.stdout), proc.stdout[-3000:]
    assert sorted(set(listed) - {'gpg-pubkey'}) == sorted([n for n in names if n != 'sudo'] + ['osimage-sh', EXTRA])
    repo_file = root / build['os']['repository_file']['dir'].lstrip('/') / 'extra.repo'
    assert 'repo_gpgcheck=1' in repo_file.read_text()
    assert (root / build['repositories'][0]['signed_by'].lstrip('/')).is_file()
    assert 'gpg-pubkey' in listed  # the mirror's key, imported: signatures were checked
    served = archive.requests()
    for repo in shape['repositories']:
        assert any(path.startswith('/%s/repodata/repomd.xml' % repo) for path in served), served
    assert '/extra/repodata/repomd.xml.asc' in served
