"""The repository as an AWX project: what a project sync installs, and which files AWX offers as playbooks."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tracked_files import copy_tracked_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
# The job playbooks: the paths a job template names.
JOB_PLAYBOOKS = ['playbooks/awx_setup.yml', 'playbooks/boot_test.yml', 'playbooks/build.yml',
                 'playbooks/builder_setup.yml', 'playbooks/retrofit.yml']
# Owned elsewhere (molecule scenarios): reported, not asserted here. The test suite's playbooks are in
# tests/integration/.playbooks, a dot directory AWX does not look into.
NOT_JOBS = ('molecule/', 'extensions/molecule/')
# AWX's rule (awx/main/utils/ansible.py): a .yml/.yaml file outside roles/, tasks/, group_vars/, host_vars/
# and dot directories with a line that starts (after blanks and a dash) with hosts:, include: or
# import_playbook:, or a vault-encrypted one.
PLAY_LINE = re.compile(r'^\s*-?\s*(hosts|include|import_playbook):')
SKIPPED_DIRS = ('roles', 'tasks', 'group_vars', 'host_vars')


def awx_playbooks(project):
    found = []
    for dirpath, _dirs, files in os.walk(project):
        parts = os.path.relpath(dirpath, project).split(os.sep)
        if any(p in SKIPPED_DIRS or (p.startswith('.') and p != '.') for p in parts):
            continue
        for name in files:
            if os.path.splitext(name)[1] not in ('.yml', '.yaml'):
                continue
            with open(os.path.join(dirpath, name), encoding='utf-8', errors='ignore') as f:
                lines = f.read().splitlines()
            if any(PLAY_LINE.match(line) for line in lines) or lines[:1] and lines[0].startswith('$ANSIBLE_VAULT;'):
                found.append(os.path.relpath(os.path.join(dirpath, name), project))
    return sorted(found)


def run(argv, cwd, **env):
    environ = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], ANSIBLE_NOCOLOR='1', **env)
    environ.pop('ANSIBLE_COLLECTIONS_PATH', None)
    environ.update(env)
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope='module')
def fresh_clone(tmp_path_factory):
    """The files a `git clone` of this tree has (tracked and new, not ignored): no playbooks/collections link."""
    dest = copy_tracked_files(ROOT, tmp_path_factory.mktemp('clone') / 'project')
    assert not (dest / 'playbooks' / 'collections').exists()
    return dest


def test_a_fresh_clone_cannot_find_the_collection_before_the_requirements_are_installed(fresh_clone, tmp_path):
    proc = run(['ansible-playbook', 'playbooks/build.yml', '--syntax-check'], fresh_clone, HOME=str(tmp_path))
    assert proc.returncode != 0
    assert 'osimage.builder' in proc.stdout + proc.stderr


def test_awx_project_sync_then_syntax_check_of_every_job_playbook(fresh_clone, tmp_path):
    """What AWX does: install collections/requirements.yml from the project root into its own directory,
    then run jobs with ANSIBLE_COLLECTIONS_PATH pointing there."""
    target = tmp_path / 'requirements_collections'
    proc = run(['ansible-galaxy', 'collection', 'install', '-r', str(fresh_clone / 'collections' / 'requirements.yml'),
                '--collections-path', str(target)], fresh_clone, HOME=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = target / 'ansible_collections' / 'osimage' / 'builder'
    assert (installed / 'MANIFEST.json').is_file()
    assert (installed / 'plugins' / 'action' / 'validate_request.py').is_file()
    for playbook in ('playbooks/build.yml', 'playbooks/boot_test.yml'):
        proc = run(['ansible-playbook', playbook, '--syntax-check'], fresh_clone, HOME=str(tmp_path),
                   ANSIBLE_COLLECTIONS_PATH=str(target))
        assert proc.returncode == 0, playbook + ': ' + proc.stdout + proc.stderr


def test_a_user_installs_the_requirements_into_the_default_path(fresh_clone, tmp_path):
    """Without -p the collection goes to the first path of ansible.cfg's collections_path: playbooks/collections,
    git-ignored, where scripts/setup-host otherwise links the checkout."""
    try:
        proc = run(['ansible-galaxy', 'collection', 'install', '-r', 'collections/requirements.yml'], fresh_clone,
                   HOME=str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (fresh_clone / 'playbooks' / 'collections' / 'ansible_collections' / 'osimage' / 'builder' /
                'MANIFEST.json').is_file()
        proc = run(['ansible-playbook', 'playbooks/build.yml', '--syntax-check'], fresh_clone, HOME=str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        shutil.rmtree(fresh_clone / 'playbooks' / 'collections', ignore_errors=True)


def test_awx_offers_only_the_job_playbooks(fresh_clone):
    listed = awx_playbooks(str(fresh_clone))
    assert [p for p in listed if not p.startswith(NOT_JOBS)] == JOB_PLAYBOOKS


def test_the_awx_rule_sees_what_it_should(tmp_path):
    """The rule's own check: a play is found, an inventory in flow style, role tasks and a dot directory's
    playbooks are not, though they are playbooks."""
    listed = awx_playbooks(ROOT)
    assert 'playbooks/build.yml' in listed
    assert os.path.isfile(os.path.join(ROOT, 'tests', 'integration', '.playbooks', 'validate.yml'))
    assert not [p for p in listed if p.startswith('tests/')]
    (tmp_path / 'tests' / 'playbooks').mkdir(parents=True)
    (tmp_path / 'tests' / 'playbooks' / 'play.yml').write_text('- name: A play\n  hosts: localhost\n')
    assert awx_playbooks(str(tmp_path)) == ['tests/playbooks/play.yml']
    assert 'inventories/localhost.yml' not in listed
    assert not [p for p in listed if p.startswith(('roles/', 'playbooks/collections/'))]
