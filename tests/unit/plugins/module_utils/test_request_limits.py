"""Bounded request parsing: alias bombs, oversized documents, deep nesting and duplicate keys are refused
naming the file, line and key, quickly and without expanding anything."""

import os
import resource
import time

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader

from ansible_collections.osimage.builder.plugins.module_utils import extends
from ansible_collections.osimage.builder.plugins.module_utils import request_limits as limits
from ansible_collections.osimage.builder.plugins.module_utils.request import RequestError


def alias_bomb(levels=9, width=9):
    """Ten lines that stand for width**levels values: each anchor is a list of `width` aliases to the last."""
    lines = ['a: &a [%s]' % ','.join(['x'] * width)]
    names = 'abcdefghijklmnop'
    for prev, name in zip(names, names[1:levels]):
        lines.append('%s: &%s [%s]' % (name, name, ','.join(['*' + prev] * width)))
    lines.append('packages: {install: *%s}' % names[levels - 1])
    return '\n'.join(lines) + '\n'


def refusal(func, *args, **kwargs):
    with pytest.raises(RequestError) as info:
        func(*args, **kwargs)
    (key, message), = info.value.errors
    return key, message


def test_the_depth_limit_is_the_schemas():
    # disk.lvm.volumes[].subvolumes[].options[]: the deepest list a request can give
    assert limits.MAX_DEPTH == 8


def test_an_alias_bomb_is_refused_in_milliseconds_naming_file_line_and_key(tmp_path):
    path = tmp_path / 'bomb.yml'
    path.write_text(alias_bomb())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    key, message = refusal(limits.check_file, str(path))
    assert time.monotonic() - started < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 10 * 1024  # KiB
    assert key == 'f[0]' and '%s line 6' % path in message and 'more than 100000 values' in message


def test_an_alias_bomb_already_parsed_is_counted_without_expanding():
    data = yaml.safe_load(alias_bomb())  # PyYAML keeps aliases as shared references
    assert data['packages']['install'] is data['i']
    started = time.monotonic()
    key, message = refusal(limits.check_data, data)
    assert time.monotonic() - started < 0.5
    assert key == 'f[0]' and 'more than 100000 values' in message


def test_an_alias_bomb_parsed_by_ansible_is_refused_naming_where_it_was_read(tmp_path):
    path = tmp_path / 'bomb.yml'
    path.write_text(alias_bomb())
    data = DataLoader().load_from_file(str(path))

    def where(value):
        return 'somewhere' if value is data['f'] else None
    key, message = refusal(limits.check_data, data, where=where)
    assert key == 'f[0]' and 'more than 100000 values' in message


def test_aliases_that_expand_to_a_modest_size_are_fine(tmp_path):
    path = tmp_path / 'ok.yml'
    path.write_text(alias_bomb(levels=4, width=9))  # 9**4 values
    assert limits.check_file(str(path)) == path.read_bytes()
    limits.check_data(yaml.safe_load(path.read_text()))


def test_long_strings_repeated_by_aliases_count_as_text():
    text = 's: &s "%s"\nl: [%s]\n' % ('x' * 100000, ', '.join(['*s'] * 30))
    key, message = refusal(limits.check_text, text, 'r.yml')
    assert key.startswith('l[') and 'MiB of text' in message
    key, message = refusal(limits.check_data, yaml.safe_load(text))
    assert key.startswith('l[') and 'MiB of text' in message


def test_a_document_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / 'big.yml'
    path.write_text('packages:\n  install:\n' + '    - vim\n' * 150000)
    key, message = refusal(limits.check_file, str(path))
    assert key == '(file)' and str(path) in message and 'over the 1 MiB limit' in message


@pytest.mark.parametrize('text,key,line', [
    ('disk: ' + '[' * 8 + ']' * 8 + '\n', 'disk' + '[0]' * 7, 1),
    ('users:\n  - name: ada\n    groups: ' + '[' * 7 + ']' * 7 + '\n', 'users[0].groups' + '[0]' * 5, 3),
    ('a: ' + '[' * 100000 + ']' * 100000 + '\n', 'a' + '[0]' * 7, 1),  # PyYAML's composer would crash
    ('x: &x [[[[1]]]]\ny: [[[[[*x]]]]]\n', 'y[0][0][0][0][0]', 2),  # deep only once the alias expands
])
def test_nesting_deeper_than_the_schema_is_refused(text, key, line):
    got_key, message = refusal(limits.check_text, text, 'r.yml')
    assert got_key == key and 'r.yml line %d' % line in message and 'nests at most 8 deep' in message
    if len(text) < 1000:
        assert refusal(limits.check_data, yaml.safe_load(text))[0] == key


