"""Requests that extend other request files: the merge rules, chains, cycles and missing files."""

import os

import pytest
import yaml

from ansible_collections.osimage.builder.plugins.module_utils import extends
from ansible_collections.osimage.builder.plugins.module_utils.request import RequestError


def load(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def write(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'w', encoding='utf-8') as f:
        f.write(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def error_of(func, *args):
    with pytest.raises(RequestError) as info:
        func(*args)
    return dict(info.value.errors)


def test_maps_merge_recursively_and_lists_replace():
    base = {'hostname': 'base', 'disk': {'size': '4GiB', 'table': 'mbr'}, 'formats': ['raw', 'qcow2'],
            'packages': {'install': ['curl'], 'remove': ['nano']}}
    over = {'disk': {'size': '8GiB'}, 'formats': ['vmdk'], 'packages': {'install': ['htop']}}
    merged = extends.merge(base, over)
    assert merged == {'hostname': 'base', 'disk': {'size': '8GiB', 'table': 'mbr'}, 'formats': ['vmdk'],
                      'packages': {'install': ['htop'], 'remove': ['nano']}}
    assert base['disk'] == {'size': '4GiB', 'table': 'mbr'}, 'the base is not changed'


def test_append_adds_to_the_base_list_without_repeating_plain_items():
    base = {'packages': {'install': ['curl', 'jq']}, 'users': [{'name': 'ada'}], 'preset': 'server'}
    over = {'packages': {'install': ['jq', 'htop']}, 'users': [{'name': 'bob'}], 'preset': 'web'}
    merged = extends.merge(base, over, ['packages.install', 'users', 'preset'])
    assert merged['packages']['install'] == ['curl', 'jq', 'htop']
    assert merged['users'] == [{'name': 'ada'}, {'name': 'bob'}]
    assert merged['preset'] == ['server', 'web']


def test_a_chain_resolves_relative_to_each_file(tmp_path):
    write(tmp_path / 'base' / 'root.yml', {'hostname': 'root', 'packages': {'install': ['curl']},
                                           'kernel_cmdline': ['quiet']})
    write(tmp_path / 'base' / 'team.yml', {'extends': 'root.yml', 'hostname': 'team', 'append': ['packages.install'],
                                           'packages': {'install': ['jq']}})
    top = write(tmp_path / 'images' / 'web.yml', {'extends': ['../base/team.yml'], 'preset': 'web',
                                                  'kernel_cmdline': ['debug']})
    merged = extends.load_request_file(top, load)
    assert merged == {'hostname': 'team', 'packages': {'install': ['curl', 'jq']}, 'kernel_cmdline': ['debug'],
                      'preset': 'web'}


def test_several_bases_merge_left_to_right(tmp_path):
    write(tmp_path / 'a.yml', {'hostname': 'a', 'formats': ['raw'], 'disk': {'size': '4GiB'}})
    write(tmp_path / 'b.yml', {'hostname': 'b', 'disk': {'table': 'mbr'}})
    top = write(tmp_path / 'top.yml', {'extends': ['a.yml', 'b.yml'], 'formats': ['vdi']})
    assert extends.load_request_file(top, load) == {'hostname': 'b', 'formats': ['vdi'],
                                                    'disk': {'size': '4GiB', 'table': 'mbr'}}


def test_extra_vars_extend_files_relative_to_the_working_directory(tmp_path):
    write(tmp_path / 'base.yml', {'hostname': 'base', 'formats': ['raw']})
    merged = extends.resolve_extends({'extends': 'base.yml', 'formats': ['qcow2']}, str(tmp_path), load)
    assert merged == {'hostname': 'base', 'formats': ['qcow2']}


def test_key_files_are_relative_to_the_file_that_names_them(tmp_path):
    write(tmp_path / 'base' / 'root.yml', {'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': 'k.asc'}]})
    top = write(tmp_path / 'top.yml', {'extends': 'base/root.yml'})
    merged = extends.load_request_file(top, load)
    assert merged['repositories'][0]['key_file'] == str(tmp_path / 'base' / 'k.asc')


def test_a_cycle_is_an_error_naming_the_files(tmp_path):
    write(tmp_path / 'a.yml', {'extends': 'b.yml'})
    write(tmp_path / 'b.yml', {'extends': 'a.yml'})
    errors = error_of(extends.load_request_file, str(tmp_path / 'a.yml'), load)
    assert 'cycle' in errors['extends'] and 'a.yml -> ' in errors['extends'] and 'b.yml' in errors['extends']


def test_a_file_extending_itself_is_a_cycle(tmp_path):
    top = write(tmp_path / 'a.yml', {'extends': 'a.yml'})
    assert 'cycle' in error_of(extends.load_request_file, top, load)['extends']


def test_a_missing_base_names_the_file_and_who_names_it(tmp_path):
    top = write(tmp_path / 'top.yml', {'extends': 'nope.yml'})
    message = error_of(extends.load_request_file, top, load)['extends']
    assert str(tmp_path / 'nope.yml') in message and 'does not exist' in message and 'top.yml' in message


def test_a_base_that_is_not_a_mapping_is_an_error(tmp_path):
    write(tmp_path / 'list.yml', '- a\n- b\n')
    top = write(tmp_path / 'top.yml', {'extends': 'list.yml'})
    assert 'is not a request' in error_of(extends.load_request_file, top, load)['extends']


@pytest.mark.parametrize('request_,key,words', [
    ({'extends': 5}, 'extends', 'a file name or a list of file names'),
    ({'extends': ['']}, 'extends', 'a file name or a list'),
    ({'append': {'packages': 'install'}}, 'append', 'list of dotted key paths'),
    ({'append': ['packages.instal'], 'packages': {'install': ['x']}}, 'append[0]', 'packages.instal'),
    ({'append': ['hostname'], 'hostname': 'x'}, 'append[0]', 'not a list'),
])
def test_bad_extends_and_append_values_name_the_key(tmp_path, request_, key, words):
    assert words in error_of(extends.resolve_extends, request_, str(tmp_path), load)[key]


def test_an_empty_base_file_is_an_empty_request(tmp_path):
    write(tmp_path / 'empty.yml', '')
    assert extends.resolve_extends({'extends': 'empty.yml', 'hostname': 'h'}, str(tmp_path), load) == {'hostname': 'h'}
