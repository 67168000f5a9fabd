"""rpm_repositories with each rpm family's .repo format (the distro table's repository_file), then rpm_packages
installing from the request repository it wrote, metadata signatures checked, from a repository the test serves:
the release's packages in os/, the request's in extra/ (signed metadata), bad/ (metadata signed by another key)
and plain/ (unsigned metadata)."""

import configparser
import json
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from local_rpm import PACKAGES, LocalRpmRepository
from osimage_testlib import ROOT, playbook

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/rpm_repositories.yml')
FAMILIES = {'el': 'dnf', 'suse': 'zypper'}
LAYOUT = {'os': ['osimage-sh', 'osimage-base'], 'extra': ['osimage-hello'], 'bad': ['osimage-hello'],
          'plain': ['osimage-hello']}


@pytest.fixture(scope='module')
def repo():
    served = LocalRpmRepository(packages={name: PACKAGES[name] for name in ('osimage-sh', 'osimage-base', 'osimage-hello')},
                                layout=LAYOUT, metadata={'bad': 'stranger', 'plain': 'unsigned'})
    yield served
    served.close()


@pytest.fixture(scope='module', params=sorted(FAMILIES))
def wrote(request, repo, tmp_path_factory):
    family = distros.FAMILIES[request.param]
    tmp = tmp_path_factory.mktemp('rpm-repositories-' + request.param)
    root, result = tmp / 'root', tmp / 'result.json'
    variables = dict(rpm_root=str(root), rpm_backend=FAMILIES[request.param], rpm_verbs=family['package_verbs'],
                     rpm_repository_file=family['repository_file'], rpm_keyring_dir=family['keyring_dir'],
                     rpm_baseurl=repo.baseurl, rpm_key_file=repo.key_file, rpm_result=str(result))
    proc = playbook(PLAYBOOK, '-e', json.dumps(variables))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return {'family': family, 'backend': FAMILIES[request.param], 'root': str(root),
            'results': json.loads(result.read_text()), 'served': repo.requests()}


def test_check_mode_says_what_it_would_write_and_writes_nothing(wrote):
    checked, family = wrote['results']['checked'], wrote['family']
    assert checked['changed'] is True and wrote['results']['after_check'] is False
    assert checked['written'] == [family['repository_file']['dir'] + '/extra.repo', family['keyring_dir'] + '/extra.asc']


def test_the_family_repo_file_checks_package_and_metadata_signatures_with_the_written_key(wrote):
    family = wrote['family']
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(wrote['results']['repo_file'])
    section = dict(parser['extra'])
    assert section['gpgcheck'] == '1' and section['repo_gpgcheck'] == '1' and section['priority'] == '10'
    assert section['gpgkey'] == 'file://%s/extra.asc' % family['keyring_dir']
    assert {k: str(v) for k, v in family['repository_file']['options'].items()}.items() <= section.items()
    assert wrote['results']['key'].startswith('-----BEGIN PGP PUBLIC KEY BLOCK-----')
    assert wrote['results']['again']['changed'] is False and wrote['results']['again']['written'] == []


def test_the_package_comes_from_the_request_repository_whose_metadata_signature_was_fetched(wrote):
    installed = wrote['results']['installed']
    assert installed['changed'] is True and installed['installed'] == ['osimage-hello']
    assert 'osimage-hello' in {p['name'] for p in installed['packages']}
    # os/ has no osimage-hello; extra/'s metadata came with its signature.
    assert '/extra/repodata/repomd.xml.asc' in wrote['served']
    assert os.path.isfile(os.path.join(wrote['root'], 'var/lib/osimage-hello/post-ran'))


@pytest.mark.parametrize('directory', ['bad', 'plain'])
def test_a_request_repository_with_wrongly_signed_metadata_fails_the_install_saying_so(wrote, directory):
    refused = wrote['results']['refused'][directory]
    # dnf: "repomd.xml GPG signature verification error" or "GPG signature is not available"; zypper:
    # "Signature verification failed for repomd.xml".
    assert refused['failed'] is True and refused['msg'].startswith(wrote['backend'])
    assert "'%s'" % directory in refused['msg'] and 'repomd.xml' in refused['msg'], refused['msg']
    assert 'signature' in refused['msg'].lower(), refused['msg']


def test_an_empty_list_removes_what_the_module_wrote_and_nothing_else(wrote):
    emptied, family = wrote['results']['emptied'], wrote['family']
    directory = family['repository_file']['dir']
    assert emptied['changed'] is True
    assert set(emptied['removed']) >= {directory + '/extra.repo', family['keyring_dir'] + '/extra.asc'}
    assert os.listdir(os.path.join(wrote['root'], directory.lstrip('/'))) == ['foreign.repo']