def test_a_valid_request_at_the_schemas_depth_passes():
    text = ('disk:\n  lvm:\n    volumes:\n      - name: root\n        subvolumes:\n          - name: home\n'
            '            options: [compress=zstd]\n')
    limits.check_text(text, 'r.yml')
    limits.check_data(yaml.safe_load(text))


@pytest.mark.parametrize('text,key,line,first', [
    ('distro: debian\nhostname: web\ndistro: ubuntu\n', 'distro', 3, 1),
    ('disk:\n  size: 4GiB\n  table: gpt\n  size: 8GiB\n', 'disk.size', 4, 2),
    ('users:\n  - name: ada\n    shell: /bin/sh\n    name: bob\n', 'users[0].name', 4, 2),
    ('{hostname: a, "hostname": b}\n', 'hostname', 1, 1),
])
def test_a_key_given_twice_is_refused_naming_both_lines(text, key, line, first):
    got_key, message = refusal(limits.check_text, text, 'r.yml')
    assert got_key == key and 'r.yml line %d' % line in message and 'first on line %d' % first in message


def test_the_same_key_in_different_mappings_is_fine():
    limits.check_text('users:\n  - {name: ada}\n  - {name: bob}\ndisk: {size: 4GiB}\nboot_test: {grow: 1GiB}\n',
                      'r.yml')


def test_an_alias_to_a_value_that_contains_it_is_refused():
    key, message = refusal(limits.check_text, 'a: &a [1, *a]\n', 'r.yml')
    assert key == 'a[1]' and 'contains it' in message
    data = []
    data.append(data)
    assert 'contains itself' in refusal(limits.check_data, {'users': data})[1]


def test_invalid_yaml_is_left_to_the_loader_to_explain():
    limits.check_text('distro: [debian\n', 'r.yml')


def test_a_vaulted_file_is_bounded_once_decrypted(tmp_path):
    path = tmp_path / 'r.yml'
    path.write_text('$ANSIBLE_VAULT;1.1;AES256\n3133\n')

    def decrypt(_path):
        return alias_bomb()
    key, message = refusal(limits.check_file, str(path), decrypt)
    assert key == 'f[0]'


def test_an_extends_chain_that_fans_out_is_refused(tmp_path):
    # each file extends the next one twice: 2**20 reads without a bound on how many files are read
    for i in range(20):
        (tmp_path / ('%d.yml' % i)).write_text('extends: [%d.yml, %d.yml]\n' % (i + 1, i + 1))
    (tmp_path / '20.yml').write_text('hostname: leaf\n')

    def load(path):
        with open(path, encoding='utf-8') as f:
            return yaml.safe_load(f)
    key, message = refusal(extends.load_request_file, str(tmp_path / '0.yml'), load)
    assert key == 'extends' and 'more than %d files' % limits.MAX_FILES in message


def test_a_merged_request_is_bounded_too(tmp_path):
    text = alias_bomb(levels=5, width=7)  # 42000 values in one file; three bases (keys of their own) make 127000
    for name in 'abc':
        (tmp_path / (name + '.yml')).write_text(''.join(name + line + '\n' for line in text.splitlines()))
    (tmp_path / 'top.yml').write_text('extends: [a.yml, b.yml, c.yml]\n')

    def load(path):
        with open(path, encoding='utf-8') as f:
            return yaml.safe_load(f)
    assert 'more than 100000 values' in refusal(extends.load_request_file, str(tmp_path / 'top.yml'), load)[1]


def test_the_limits_are_what_the_readme_says():
    with open(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    for words in ('1 MiB', '%d values' % limits.MAX_VALUES, '%d deep' % limits.MAX_DEPTH, '%d files' % limits.MAX_FILES):
        assert words in readme, words
