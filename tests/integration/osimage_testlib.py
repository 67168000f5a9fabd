"""Helpers for the integration tests: run commands and playbooks, read a finished build."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile

from ansible_collections.osimage.builder.plugins.module_utils import chroot

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(argv, **kwargs):
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    kwargs.setdefault('check', False)
    return subprocess.run(argv, **kwargs)  # pylint: disable=subprocess-run-check


def playbook(path, *args, timeout=1800):
    """Run a playbook with the repository's ansible.cfg; return the CompletedProcess."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), PATH=BIN + os.pathsep + os.environ['PATH'],
               ANSIBLE_NOCOLOR='1')
    return run([os.path.join(BIN, 'ansible-playbook'), path, *args], env=env, cwd=ROOT, timeout=timeout)


def _signal(pids, sig):
    for target in pids:
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


def kill_everything(pid):
    """SIGKILL a process and all its descendants at once, like a lost machine would; return their pids."""
    targets = [pid] + chroot.descendants(pid)
    _signal(targets, signal.SIGKILL)
    return targets


def stop_everything(pids):
    """SIGSTOP processes ``pids`` and all their descendants, again until no new one appears (a stopped process
    forks no more); return the stopped pids for continue_everything."""
    stopped = set()
    while True:
        new = {p for pid in pids for p in [pid] + chroot.descendants(pid)} - stopped
        if not new:
            return stopped
        _signal(new, signal.SIGSTOP)
        stopped |= new


def continue_everything(pids):
    _signal(pids, signal.SIGCONT)


def ansible_local_dirs(pids):
    """Ansible's own temporary directories (ansible-local-PID and 8 characters) of ``pids``, in its default place
    and in the driver's."""
    found = []
    for place in (os.path.expanduser('~/.ansible/tmp'), os.path.join(tempfile.gettempdir(), 'osimage-ansible-local')):
        names = os.listdir(place) if os.path.isdir(place) else []
        found += [os.path.join(place, n) for n in names
                  if n.startswith('ansible-local-') and n[len('ansible-local-'):-8] in {str(p) for p in pids}]
    return found


def domains_of(*paths):
    """The osimage libvirt domains whose definition names one of ``paths`` (their overlay disk, console, run
    directory): under pytest-xdist, guests of another worker's tests run beside this test's."""
    found = []
    for name in run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']).stdout.split():
        xml = run(['virsh', '-c', 'qemu:///system', 'dumpxml', name]).stdout if name.startswith('osimage-') else ''
        if any(str(p) in xml for p in paths):
            found.append(name)
    return found


def loops_of(*paths):
    """`losetup -a` lines of loop devices backed by a file under one of ``paths``."""
    return [line for line in run(['losetup', '-a']).stdout.splitlines() if any(str(p) in line for p in paths)]


def left_on_host(tmp_path, work):
    """What a killed build left: mounts under ``tmp_path``, its domains, processes rooted in ``work``, its loop
    devices; [] when nothing."""
    found = []
    with open('/proc/self/mountinfo', encoding='utf-8') as f:
        found += ['mount ' + line.split()[4] for line in f if str(tmp_path) in line]
    found += ['domain ' + d for d in domains_of(tmp_path, work)]
    for entry in [e for e in os.listdir('/proc') if e.isdigit()]:
        try:
            if os.readlink('/proc/%s/root' % entry).startswith(str(work)):
                found.append('process %s' % entry)
        except OSError:
            pass
    return found + ['loop ' + line for line in loops_of(tmp_path, work)]


def sha256(path):
    """The sha256 of a file, read in chunks (images are gigabytes)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


class HostRunner:
    """module_utils.runner.Runner's interface over subprocess, to call module_utils helpers from a test."""

    def run(self, argv, check=True, what=None, environ_update=None):
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False,
                              env=dict(os.environ, **(environ_update or {})))
        assert not check or proc.returncode == 0, '%s: %s' % (what, proc.stderr)
        return proc.returncode, proc.stdout, proc.stderr


