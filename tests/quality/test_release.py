"""Release hygiene: the Galaxy tarball ships the collection without the repository's tooling, the changelog is
current and lints, version_added never names a future version, and every module is in the action group."""

import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import tarfile

import yaml
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def galaxy():
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def sh(argv, cwd):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                          env=dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH']))


def test_the_tarball_ships_the_collection_and_none_of_the_repositorys_tooling(tmp_path):
    # Built from an empty directory, as a release is, so the checkout's ansible.cfg plays no part.
    proc = sh([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(tmp_path), ROOT],
              tmp_path)
    assert proc.returncode == 0, proc.stderr
    (tarball,) = glob.glob(str(tmp_path / 'osimage-builder-*.tar.gz'))
    with tarfile.open(tarball) as tar:
        names = [m.name.rstrip('/') for m in tar.getmembers()]
    for pattern in galaxy()['build_ignore']:
        assert not [n for n in names if fnmatch.fnmatch(n, pattern) or n.startswith(pattern + '/')], pattern
    for tooling in ('Makefile', 'scripts', 'pytest.ini', 'molecule', 'tests/integration', 'tests/quality',
                    'benchmarks', 'driver', '.ci', 'ansible.cfg', 'requirements-test.txt'):
        assert not [n for n in names if n == tooling or n.startswith(tooling + '/')], tooling
    for shipped in ('MANIFEST.json', 'README.md', 'CHANGELOG.rst', 'changelogs/changelog.yaml', 'meta/runtime.yml',
                    'playbooks/build.yml', 'playbooks/boot_test.yml', 'inventories/localhost.yml',
                    'plugins/modules/boot_test.py', 'plugins/module_utils/request.py', 'roles/verify/tasks/main.yml',
                    'data/presets/web.yml', 'examples/debian-bookworm.yml', 'requirements.txt', 'bindep.txt',
                    'tests/unit/plugins/module_utils/test_request.py', 'tests/data/repo-key.asc'):
        assert shipped in names, shipped


def test_the_changelog_fragments_and_changelog_yaml_lint():
    for args in (['lint'], ['lint-changelog-yaml', 'changelogs/changelog.yaml']):
        proc = sh([os.path.join(BIN, 'antsibull-changelog'), *args], ROOT)
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_changelog_rst_is_what_changelog_yaml_generates(tmp_path):
    for name in ('galaxy.yml', 'CHANGELOG.rst'):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(os.path.join(ROOT, 'changelogs'), tmp_path / 'changelogs')
    proc = sh([os.path.join(BIN, 'antsibull-changelog'), 'generate'], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(ROOT, 'CHANGELOG.rst'), encoding='utf-8') as f:
        assert (tmp_path / 'CHANGELOG.rst').read_text(encoding='utf-8') == f.read(), \
            'CHANGELOG.rst is stale: run antsibull-changelog generate'
    with open(tmp_path / 'changelogs' / 'changelog.yaml', encoding='utf-8') as f:
        assert galaxy()['version'] in yaml.safe_load(f)['releases'], 'the version in galaxy.yml is not released'


def documentation(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    start = text.index("DOCUMENTATION = r'''") + len("DOCUMENTATION = r'''")
    return yaml.safe_load(text[start:text.index("'''", start)])


def test_no_plugin_was_added_in_a_version_after_the_collections():
    current = Version(galaxy()['version'])
    plugins = glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py'))
    documented = [p for p in plugins if "DOCUMENTATION = r'''" in open(p, encoding='utf-8').read()]
    assert len(documented) >= 15
    for path in documented:
        doc = documentation(path)
        added = [doc.get('version_added')] + [o.get('version_added') for o in doc.get('options', {}).values()]
        assert all(Version(str(v)) <= current for v in added if v), (path, added)


def test_every_module_is_in_the_action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as f:
        groups = yaml.safe_load(f)['action_groups']
    modules = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))
    assert sorted(groups['osimage']) == modules
