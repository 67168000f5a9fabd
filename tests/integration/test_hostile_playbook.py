"""Hostile request files through ansible-playbook (`-e @request.yml`, as an AWX job passes extra vars): refused
by validate_request before templating expands them, naming the file, line and key. No image is built."""

import json
import time

import pytest

from osimage_testlib import playbook

pytestmark = pytest.mark.integration

BOMB = ''.join(['a: &a [x,x,x,x,x,x,x,x,x]\n']
               + ['%s: &%s [%s]\n' % (n, n, ','.join(['*' + p] * 9)) for p, n in zip('abcdefgh', 'bcdefghi')]
               + ['packages: {install: *i}\n'])
VALIDATE = 'tests/integration/.playbooks/validate.yml'


def run_validate(tmp_path, *args, path=VALIDATE):
    started = time.monotonic()
    extra = json.dumps({'work_dir': str(tmp_path / 'work'), 'osimage_test_out': str(tmp_path / 'out.json')})
    proc = playbook(path, '-e', extra, *args, timeout=120)
    return proc, time.monotonic() - started


def test_an_alias_bomb_in_extra_vars_is_refused_before_templating_expands_it(tmp_path):
    request = tmp_path / 'bomb.yml'
    request.write_text(BOMB)
    proc, seconds = run_validate(tmp_path, '-e', '@%s' % request)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "request key 'f[0]': %s line 6" % request in proc.stdout and 'more than 100000 values' in proc.stdout
    assert seconds < 60 and not (tmp_path / 'out.json').exists()


def test_an_extra_vars_file_over_the_size_limit_is_refused(tmp_path):
    request = tmp_path / 'big.yml'
    request.write_text('hostname: web\n' + '# padding\n' * 120000)  # 1.1 MiB that Ansible reads as one key
    proc, _seconds = run_validate(tmp_path, '-e', '@%s' % request)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "request key '(file)': %s: is 1.1 MiB, over the 1 MiB limit of a request file" % request in proc.stdout
    assert not (tmp_path / 'out.json').exists()


WIDE_BOMB = ('a: &a [%s]\n' % ','.join(['x'] * 100) + 'b: &b [%s]\n' % ','.join(['*a'] * 100)
             + 'c: &c [%s]\n' % ','.join(['*b'] * 100) + 'packages: {install: *c}\n')


@pytest.mark.parametrize('text,words', [
    (BOMB, "request key 'packages.install[0][0][0][0][0][0]': %s line 3: nested 9 deep"),  # c's list
    (WIDE_BOMB, "request key 'packages.install[9]': %s line 2: the request expands to more than 100000 values"),
])
def test_an_alias_bomb_in_parsed_variables_is_counted_without_expanding(tmp_path, text, words):
    request = tmp_path / 'bomb.yml'
    request.write_text(text)
    proc, _seconds = run_validate(tmp_path, '-e', json.dumps({'osimage_test_vars': str(request)}),
                                  path='tests/integration/.playbooks/validate_vars_file.yml')
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert words % request in proc.stdout, proc.stdout[-3000:]


def test_a_duplicate_key_stops_ansible_with_the_repositorys_config(tmp_path):
    request = tmp_path / 'twice.yml'
    request.write_text('distro: debian\nhostname: web\ndistro: ubuntu\n')
    proc, _seconds = run_validate(tmp_path, '-e', '@%s' % request)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # Ansible's own parse error: duplicate_dict_key = error
    assert "Found duplicate mapping key 'distro'" in proc.stderr and '%s:3:1' % request in proc.stderr


def test_a_duplicate_key_is_refused_by_validate_request_under_another_config(tmp_path, monkeypatch):
    monkeypatch.setenv('ANSIBLE_DUPLICATE_YAML_DICT_KEY', 'warn')  # as under an ansible.cfg without the setting
    request = tmp_path / 'twice.yml'
    request.write_text('distro: debian\nhostname: web\ndistro: ubuntu\n')
    proc, _seconds = run_validate(tmp_path, '-e', '@%s' % request)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "request key 'distro': %s line 3: the key 'distro' is given twice" % request in proc.stdout


def test_inline_extra_vars_nested_too_deep_are_refused(tmp_path):
    proc, _seconds = run_validate(tmp_path, '-e', json.dumps({'packages': {'install': [[[[[[[['vim']]]]]]]]}}))
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "request key 'packages.install[0][0][0][0][0][0]': nested 9 deep" in proc.stdout
