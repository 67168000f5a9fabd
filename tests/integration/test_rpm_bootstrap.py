"""rpm_bootstrap with dnf and zypper, through Ansible, from a signed rpm-md repository served by the test."""

import glob
import json
import os
import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import package_db
from osimage_testlib import ROOT, playbook, run

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/rpm_bootstrap.yml')
DBPATH = '/usr/lib/sysimage/rpm'
ZYPPER_LOG = '/var/log/zypper.log'
BACKENDS = ['dnf', 'zypper']


def bootstrap(repo, tmp_path, backend, packages, extra=None):
    """Run the playbook; return (process, tree path, the module's results or None when the play failed)."""
    root, result = tmp_path / 'root', tmp_path / 'result.json'
    variables = dict(rpm_root=str(root), rpm_backend=backend, rpm_baseurl=repo.baseurl, rpm_key_file=repo.key_file,
                     rpm_packages=packages, rpm_result=str(result))
    proc = playbook(PLAYBOOK, '-e', json.dumps(dict(variables, **(extra or {}))))
    return proc, str(root), json.loads(result.read_text()) if result.exists() else None


def run_rpm(root, *args):
    return run(['rpm', '--root', root, '--dbpath', DBPATH, *args], check=True).stdout


class Runner:
    """What package_db expects of a Runner: run(argv, what=...) -> (rc, out, err)."""

    @staticmethod
    def run(argv, what=None):
        proc = run(argv, check=True)
        return proc.returncode, proc.stdout, proc.stderr


def log_state():
    try:
        st = os.stat(ZYPPER_LOG)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


@pytest.fixture(scope='module', params=BACKENDS)
def built(request, local_rpm_repo, tmp_path_factory):
    """osimage-hello bootstrapped by each backend: check mode, then twice."""
    log_before = log_state()
    proc, root, results = bootstrap(local_rpm_repo, tmp_path_factory.mktemp(request.param), request.param,
                                    ['osimage-hello'])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return {'backend': request.param, 'root': root, 'results': results, 'log_before': log_before}


def test_the_tree_holds_the_package_and_its_dependencies_and_nothing_else(built, local_rpm_repo):
    wanted = {'osimage-hello', 'osimage-base', 'osimage-sh'}
    listed = run_rpm(built['root'], '-qa', '--qf', '%{NAME} %{VERSION}\n').split('\n')
    names = {line.split()[0] for line in listed if line}
    assert names == wanted | {'gpg-pubkey'}
    packages = package_db.rpm_packages(built['root'], DBPATH, Runner.run)
    assert packages == sorted(({'name': n, 'version': local_rpm_repo.packages[n], 'release': '1', 'arch': 'noarch'}
                               for n in wanted), key=lambda p: p['name'])
    assert built['results']['first']['packages'] == packages
    with open(built['root'] + '.manifest.json', encoding='utf-8') as f:
        assert json.load(f)['packages'] == packages
    assert os.path.isfile(os.path.join(built['root'], 'usr/share/osimage-base/base.txt'))


def test_post_scripts_ran_in_the_tree(built):
    with open(os.path.join(built['root'], 'var/lib/osimage-hello/post-ran'), encoding='utf-8') as f:
        assert f.read() == 'post ran\n'


def test_the_database_is_at_dbpath_and_only_the_repository_key_is_trusted(built, local_rpm_repo):
    assert os.path.isfile(os.path.join(built['root'], DBPATH.lstrip('/'), 'rpmdb.sqlite'))
    assert glob.glob(os.path.join(built['root'], '**', '.rpmdb'), recursive=True) == []
    keys = run_rpm(built['root'], '-q', 'gpg-pubkey', '--qf', '%{SUMMARY}\n').split('\n')
    assert [k for k in keys if k] == ['osimage test rpm repository <rpm@osimage.invalid> public key']
    # Nothing of the build's own configuration or download cache stays in the tree.
    assert not os.path.exists(os.path.join(built['root'], 'var/cache/osimage-rpm'))
    assert not os.path.exists(os.path.join(built['root'], 'etc/yum.repos.d'))
    assert not os.path.exists(os.path.join(built['root'], 'etc/zypp/repos.d'))


