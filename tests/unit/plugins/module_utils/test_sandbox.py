"""The build sandbox, for real: a static busybox tree, a host process and a host file that commands inside
try to reach."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import chroot
from ansible_collections.osimage.builder.plugins.module_utils import sandbox

BUSYBOX = shutil.which('busybox')
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not BUSYBOX, reason='needs root and a static busybox')
APPLETS = ('sh', 'ls', 'cat', 'kill', 'mount', 'sleep', 'echo', 'grep', 'mknod', 'hostname')


@pytest.fixture(name='tree')
def fixture_tree(tmp_path):
    root = tmp_path / 'root'
    for d in ('bin', 'proc', 'sys', 'tmp', 'dev'):
        (root / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / 'bin' / 'busybox')
    for applet in APPLETS:
        os.symlink('busybox', root / 'bin' / applet)
    os.mknod(root / 'dev' / 'null', 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return str(root)


def inside(tree, script, **kwargs):
    return subprocess.run(sandbox.command(tree) + ['sh', '-c', script], capture_output=True, text=True,
                          env={'PATH': '/bin'}, check=False, timeout=30, **kwargs)


def test_a_command_runs_in_the_tree_and_its_status_comes_back(tree):
    proc = inside(tree, 'ls /; exit 7')
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.split() == ['bin', 'dev', 'proc', 'sys', 'tmp']


def test_host_processes_are_invisible_and_cannot_be_signalled(tree):
    host = subprocess.Popen(['sleep', '60'])
    try:
        proc = inside(tree, 'ls /proc | grep -c "^[0-9]"; kill -9 %d; echo killed=$?' % host.pid)
        assert int(proc.stdout.split()[0]) <= 4  # PID 1, the shell, ls, grep
        assert 'killed=1' in proc.stdout
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()


def test_the_host_root_is_unreachable(tree, tmp_path):
    sentinel = tmp_path / 'sentinel'
    sentinel.write_text('host\n')
    for path in ('/proc/1/root', '/proc/self/root/..', '/proc/2/cwd'):
        proc = inside(tree, 'echo hostile > %s%s; cat %s%s/etc/hostname' % (path, sentinel, path, '/..'))
        assert 'hostile' not in sentinel.read_text() and proc.returncode != 0, (path, proc.stdout)
    assert sentinel.read_text() == 'host\n'


def test_the_hosts_ipc_objects_are_invisible(tree):
    """A host SysV message queue (IPC namespace): the host lists it, the sandbox sees an empty table."""
    made = subprocess.run(['ipcmk', '-Q'], capture_output=True, text=True, check=True).stdout
    queue = made.split(':')[-1].strip()
    try:
        with open('/proc/sysvipc/msg', encoding='utf-8') as f:
            assert queue in [line.split()[1] for line in f.readlines()[1:]]
        proc = inside(tree, 'cat /proc/sysvipc/msg')
        assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1, proc.stdout  # the header alone
    finally:
        subprocess.run(['ipcrm', '-q', queue], check=True)


def test_mounts_device_nodes_and_kernel_settings_are_refused(tree):
    proc = inside(tree, 'mount -t tmpfs none /tmp; echo mount=$?; mknod /tmp/sda b 8 0; echo mknod=$?; '
                        'echo 1 > /proc/sys/kernel/core_pattern; echo core=$?; echo x > /sys/kernel/uevent_helper; '
                        'echo uevent=$?; grep CapBnd /proc/self/status')
    assert ['mount=1' in proc.stdout, 'mknod=1' in proc.stdout, 'core=1' in proc.stdout,
            'uevent=1' in proc.stdout] == [True] * 4, proc.stdout + proc.stderr
    bounding = int(proc.stdout.split('CapBnd:')[1].split()[0], 16)
    assert not any(bounding & (1 << cap) for cap in sandbox.DROPPED_CAPS.values())
    assert bounding & (1 << 0) and bounding & (1 << 1)  # chown and dac_override: package installs need them
    assert not os.listdir(os.path.join(tree, 'tmp')) and os.listdir(os.path.join(tree, 'dev')) == ['null']


def test_the_hostname_and_the_hosts_mounts_stay_as_they_were(tree):
    before = (os.uname().nodename, chroot.mounts())
    proc = inside(tree, 'hostname hostile; echo set=$?; hostname')
    assert proc.stdout.split() == ['set=1', before[0]]
    assert (os.uname().nodename, chroot.mounts()) == before


def test_what_a_command_leaves_running_ends_with_it(tree):
    proc = inside(tree, 'sleep 300 & echo started')
    assert proc.returncode == 0 and 'started' in proc.stdout
    assert chroot.pids_in(tree) == []


def test_processes_of_a_running_sandbox_are_found_and_stopped(tree):
    launcher = subprocess.Popen(sandbox.command(tree) + ['/bin/sh', '-c', 'sleep 300 & sleep 300; true'],
                                env={'PATH': '/bin'})
    try:
        deadline = time.monotonic() + 10
        while len(chroot.pids_in(tree)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        found = chroot.pids_in(tree)
        assert launcher.pid in found and len(found) == 5  # launcher, its PID 1, sh, two sleeps
        assert chroot.pids_in(os.path.dirname(tree) + '/other') == []
        assert chroot.kill_processes(tree) == []
        assert launcher.wait(timeout=10) == -signal.SIGTERM
    finally:
        launcher.kill()


def test_a_copy_made_for_a_module_runs_as_chroot_would(tree, tmp_path):
    launcher = sandbox.install(str(tmp_path / 'bin'))
    assert os.path.basename(launcher) == 'chroot'
    proc = subprocess.run([launcher, tree, '/bin/echo', 'hello'], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, 'hello\n'), proc.stderr
    missing = subprocess.run([sys.executable, sandbox.__file__, tree, '/bin/none'], capture_output=True, text=True,
                             check=False)
    assert missing.returncode == 127 and '/bin/none' in missing.stderr
