"""A request's own tasks cannot reach the host: they run in the build sandbox (module_utils/sandbox.py)."""

import json
import os
import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from osimage_testlib import ROOT, playbook

pytestmark = pytest.mark.integration


def test_hostile_tasks_neither_see_nor_touch_the_host(tmp_path):
    work = str(tmp_path / 'work')
    sentinel = tmp_path / 'sentinel'
    sentinel.write_text('host\n')
    host = subprocess.Popen(['sleep', '600'])
    try:
        extra = tmp_path / 'extra.json'
        extra.write_text(json.dumps({
            'osimage': req.resolve({'cache_dir': '/var/cache/osimage'}, build_id='sandboxtest'),
            'osimage_test_dir': work, 'osimage_test_host_pid': host.pid, 'osimage_test_sentinel': str(sentinel)}))
        proc = playbook(os.path.join(ROOT, 'tests/integration/.playbooks/sandbox.yml'), '-e', '@%s' % extra)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        attempts = json.loads((tmp_path / 'work-attempts.json').read_text())
        (ls_rc, ls_out), (kill_rc, write_rc, mount_rc, daemon_rc) = attempts[0], [rc for rc, _out in attempts[1:]]
        assert ls_rc == 0 and int(ls_out) < 12  # the sandbox's own (PID 1, Ansible's shell and module, ls, grep)
        assert kill_rc != 0 and write_rc != 0 and mount_rc != 0 and daemon_rc == 0
        assert host.poll() is None and sentinel.read_text() == 'host\n'
        left = subprocess.run(['pgrep', '-f', 'sleep 601'], capture_output=True, check=False)
        assert left.stdout == b''
        with open('/proc/self/mountinfo', encoding='utf-8') as f:
            assert work not in f.read()
    finally:
        host.kill()
        host.wait()
