"""The modules run twice through Ansible: changed the first time, unchanged the second."""

import json
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from osimage_testlib import ROOT, loops_of, playbook

pytestmark = pytest.mark.integration


def test_modules_are_idempotent_and_never_write_through_symlinks(tmp_path):
    work = str(tmp_path / 'work')
    # The default request, resolved as the build resolves it: the debian role bootstraps the default tree.
    build = tmp_path / 'build.json'
    build.write_text(json.dumps({'osimage': req.resolve({'cache_dir': '/var/cache/osimage'}, build_id='moduletest'),
                                 'osimage_test_dir': work}))
    proc = playbook(os.path.join(ROOT, 'tests/integration/.playbooks/modules.yml'), '-e', '@%s' % build)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert 'All assertions passed' in proc.stdout
    assert not os.path.exists(work)
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        assert work not in f.read()
    assert loops_of(work) == []
