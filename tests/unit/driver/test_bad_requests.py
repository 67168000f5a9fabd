"""The bad-request corpus (tests/data/bad_requests.yml): each refused by `osimage build` with exit 2, the key
named and the host untouched (no output or work directory made, nothing mounted). A case's `text` is written
`repeat` times (1 unless given), so a file over the size limit need not be stored.

The cases run the command's main() in this process (the osimage_main fixture); one runs as the installed command,
which refuses it alike."""

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')
with open(os.path.join(ROOT, 'tests', 'data', 'bad_requests.yml'), encoding='utf-8') as f:
    CORPUS = yaml.safe_load(f)


def test_the_corpus_is_large_and_its_ids_are_unique():
    assert len(CORPUS) >= 40
    assert len({case['id'] for case in CORPUS}) == len(CORPUS)


def write(case, tmp_path):
    """Write the case's request; return the arguments of `osimage`."""
    request = tmp_path / 'request.yml'
    if 'text' in case:
        request.write_text(case['text'] * case.get('repeat', 1))
    else:
        body = dict(case['request'])
        body.setdefault('work_dir', str(tmp_path / 'work'))
        request.write_text(yaml.safe_dump(body))
    return ['build', str(request)] + ([] if 'output_dir' in case.get('request', {}) else ['-o', str(tmp_path / 'out')])


def assert_refused(case, tmp_path, code, stderr):
    assert code == 2, stderr
    assert case['key'] in stderr and case['says'] in stderr, stderr
    assert 'Traceback' not in stderr
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'work').exists()
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert str(tmp_path) not in f.read()


@pytest.mark.parametrize('case', CORPUS, ids=[case['id'] for case in CORPUS])
def test_bad_request_is_refused_before_touching_the_host(case, tmp_path, osimage_main):
    code, _out, err = osimage_main(*write(case, tmp_path))
    assert_refused(case, tmp_path, code, err)


def test_the_installed_command_refuses_a_bad_request_alike(tmp_path):
    case = CORPUS[0]
    proc = subprocess.run([OSIMAGE] + write(case, tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert_refused(case, tmp_path, proc.returncode, proc.stderr)
