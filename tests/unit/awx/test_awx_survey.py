"""The AWX survey generated from the request schema covers every key and round-trips a request."""

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils import survey

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = survey.survey_spec()
FULL = {
    'name': 'web-1', 'distro': 'debian', 'release': 'bookworm', 'arch': 'amd64', 'hostname': 'web1',
    'root_password': 'secret', 'serial_console': False, 'compress': True, 'formats': ['qcow2', 'raw'],
    'packages': {'install': ['htop'], 'remove': []}, 'users': [{'name': 'ada', 'sudo': True, 'groups': ['adm']}],
    'disk': {'size': '4GiB', 'table': 'gpt', 'firmware': 'uefi'}, 'platform': 'kvm', 'locale': 'en_US.UTF-8',
    'boot_test': {'enabled': True, 'timeout': 600, 'accel': 'tcg', 'verify': False},
    'security': {'ssh': {'port': 2222}, 'firewall': {'enabled': True, 'allowed_ports': [{'port': 80, 'proto': 'tcp'}]}},
}


def test_every_schema_key_is_a_question_with_its_default_and_choices():
    by_key = {q['variable']: q for q in SPEC['spec']}
    assert list(by_key) == list(req.KEYS)
    assert by_key['distro']['type'] == 'multiplechoice' and 'debian' in by_key['distro']['choices']
    assert by_key['distro']['default'] == 'debian'
    assert by_key['arch']['choices'] == [str(a) for a in req.SCHEMA['properties']['arch']['enum']]
    assert by_key['root_password']['type'] == 'password'
    assert by_key['formats']['type'] == 'textarea' and by_key['formats']['default'] == '["qcow2"]'
    assert by_key['hostname'] == dict(by_key['hostname'], type='text', default='localhost')
    for q in SPEC['spec']:
        assert q['type'] in ('multiplechoice', 'integer', 'password', 'text', 'textarea')
        assert len(q['variable']) and q['required'] is False


@pytest.mark.parametrize('request_file', [None] + sorted(glob.glob(os.path.join(ROOT, 'examples', '*.yml'))))
def test_answers_round_trip_into_the_same_valid_request(request_file):
    if request_file is None:
        request = FULL
    else:
        with open(request_file, encoding='utf-8') as f:
            request = yaml.safe_load(f)
    given = survey.answers(request, SPEC)
    assert all(isinstance(v, (str, int, float)) or v is None for v in given.values())
    back = survey.to_request(given, SPEC)
    assert back == request
    req.validate(back, cwd=os.path.dirname(request_file or ROOT))


def test_empty_answers_leave_the_key_to_its_default():
    assert survey.to_request({'hostname': '', 'disk': '', 'distro': 'ubuntu'}, SPEC) == {'distro': 'ubuntu'}


def test_osimage_survey_prints_the_spec():
    proc = subprocess.run([sys.executable, '-m', 'osimage.cli', 'survey'], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'driver')))
    assert json.loads(proc.stdout) == json.loads(json.dumps(SPEC))


def test_decoding_keeps_mappings_and_plain_names_and_decodes_json_text():
    request = {'extends': 'base.yml', 'disk': {'size': '4GiB'}, 'serial_console': 'true'}
    assert survey.to_request(request, SPEC) == {'extends': 'base.yml', 'disk': {'size': '4GiB'}, 'serial_console': True}


def test_survey_answers_given_to_the_playbook_resolve_as_the_request(tmp_path):
    """What AWX passes: every answer an extra variable, JSON text for mappings and lists, empty when not given."""
    request = {'disk': {'size': '4GiB'}, 'formats': ['raw'], 'boot_test': {'enabled': False}, 'hostname': ''}
    given = dict(survey.answers(request, SPEC), hostname='', osimage_test_out=str(tmp_path / 'out.json'))
    given[survey.MARKER] = True  # what the job template's extra variables add (playbooks/awx_setup.yml)
    proc = validate('-e', json.dumps(given))
    assert proc.returncode == 0, proc.stdout[-3000:]
    resolved = json.loads((tmp_path / 'out.json').read_text())
    assert (resolved['disk']['size'], resolved['formats'], resolved['hostname']) == ('4GiB', ['raw'], 'localhost')
    assert resolved['boot_test']['enabled'] is False


def validate(*args):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                           'tests/integration/.playbooks/validate.yml', *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize('marker', [None, False])
def test_a_request_file_is_not_decoded_as_survey_answers(tmp_path, marker):
    """-e @request.yml with a string where the schema wants a boolean, or JSON text for a list, is refused as it
    was before surveys: only the job template's marker makes the request keys survey answers."""
    request = tmp_path / 'request.yml'
    request.write_text('serial_console: "true"\nformats: \'["raw"]\'\nhostname: ""\n')
    extra = {'osimage_test_out': str(tmp_path / 'out.json')}
    if marker is not None:
        extra[survey.MARKER] = marker
    proc = validate('-e', '@%s' % request, '-e', json.dumps(extra))
    assert proc.returncode == 2, proc.stdout[-3000:]
    for key in ('serial_console', 'formats', 'hostname'):
        assert "request key '%s'" % key in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / 'out.json').exists()


def test_the_same_answers_with_the_survey_marker_are_decoded(tmp_path):
    request = tmp_path / 'request.yml'
    request.write_text('serial_console: "false"\nformats: \'["raw"]\'\nhostname: ""\n')
    extra = {'osimage_test_out': str(tmp_path / 'out.json'), survey.MARKER: 'true'}
    proc = validate('-e', '@%s' % request, '-e', json.dumps(extra))
    assert proc.returncode == 0, proc.stdout[-3000:]
    resolved = json.loads((tmp_path / 'out.json').read_text())
    assert (resolved['serial_console'], resolved['formats'], resolved['hostname']) == (False, ['raw'], 'localhost')
