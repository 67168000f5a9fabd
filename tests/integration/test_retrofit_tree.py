"""retrofit_tree opens a copy of a small hand-made image and closes it again leaving nothing: no mount, loop
device, mount point or state file, even when another mount namespace took a copy of its mounts meanwhile. A dirty
file system is checked and repaired in the copy, and the result says so; `osimage retrofit` of an image holding an
LVM volume, or whose fstab mounts a file system osimage does not open, exits 2 naming it and leaves nothing.
boot_entries, which the retrofit runs in the image when its kernels changed, on a Debian-like /boot."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from osimage_testlib import BIN, ROOT, left_on_host, run, sha256

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
ROOT_UUID = '5e1f0000-0000-4000-8000-00000000c0de'


def module(name='retrofit_tree', **args):
    """Run module ``name`` through Ansible; its result."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = run([os.path.join(BIN, 'ansible'), 'localhost', '-o', '-m', 'osimage.builder.' + name, '-a',
                json.dumps(args)], env=env, cwd=ROOT, timeout=300)
    assert ' => {' in proc.stdout, proc.stdout + proc.stderr  # one line: localhost | CHANGED => {...}
    return json.loads(proc.stdout.split(' => ', 1)[1])


def tiny_image(tmp_path, fstab_more=''):
    """A 64 MiB MBR image whose first ext4 partition (40 MiB) holds a Debian 12 fstab, os-release and /bin/sh; the
    second partition is left empty."""
    tree = tmp_path / 'tree'
    (tree / 'etc').mkdir(parents=True)
    (tree / 'bin').mkdir()
    (tree / 'etc/fstab').write_text('UUID=%s / ext4 defaults 0 1\n%s' % (ROOT_UUID, fstab_more))
    (tree / 'etc/os-release').write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    shutil.copy('/bin/dash', tree / 'bin/sh')
    image = tmp_path / 'tiny.raw'
    with open(image, 'wb') as f:
        f.truncate(64 * MIB)
    subprocess.run(['sfdisk', '--quiet', str(image)], input='label: dos\nstart=2048, size=40M, type=83\ntype=83\n',
                   text=True, check=True)
    subprocess.run(['mke2fs', '-q', '-F', '-t', 'ext4', '-U', ROOT_UUID, '-d', str(tree), '-E', 'offset=%d' % MIB,
                    str(image), '%dk' % (40 * 1024)], check=True)
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


def test_a_dirty_file_system_is_repaired_in_the_copy_and_the_result_says_so(tmp_path):
    image = tiny_image(tmp_path)
    root_fs = '%s?offset=%d' % (image, MIB)
    # An inode in use marked free in the bitmap: e2fsck -n finds it, e2fsck -p repairs it.
    run(['debugfs', '-w', '-R', 'freei /etc/fstab', root_fs], check=True)
    before = sha256(image)
    copy, root = str(tmp_path / 'copy.raw'), str(tmp_path / 'root')
    try:
        opened = module(src=str(image), path=copy, root=root)
        assert opened['fsck'] == [{'partition': 1, 'filesystem': 'ext4', 'dirty': True, 'repaired': True}], opened
    finally:
        closed = module(path=copy, root=root, state='absent')
    assert closed.get('changed') is True, closed
    assert run(['e2fsck', '-n', '-f', '%s?offset=%d' % (copy, MIB)]).returncode == 0, 'the copy is still dirty'
    assert sha256(image) == before and run(['e2fsck', '-n', '-f', root_fs]).returncode == 4, 'the input was written'


def lvm_volume(image):
    """Make the second partition of ``image`` an LVM physical volume (pvcreate on a loop device at its offset)."""
    dev = run(['losetup', '--show', '--find', '--offset', str(41 * MIB), str(image)], check=True).stdout.strip()
    try:
        run(['pvcreate', '--yes', dev], check=True)
    finally:
        run(['losetup', '--detach', dev], check=True)


def minix_data(image):
    """Make the second partition of ``image`` a minix file system (blkid knows it; osimage does not open it)."""
    data = str(image) + '.minix'
    with open(data, 'wb') as f:
        f.truncate(16 * MIB)
    run(['mkfs.minix', data], check=True)
    run(['dd', 'if=' + data, 'of=' + str(image), 'bs=1M', 'seek=41', 'conv=notrunc'], check=True)
    os.unlink(data)


@pytest.mark.parametrize('layout,fstab_more,named', [
    (lvm_volume, '', 'partition 2 holds an LVM physical volume'),
    (minix_data, '/dev/sda2 /srv minix defaults 0 2\n', 'from partition 2, which holds minix'),
], ids=['lvm', 'unknown-fs'])
def test_a_layout_osimage_does_not_open_exits_2_naming_it_and_leaves_nothing(tmp_path, layout, fstab_more, named):
    image = tiny_image(tmp_path, fstab_more)
    layout(image)
    before = sha256(image)
    work, out, request = tmp_path / 'work', tmp_path / 'out', tmp_path / 'request.yml'
    request.write_text(json.dumps({'work_dir': str(work)}))
    proc = run([os.path.join(BIN, 'osimage'), 'retrofit', str(image), str(request), '-o', str(out),
                '--no-boot-test', '--json'], timeout=600)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert named in proc.stderr and 'refused in stage open' in proc.stderr, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1])['result'] == 'refused'
    assert sha256(image) == before and left_on_host(tmp_path, work) == []
    assert sorted(os.listdir(out)) == ['build.log']


def test_boot_entries_follow_the_kernels_and_keep_the_images_options(tmp_path):
    old, new = '6.1.0-17-amd64', '6.1.0-18-amd64'
    entries = tmp_path / 'boot/loader/entries'
    entries.mkdir(parents=True)
    for version in (old, new):
        (tmp_path / 'boot' / ('vmlinuz-' + version)).write_bytes(b'kernel')
    own = 'title Debian\nversion %s\nlinux /vmlinuz-%s\ninitrd /initrd.img-%s\noptions root=UUID=%s ro\n' % (
        old, old, old, ROOT_UUID)
    (entries / ('osimage-%s.conf' % old)).write_text(own)
    (entries / ('0123abcd-%s.conf' % new)).write_text(own.replace(old, new).replace(ROOT_UUID, 'host-root'))
    args = {'name': 'boot_entries', 'boot': str(tmp_path / 'boot'), 'kernels_before': ['vmlinuz-' + old]}
    done = module(**args)
    assert done['changed'] and done['written'] == ['osimage-%s.conf' % new], done
    assert done['removed'] == ['0123abcd-%s.conf' % new], done
    assert sorted(os.listdir(entries)) == ['osimage-%s.conf' % old, 'osimage-%s.conf' % new]
    assert (entries / ('osimage-%s.conf' % new)).read_text() == own.replace(old, new)
    assert oct((entries / ('osimage-%s.conf' % new)).stat().st_mode & 0o777) == '0o644'
    again = module(**args)
    assert (again['changed'], again['written'], again['removed']) == (False, [], []), again
