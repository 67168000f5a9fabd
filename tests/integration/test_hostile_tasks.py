"""A request's own tasks and a package's maintainer scripts cannot reach the host: they run in the build sandbox
(module_utils/sandbox.py)."""

import json
import os
import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from osimage_testlib import ROOT, playbook

pytestmark = pytest.mark.integration

POSTINST = """#!/bin/sh
echo procs=$(ls /proc | grep -c '^[0-9]')
kill -9 {pid}; echo kill=$?
echo hostile > /proc/1/root{sentinel}; echo write=$?
mount -t tmpfs hostile /mnt; echo mount=$?
echo ipc=$(grep -c ' {queue} ' /proc/sysvipc/msg)
setsid sleep 602 > /dev/null 2>&1 < /dev/null &
exit 0
"""


def hostile_deb(tmp_path, **names):
    """A package whose postinst tries each escape (``names``: the host's pid, sentinel and IPC queue id)."""
    src = tmp_path / 'deb'
    (src / 'DEBIAN').mkdir(parents=True)
    (src / 'DEBIAN' / 'control').write_text('Package: osimage-hostile\nVersion: 1.0\nArchitecture: all\n'
                                            'Maintainer: osimage tests <tests@osimage.invalid>\n'
                                            'Description: a postinst that tries to reach the host\n')
    (src / 'DEBIAN' / 'postinst').write_text(POSTINST.format(**names))
    (src / 'DEBIAN' / 'postinst').chmod(0o755)
    deb = tmp_path / 'osimage-hostile.deb'
    subprocess.run(['dpkg-deb', '--root-owner-group', '--build', str(src), str(deb)], check=True, capture_output=True)
    return deb


def test_hostile_tasks_and_postinst_neither_see_nor_touch_the_host(tmp_path):
    work = str(tmp_path / 'work')
    sentinel = tmp_path / 'sentinel'
    sentinel.write_text('host\n')
    host = subprocess.Popen(['sleep', '600'])
    queue = subprocess.run(['ipcmk', '-Q'], capture_output=True, text=True, check=True).stdout.split(':')[-1].strip()
    try:
        extra = tmp_path / 'extra.json'
        extra.write_text(json.dumps({
            'osimage': req.resolve({'cache_dir': '/var/cache/osimage'}, build_id='sandboxtest'),
            'osimage_test_dir': work, 'osimage_test_host_pid': host.pid, 'osimage_test_sentinel': str(sentinel),
            'osimage_test_deb': str(hostile_deb(tmp_path, pid=host.pid, sentinel=sentinel, queue=queue))}))
        proc = playbook(os.path.join(ROOT, 'tests/integration/.playbooks/sandbox.yml'), '-e', '@%s' % extra)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        attempts = json.loads((tmp_path / 'work-attempts.json').read_text())
        (ls_rc, ls_out), (kill_rc, write_rc, mount_rc, daemon_rc) = attempts[0], [rc for rc, _out in attempts[1:5]]
        assert ls_rc == 0 and int(ls_out) < 12  # the sandbox's own (PID 1, Ansible's shell and module, ls, grep)
        assert kill_rc != 0 and write_rc != 0 and mount_rc != 0 and daemon_rc == 0
        postinst_rc, postinst_out = attempts[5]
        said = dict(line.split('=', 1) for line in postinst_out.splitlines() if '=' in line)
        assert postinst_rc == 0 and int(said['procs']) < 16, postinst_out  # the sandbox's, dpkg's and the script's
        assert '0' not in (said['kill'], said['write'], said['mount']) and said['ipc'] == '0', postinst_out
        with open('/proc/sysvipc/msg', encoding='utf-8') as f:
            assert ' %s ' % queue in f.read()  # the host's queue, which the postinst did not see
        assert host.poll() is None and sentinel.read_text() == 'host\n'
        left = subprocess.run(['pgrep', '-f', 'sleep 60[12]'], capture_output=True, check=False)
        assert left.stdout == b''
        with open('/proc/self/mountinfo', encoding='utf-8') as f:
            assert work not in f.read()
    finally:
        subprocess.run(['ipcrm', '-q', queue], check=False)
        host.kill()
        host.wait()
