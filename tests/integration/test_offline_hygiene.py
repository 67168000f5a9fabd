"""The offline hygiene check itself: on a small disk image made here with every kind of build leftover, it
names each one; on the same image cleaned, it names none."""

import os

import pytest

from osimage_testlib import offline_hygiene_problems, run

pytestmark = pytest.mark.integration

LEFTOVERS = {
    'etc/machine-id': '0123456789abcdef0123456789abcdef\n',
    'etc/ssh/ssh_host_ed25519_key': 'secret\n',
    'etc/apt/apt.conf.d/00osimage-build-proxy': 'Acquire::http::Proxy "http://proxy:3128";\n',
    'etc/environment': 'http_proxy=http://proxy:3128\n',
    'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages': 'Package: x\n',
    'var/cache/apt/pkgcache.bin': 'x',
    'var/cache/apt/archives/hello_2.10_amd64.deb': 'x',
    'tmp/build-scratch': 'x',
    'usr/sbin/policy-rc.d': 'exit 101\n',
}
CLEAN = {'etc/machine-id': '', 'etc/ssh/sshd_config': 'x\n', 'etc/apt/apt.conf.d/70debconf': 'x\n',
         'var/lib/apt/lists/lock': '', 'var/cache/apt/archives/lock': ''}


def disk_with(tmp_path, files):
    """A 16 MiB GPT disk whose one partition is an ext4 file system holding ``files``."""
    tree = tmp_path / 'tree'
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    (tree / 'tmp').mkdir(exist_ok=True)
    raw = str(tmp_path / 'disk.raw')
    with open(raw, 'wb') as f:
        f.truncate(16 * 2 ** 20)
    run(['sfdisk', '--quiet', raw], input='label: gpt\nstart=2048, type=linux\n', check=True)
    run(['mke2fs', '-q', '-t', 'ext4', '-d', str(tree), '-E', 'offset=%d' % (2048 * 512), raw, '14M'], check=True)
    return raw


def test_every_leftover_is_named(tmp_path):
    problems = offline_hygiene_problems(disk_with(tmp_path, dict(CLEAN, **LEFTOVERS)))
    text = '\n'.join(problems)
    for words in ('/etc/machine-id', 'ssh_host_ed25519_key', 'apt.conf.d/00osimage-build-proxy', '/etc/environment',
                  'binary-amd64_Packages', 'pkgcache.bin', 'hello_2.10_amd64.deb', '/tmp/build-scratch',
                  '/usr/sbin/policy-rc.d'):
        assert words in text, problems
    assert len(problems) == len(LEFTOVERS)


def test_a_clean_tree_has_no_problems(tmp_path):
    assert offline_hygiene_problems(disk_with(tmp_path, CLEAN)) == []
    assert os.path.getsize(str(tmp_path / 'disk.raw')) == 16 * 2 ** 20
