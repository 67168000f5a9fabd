"""`extends` and presets through the playbook path (extra variables, as an AWX job template passes them)."""

import json
import os

import pytest
import yaml

from osimage_testlib import ROOT, playbook

pytestmark = pytest.mark.integration


def test_extra_vars_extend_a_file_relative_to_the_working_directory(tmp_path):
    base = os.path.join(ROOT, 'tests', 'output', 'extends-base-%d.yml' % os.getpid())
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base, 'w', encoding='utf-8') as f:
        yaml.safe_dump({'hostname': 'base', 'preset': 'server', 'packages': {'install': ['jq']},
                        'root_password': 'hunter2'}, f)
    try:
        extra = {'extends': os.path.relpath(base, ROOT), 'append': ['packages.install', 'preset'],
                 'preset': 'web', 'packages': {'install': ['htop']}, 'work_dir': str(tmp_path / 'work'),
                 'osimage_test_out': str(tmp_path / 'resolved.json')}
        proc = playbook('tests/integration/.playbooks/validate.yml', '-e', json.dumps(extra), timeout=300)
    finally:
        os.unlink(base)
    assert proc.returncode == 0, proc.stdout[-3000:]
    resolved = json.loads((tmp_path / 'resolved.json').read_text())
    assert resolved['hostname'] == 'base' and resolved['preset'] == ['server', 'web']
    assert {'jq', 'htop', 'nginx', 'cron'} <= set(resolved['packages']['install'])
    assert 'nginx' in resolved['preset_services'] and resolved['root_password_hash'] == '********'
    assert 'hunter2' not in proc.stdout


def test_extra_vars_name_a_missing_base(tmp_path):
    proc = playbook('tests/integration/.playbooks/validate.yml', '-e',
                    json.dumps({'extends': 'no/such/base.yml', 'work_dir': str(tmp_path / 'work'),
                                'osimage_test_out': str(tmp_path / 'resolved.json')}), timeout=300)
    assert proc.returncode != 0
    assert "request key 'extends'" in proc.stdout and 'no/such/base.yml' in proc.stdout
    assert not (tmp_path / 'resolved.json').exists()
