"""ansible-doc renders every plugin of the collection, and every module states its contract as attributes
(check_mode, diff_mode, platform: the osimage.builder.attributes fragment), not as prose."""

import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def names(kind):
    return ['osimage.builder.' + os.path.basename(p)[:-3] for p in sorted(glob.glob(os.path.join(ROOT, 'plugins', kind, '*.py')))
            if not p.endswith('__init__.py')]


def ansible_doc(kind, plugins):
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '--json', '-t', kind, *plugins], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg')))
    assert proc.returncode == 0 and '[WARNING]' not in proc.stderr, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == sorted(plugins)
    return {name: doc['doc'] for name, doc in docs.items()}


def test_every_module_renders_with_check_mode_diff_mode_and_platform_attributes():
    modules = names('modules')
    assert len(modules) >= 16
    for name, doc in ansible_doc('module', modules).items():
        attributes = doc['attributes']
        for key in ('check_mode', 'diff_mode', 'platform'):
            assert attributes[key]['support'] in ('full', 'partial', 'none'), (name, key)
            assert attributes[key]['description'], (name, key)  # from the fragment
        assert attributes['platform']['platforms'] in ('linux', 'posix'), name
        if attributes['check_mode']['support'] == 'partial':
            assert attributes['check_mode']['details'], name
        assert not [n for n in doc.get('notes', []) if 'check mode' in n.lower()], name


def test_the_callback_and_the_connection_render():
    stages = ansible_doc('callback', ['osimage.builder.stages'])['osimage.builder.stages']
    assert stages['type'] == 'aggregate' and 'events_file' in stages['options']
    assert ansible_doc('connection', names('connection'))
