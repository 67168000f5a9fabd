"""playbooks/awx_setup.yml against the real awx.awx collection, taken from the `ansible` wheel on PyPI.

Only awx.awx is extracted (the wheel is 54 MB and pip caches it; installing all of `ansible` would add every
collection to the environment for one playbook's check).
"""

import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
ANSIBLE = 'ansible==12.3.0'


@pytest.fixture(scope='module')
def awx_collection(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('awx')
    subprocess.run([os.path.join(BIN, 'pip'), 'download', '-q', '--no-deps', '-d', str(tmp), ANSIBLE],
                   check=True, capture_output=True, timeout=600)
    wheel = next(tmp.glob('ansible-*.whl'))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp / 'collections', [n for n in z.namelist() if n.startswith('ansible_collections/awx/awx/')])
    return tmp / 'collections'


def run(argv, collections):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], ANSIBLE_NOCOLOR='1',
               ANSIBLE_COLLECTIONS_PATH='%s:%s' % (collections, os.path.join(ROOT, 'playbooks', 'collections')))
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_awx_setup_passes_syntax_check(awx_collection):
    proc = run(['ansible-playbook', 'playbooks/awx_setup.yml', '--syntax-check'], awx_collection)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_awx_setup_passes_ansible_lint(awx_collection):
    proc = run(['ansible-lint', '--offline', '--nocolor', '-c', os.devnull, '--profile', 'production',
                'playbooks/awx_setup.yml'], awx_collection)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert 'passed' in proc.stdout + proc.stderr
