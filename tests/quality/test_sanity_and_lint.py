"""ansible-test sanity and ansible-lint, as part of the one test command, so every module is born clean."""

import os
import shutil
import subprocess
import sys

from tracked_files import copy_tracked_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
GET_PIP = os.path.expanduser('~/.ansible/test/cache/get_pip_24_2.py')


def sh(argv, cwd):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False)


def collection_copy(tmp_path):
    """The repository's files in a real ansible_collections/osimage/builder directory (no symlinks)."""
    dest = copy_tracked_files(ROOT, tmp_path / 'ansible_collections' / 'osimage' / 'builder')
    sh(['git', 'init', '-q'], dest)
    sh(['git', 'add', '-A'], dest)
    return dest


def test_ansible_test_sanity(tmp_path):
    os.makedirs(os.path.dirname(GET_PIP), exist_ok=True)
    shutil.copy(os.path.join(ROOT, 'tests', 'quality', 'get_pip_offline.py'), GET_PIP)
    proc = sh(['ansible-test', 'sanity', '--python', '%d.%d' % sys.version_info[:2], '--color', 'no'],
              collection_copy(tmp_path))
    errors = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines()
              if line.startswith(('ERROR', 'FATAL'))]
    assert proc.returncode == 0, '\n'.join(errors) or proc.stderr[-4000:]


def test_ansible_lint_production_profile():
    proc = sh(['ansible-lint', '--offline', '--nocolor'], ROOT)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
