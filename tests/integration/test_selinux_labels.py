"""The part of the rpm families' SELinux labelling that this machine can prove: the labels setfiles writes into the
tree (security.selinux extended attributes) reach the ext4 file system the disk is made of (mke2fs -d)."""

import os
import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import filesystems as fs
from osimage_testlib import HostRunner

pytestmark = pytest.mark.integration
MIB = 1 << 20
LABEL = b'system_u:object_r:etc_t:s0\x00'


def test_a_labelled_tree_keeps_its_labels_in_the_root_file_system(tmp_path):
    assert distros.FAMILIES['el']['selinux']['relabel'] == 'setfiles'
    tree = tmp_path / 'tree'
    (tree / 'etc').mkdir(parents=True)
    (tree / 'etc' / 'hostname').write_text('x\n')
    os.setxattr(tree / 'etc' / 'hostname', 'security.selinux', LABEL)
    image = tmp_path / 'disk.img'
    with open(image, 'wb') as f:
        f.truncate(64 * MIB)
    target = {'name': 'root', 'offset': MIB, 'bytes': 32 * MIB, 'filesystem': 'ext4', 'mountpoint': '/',
              'uuid': fs.new_uuid('ext4'), 'source': str(tree)}
    fs.make(HostRunner(), str(image), target, str(tmp_path))
    part = tmp_path / 'root.img'
    subprocess.run(['dd', 'if=%s' % image, 'of=%s' % part, 'bs=1M', 'skip=1', 'count=32', 'status=none'], check=True)
    listed = subprocess.run(['debugfs', '-R', 'ea_list /etc/hostname', str(part)], capture_output=True, text=True,
                            check=True).stdout
    assert 'security.selinux (27) = "system_u:object_r:etc_t:s0\\000"' in listed
