"""The bad-request corpus (tests/data/bad_requests.yml): each refused by `osimage build` with exit 2, the key
named and the host untouched (no output or work directory made, nothing mounted). A case's `text` is written
`repeat` times (1 unless given), so a file over the size limit need not be stored."""

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


@pytest.mark.parametrize('case', CORPUS, ids=[case['id'] for case in CORPUS])
def test_bad_request_is_refused_before_touching_the_host(case, tmp_path):
    request = tmp_path / 'request.yml'
    if 'text' in case:
        request.write_text(case['text'] * case.get('repeat', 1))
    else:
        body = dict(case['request'])
        body.setdefault('work_dir', str(tmp_path / 'work'))
        request.write_text(yaml.safe_dump(body))
    output = [] if 'output_dir' in case.get('request', {}) else ['-o', str(tmp_path / 'out')]
    proc = subprocess.run([OSIMAGE, 'build', str(request)] + output, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert case['key'] in proc.stderr and case['says'] in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'work').exists()
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert str(tmp_path) not in f.read()
