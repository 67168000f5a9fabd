"""retrofit_tree opens a copy of a small hand-made image and closes it again leaving nothing: no mount, loop
device, mount point or state file, even when another mount namespace took a copy of its mounts meanwhile."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from osimage_testlib import BIN, ROOT, run

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
ROOT_UUID = '5e1f0000-0000-4000-8000-00000000c0de'


def module(**args):
    """Run retrofit_tree through Ansible; its result."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = run([os.path.join(BIN, 'ansible'), 'localhost', '-o', '-m', 'osimage.builder.retrofit_tree', '-a',
                json.dumps(args)], env=env, cwd=ROOT, timeout=300)
    assert ' => {' in proc.stdout, proc.stdout + proc.stderr  # one line: localhost | CHANGED => {...}
    return json.loads(proc.stdout.split(' => ', 1)[1])


def tiny_image(tmp_path):
    """A 64 MiB MBR image whose one ext4 partition holds a Debian 12 fstab, os-release and /bin/sh."""
    tree = tmp_path / 'tree'
    (tree / 'etc').mkdir(parents=True)
    (tree / 'bin').mkdir()
    (tree / 'etc/fstab').write_text('UUID=%s / ext4 defaults 0 1\n' % ROOT_UUID)
    (tree / 'etc/os-release').write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    shutil.copy('/bin/dash', tree / 'bin/sh')
    image = tmp_path / 'tiny.raw'
    with open(image, 'wb') as f:
        f.truncate(64 * MIB)
    subprocess.run(['sfdisk', '--quiet', str(image)], input='label: dos\nstart=2048, type=83\n', text=True,
                   check=True)
    subprocess.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-U', ROOT_UUID, '-d', str(tree), '-E', 'offset=%d' % MIB,
                    str(image), '%dk' % (63 * 1024)], check=True)
    return image


def mounts_in(pid, where):
    with open('/proc/%s/mountinfo' % pid, encoding='utf-8') as f:
        return [line.split()[4] for line in f if where in line.split()[4]]


def test_open_then_close_leaves_nothing_even_with_a_copy_in_another_namespace(tmp_path):
    image = tiny_image(tmp_path)
    copy, root = str(tmp_path / 'copy.raw'), str(tmp_path / 'root')
    opened = module(src=str(image), path=copy, root=root)
    assert opened.get('changed') is True, opened
    assert opened['image']['release'] == 'bookworm' and opened['mounts'][0]['uuid'] == ROOT_UUID
    assert os.path.isfile(os.path.join(root, 'etc/fstab')) and run(['losetup', '--associated', copy]).stdout

    # A process in a mount namespace of its own, made while the tree is mounted, holds a copy of the mount.
    other = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sleep', '300'])
    try:
        for _attempt in range(50):
            if mounts_in(other.pid, root):
                break
            time.sleep(0.1)
        assert mounts_in(other.pid, root) == [root]
        closed = module(path=copy, root=root, state='absent')
        assert closed.get('changed') is True, closed
        assert 'directory ' + root in closed['released']
        assert mounts_in(other.pid, str(tmp_path)) == [], 'the other namespace kept the mount'
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    assert not os.path.exists(root) and not os.path.exists(copy + '.osimage-retrofit.json')
    assert mounts_in('self', str(tmp_path)) == []
    assert run(['losetup', '--associated', copy]).stdout == ''
    again = module(path=copy, root=root, state='absent')
    assert again.get('changed') is False and again['released'] == [], again