def test_a_second_run_is_unchanged_and_check_mode_creates_nothing(built):
    results = built['results']
    assert results['checked']['changed'] is True
    assert results['after_check'] is False
    assert results['first']['changed'] is True
    assert results['second']['changed'] is False
    assert results['second']['fingerprint'] == results['first']['fingerprint']
    assert [c[0].rsplit('/', 1)[-1] for c in results['first']['commands']] == ['rpm', 'rpm', built['backend']]
    assert not os.path.exists(built['root'] + '.partial')


def test_the_hosts_zypper_log_is_untouched(built):
    assert log_state() == built['log_before']
    assert not os.path.exists(os.path.join(built['root'], 'var/log/zypper.log'))


# What each backend says when a package's signature cannot be verified.
REFUSALS = {('dnf', 'osimage-unsigned'): 'Package osimage-unsigned-0.1-1.noarch.rpm is not signed',
            ('dnf', 'osimage-stranger'): 'Public key for osimage-stranger-0.1-1.noarch.rpm is not installed',
            ('zypper', 'osimage-unsigned'): 'Signature verification failed [6-File is unsigned]',
            ('zypper', 'osimage-stranger'): 'Signature verification failed [4-Signatures public key is not available]'}


@pytest.mark.parametrize('backend,package', sorted(REFUSALS))
def test_a_package_not_signed_with_the_repository_key_fails(local_rpm_repo, tmp_path, backend, package):
    """Unsigned, or signed with a key the repository does not give: refused, and no tree is left."""
    proc, root, _results = bootstrap(local_rpm_repo, tmp_path, backend, [package])
    assert proc.returncode != 0
    msg = re.search(r'^    msg: \|-\n        (.*)$', proc.stdout, re.M)
    assert msg and msg.group(1).startswith('%s failed' % backend), proc.stdout[-3000:]
    assert REFUSALS[backend, package] in msg.group(1)
    assert os.listdir(tmp_path) == []
    assert not os.path.exists(root)


@pytest.mark.parametrize('backend', BACKENDS)
def test_the_cache_keeps_packages_and_trees_and_the_proxy_is_used(local_rpm_repo, recording_proxy, tmp_path, backend):
    """With cache_dir, a key given by URL and a proxy: the key and the packages come through the proxy, the next
    tree comes from the tree cache, and a build without the tree cache downloads no package again."""
    cache = tmp_path / 'cache'
    extra = {'rpm_cache_dir': str(cache), 'rpm_proxy': recording_proxy.url, 'rpm_key_file': local_rpm_repo.key_url}
    before = len(recording_proxy.requests())
    proc, _root, first = bootstrap(local_rpm_repo, tmp_path / 'a', backend, ['osimage-hello'], extra)
    assert proc.returncode == 0, proc.stdout[-6000:]
    pattern = str(cache / 'rpms' / ('%s-9-x86_64' % backend) / '**' / '*.rpm')
    kept = sorted(os.path.basename(p) for p in glob.glob(pattern, recursive=True))
    assert kept == ['osimage-base-2.1-1.noarch.rpm', 'osimage-hello-1.3-1.noarch.rpm', 'osimage-sh-1.0-1.noarch.rpm']
    through_proxy = recording_proxy.requests()[before:]
    assert local_rpm_repo.key_url in through_proxy
    assert local_rpm_repo.baseurl + 'osimage-hello-1.3-1.noarch.rpm' in through_proxy
    proc, second_root, second = bootstrap(local_rpm_repo, tmp_path / 'b', backend, ['osimage-hello'], extra)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert (first['first']['cached'], second['first']['cached']) == (False, True)
    assert 'commands' not in second['first']
    assert second['first']['packages'] == first['first']['packages']
    assert os.path.isfile(os.path.join(second_root, 'var/lib/osimage-hello/post-ran'))
    before = len(recording_proxy.requests())
    proc, _root, third = bootstrap(local_rpm_repo, tmp_path / 'c', backend, ['osimage-hello'],
                                   dict(extra, rpm_tree_cache_max_age=0))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert third['first']['cached'] is False and third['first']['commands']
    assert not [url for url in recording_proxy.requests()[before:] if url.endswith('.rpm')]
