"""The privilege check shared by playbooks/build.yml and the driver, run for real as root, as nobody, and
as root without CAP_SYS_ADMIN (what an unprivileged container gives)."""

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import host_privileges

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='checks what root can do')


def names(found):
    return [name for name, _msg in found]


def as_nobody(**kwargs):
    """problems() computed in a child that dropped to uid and gid 65534 after the imports."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        with os.fdopen(write, 'w') as f:
            json.dump(host_privileges.problems(**kwargs), f)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = json.load(f)
    os.waitpid(pid, 0)
    return out


def test_root_on_this_build_host_has_every_privilege():
    assert host_privileges.problems(boot_test=True) == []


def test_a_user_is_told_to_run_as_root_and_that_loop_devices_are_out_of_reach():
    found = as_nobody(boot_test=False)
    assert names(found) == ['root', 'loop devices']
    assert 'uid 65534' in found[0][1] and 'run it privileged' in found[0][1]
    assert '/dev/loop-control cannot be opened' in found[1][1]


def test_root_without_cap_sys_admin_is_told_it_cannot_mount():
    code = ('import json; from ansible_collections.osimage.builder.plugins.module_utils import host_privileges as h; '
            'print(json.dumps(h.problems(boot_test=False)))')
    proc = subprocess.run(['setpriv', '--inh-caps=-sys_admin', '--bounding-set=-sys_admin', sys.executable, '-c', code],
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'playbooks', 'collections')),
                          capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout)
    assert names(found) == ['mounts']
    assert 'CAP_SYS_ADMIN' in found[0][1]


def test_a_dev_without_the_free_loop_devices_node_is_named(tmp_path):
    """A container's own /dev: loop-control is there, the loop device the kernel hands out is not."""
    os.mknod(tmp_path / 'loop-control', stat.S_IFCHR | 0o600, os.makedev(10, 237))
    problem = host_privileges.loop_problem(str(tmp_path))
    assert problem.startswith(str(tmp_path / 'loop')) and 'has no node in %s' % tmp_path in problem


def test_a_dev_without_loop_control_is_named(tmp_path):
    assert host_privileges.loop_problem(str(tmp_path)) == '%s cannot be opened (No such file or directory)' \
        % (tmp_path / 'loop-control')


def test_kvm_is_required_only_when_asked_for(tmp_path):
    os.mknod(tmp_path / 'loop-control', stat.S_IFCHR | 0o600, os.makedev(10, 237))
    assert 'kvm' in names(host_privileges.problems(boot_test=True, accel='kvm', dev=str(tmp_path)))
    assert 'kvm' not in names(host_privileges.problems(boot_test=True, accel='auto', dev=str(tmp_path)))
    assert 'kvm' not in names(host_privileges.problems(boot_test=False, accel='kvm', dev=str(tmp_path)))