class Built:
    """A finished build: its output directory and what it wrote."""

    def __init__(self, output_dir, proc):
        self.dir = output_dir
        self.proc = proc
        self.manifest = self.json('manifest.json')
        with open(os.path.join(output_dir, 'build.log'), encoding='utf-8') as f:
            self.log = f.read()  # read now: a later failed build into the same directory writes its own log
        self.report = self.json('boot-report.json') if os.path.exists(os.path.join(output_dir, 'boot-report.json')) \
            else {}

    def json(self, name):
        with open(os.path.join(self.dir, name), encoding='utf-8') as f:
            return json.load(f)

    def image(self, fmt='qcow2'):
        return os.path.join(self.dir, '%s.%s' % (self.manifest['name'], fmt))


class ImageFile:
    """The ext4 root file system of a raw disk image, read with debugfs at its offset: no loop device, no mount."""

    def __init__(self, raw):
        table = json.loads(run(['sfdisk', '--json', raw], check=True).stdout)['partitiontable']
        self.spec = '%s?offset=%d' % (raw, table['partitions'][-1]['start'] * 512)

    def debugfs(self, command):
        return run(['debugfs', '-R', command, self.spec])

    def cat(self, path):
        """The file's content; None when it does not exist."""
        proc = self.debugfs('cat "%s"' % path)
        return None if 'File not found' in proc.stderr else proc.stdout

    def stat(self, path):
        """debugfs' stat of the path; None when it does not exist."""
        proc = self.debugfs('stat "%s"' % path)
        return None if 'File not found' in proc.stderr else proc.stdout

    def ls(self, path):
        """Names in a directory (without . and ..); None when it does not exist."""
        proc = self.debugfs('ls -p "%s"' % path)
        if 'File not found' in proc.stderr:
            return None
        names = [line.split('/')[5] for line in proc.stdout.splitlines() if line.count('/') >= 6]
        return [n for n in names if n not in ('.', '..')]


def _host_nameservers():
    try:
        with open('/etc/resolv.conf', encoding='utf-8') as f:
            return [line.split()[1] for line in f if line.startswith('nameserver ') and len(line.split()) > 1]
    except OSError:
        return []


def offline_hygiene_problems(raw):
    """What the image file still holds of its build, read without booting it; [] for a clean image."""
    image = ImageFile(raw)
    problems = []
    if image.cat('/etc/machine-id') != '':
        problems.append('/etc/machine-id is missing or not empty')
    problems += ['SSH host key /etc/ssh/%s' % n for n in image.ls('/etc/ssh') or [] if n.startswith('ssh_host_')]
    resolv = image.stat('/etc/resolv.conf')
    if resolv is not None and 'Type: symlink' not in resolv:
        text = image.cat('/etc/resolv.conf') or ''
        problems += ['build host name server %s in /etc/resolv.conf' % ns
                     for ns in _host_nameservers() if 'nameserver %s' % ns in text]
    for name in image.ls('/etc/apt/apt.conf.d') or []:
        if 'proxy' in (image.cat('/etc/apt/apt.conf.d/' + name) or '').lower():
            problems.append('proxy setting in /etc/apt/apt.conf.d/' + name)
    if 'proxy' in (image.cat('/etc/environment') or '').lower():
        problems.append('proxy setting in /etc/environment')
    lists = [n for n in image.ls('/var/lib/apt/lists') or [] if n not in ('lock', 'partial', 'auxfiles')]
    problems += ['package list /var/lib/apt/lists/' + n for n in lists]
    problems += ['package cache /var/cache/apt/' + n for n in image.ls('/var/cache/apt') or []
                 if n.endswith('.bin')]
    problems += ['downloaded package ' + n for n in image.ls('/var/cache/apt/archives') or [] if n.endswith('.deb')]
    for tmp in ('/tmp', '/var/tmp'):
        problems += ['%s/%s left' % (tmp, n) for n in image.ls(tmp) or []]
    for gone in ('/usr/sbin/policy-rc.d', '/root/.ansible'):
        if image.stat(gone) is not None:
            problems.append(gone + ' left by the build')
    return problems
