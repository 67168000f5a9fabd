"""rpm_packages with dnf and zypper and each rpm family's verbs from the distro table, on a tree rpm_bootstrap made
from the signed rpm-md repository the test serves."""

import json
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import package_db
from osimage_testlib import ROOT, playbook, run

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/rpm_packages.yml')
DBPATH = '/usr/lib/sysimage/rpm'
# Each backend with the verbs of the family that uses it.
FAMILY = {'dnf': 'el', 'zypper': 'suse'}


class Runner:
    """What package_db expects of a Runner: run(argv, what=...) -> (rc, out, err)."""

    @staticmethod
    def run(argv, what=None):
        proc = run(argv, check=True)
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope='module', params=sorted(FAMILY))
def changed(request, local_rpm_repo, tmp_path_factory):
    backend = request.param
    tmp = tmp_path_factory.mktemp('rpm-packages-' + backend)
    root, result = tmp / 'root', tmp / 'result.json'
    variables = dict(rpm_root=str(root), rpm_backend=backend, rpm_verbs=distros.FAMILIES[FAMILY[backend]]['package_verbs'],
                     rpm_baseurl=local_rpm_repo.baseurl, rpm_key_file=local_rpm_repo.key_file, rpm_result=str(result))
    proc = playbook(PLAYBOOK, '-e', json.dumps(variables))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return {'backend': backend, 'root': str(root), 'results': json.loads(result.read_text())}


def names(root):
    return {p['name'] for p in package_db.rpm_packages(root, DBPATH, Runner.run)}


def test_check_mode_says_what_it_would_install_and_installs_nothing(changed):
    checked = changed['results']['checked']
    assert checked['changed'] is True and checked['installed'] == ['osimage-hello'] and checked['removed'] == []
    assert 'commands' not in checked and changed['results']['after_check'] is False


def test_only_the_missing_package_is_installed_with_the_familys_verb_and_its_post_ran(changed):
    installed = changed['results']['installed']
    verbs = distros.FAMILIES[FAMILY[changed['backend']]]['package_verbs']
    assert installed['changed'] is True and installed['installed'] == ['osimage-hello']
    tool_run = installed['commands'][-1]
    assert tool_run[-1 - len(verbs['install']):] == verbs['install'] + ['osimage-hello']
    assert {'osimage-hello', 'osimage-base', 'osimage-sh'} <= {p['name'] for p in installed['packages']}
    with open(os.path.join(changed['root'] + '.manifest.json'), encoding='utf-8') as f:
        assert json.load(f)['packages'] == installed['packages']


def test_a_second_install_changes_nothing(changed):
    again = changed['results']['again']
    assert again['changed'] is False and again['installed'] == [] and 'commands' not in again


def test_remove_takes_out_what_is_there_and_ignores_what_is_not(changed):
    removed = changed['results']['removed']
    verbs = distros.FAMILIES[FAMILY[changed['backend']]]['package_verbs']
    assert removed['changed'] is True and removed['removed'] == ['osimage-hello']
    assert removed['commands'] == [removed['commands'][0][:-1 - len(verbs['remove'])] + verbs['remove'] + ['osimage-hello']]
    assert 'osimage-hello' not in names(changed['root']) and 'osimage-sh' in names(changed['root'])
    assert not os.path.exists(os.path.join(changed['root'], 'var/cache/osimage-rpm'))


def test_an_unsigned_package_is_refused_and_the_tree_keeps_its_packages(changed):
    unsigned = changed['results']['unsigned']
    assert unsigned['failed'] is True and unsigned['msg'].startswith(changed['backend'])
    assert 'osimage-unsigned' not in names(changed['root'])
