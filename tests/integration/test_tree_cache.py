"""The customized-tree cache: a request rebuilt with only another hostname restores the first build's customized
tree (no bootstrap; of the customize roles only network and hygiene run again; the tree moves back into the cache
when the build ends) and makes the image that request asks for: its hostname, everything else (the disk UUIDs too)
as before; a changed customization key misses that tree (its key: unit tests).

Default run: a request of this test's own (a time zone no other test asks for, so builds on another pytest-xdist
worker neither take nor evict its entry) built, then rebuilt with another hostname (raw, no boot test).
Matrix (-m matrix): a rebuild of the default request with another package and time zone misses and has them.
"""

import json
import os
import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import build_stamp, customized_tree
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from osimage_testlib import BIN, Built, ImageFile, offline_hygiene_problems, run

pytestmark = pytest.mark.integration

RESTORE = 'Restore the customized tree of an earlier build with the same inputs'
KEEP = 'Keep the customized tree for builds that differ only in the late keys'
OWN = {'timezone': 'Pacific/Chatham'}


def build(tmp_path, request, label='out'):
    path = tmp_path / (label + '.yml')
    path.write_text(json.dumps(dict(request, formats=['raw'])))
    out = tmp_path / label
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(path), '--no-boot-test', '--json', '-o', str(out)],
               timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return Built(str(out), proc)


def outcome(log, task):
    """What the build log says task ``task`` did: ok, changed, skipping..."""
    found = re.search(re.escape('TASK [%s]' % task) + r'[^\n]*\n(\w+):', log)
    assert found, 'no task %r in the build log' % task
    return found.group(1)


def root_uuid(manifest):
    return next(p['uuid'] for p in manifest['disk']['partitions'] if p['mountpoint'] == '/')


def cached(built, request):
    """Whether the cache holds a customized tree for ``request`` grown from ``built``'s bootstrap entry."""
    boot = built.json('.osimage-build.json')['bootstrap']
    resolved = req.resolve(request, cwd='/tmp', build_id='0123456789ab')
    key = customized_tree.entry_key(build_stamp.stamp_fact(resolved)['tree'],
                                    customized_tree.bootstrap_entry(resolved['cache_dir'], boot['fingerprint']))
    return customized_tree.current(resolved['cache_dir'], key) is not None


def test_a_hostname_only_rebuild_restores_the_customized_tree(tmp_path):
    first = build(tmp_path, dict(OWN, hostname='first'), 'first')  # a hit too when the cache kept an earlier run's
    assert outcome(first.log, KEEP) == 'changed'
    built = build(tmp_path, dict(OWN, hostname='renamed'), 'renamed')
    assert outcome(built.log, RESTORE) == 'changed'
    assert outcome(built.log, KEEP) == 'changed'
    assert outcome(built.log, 'osimage.builder.network : Write the host name and /etc/hosts') == 'changed'
    for role in ('users', 'locale', 'security', 'services'):
        assert 'TASK [osimage.builder.%s :' % role not in built.log, role

    image, before = ImageFile(built.image('raw')), ImageFile(first.image('raw'))
    assert (image.cat('/etc/hostname'), before.cat('/etc/hostname')) == ('renamed\n', 'first\n')
    assert '127.0.1.1\trenamed\n' in image.cat('/etc/hosts')
    # The disk UUIDs of the build whose tree it restored (which fstab and the boot loader name): no boot loader replay
    assert 'TASK [osimage.builder.bootloader :' not in built.log
    uuid = root_uuid(first.manifest)
    assert root_uuid(built.manifest) == uuid
    assert built.manifest['request']['disk']['uuid_seed'] == first.manifest['request']['disk']['uuid_seed']
    assert 'Filesystem UUID:          %s\n' % uuid in image.debugfs('stats').stdout
    for path in ('/etc/fstab', '/boot/grub/grub.cfg'):
        assert uuid in image.cat(path) and image.cat(path) == before.cat(path), path
    # Everything else as the first build made it
    assert built.manifest['packages'] == first.manifest['packages']
    assert image.ls('/etc') == before.ls('/etc')
    for path in ('/etc/passwd', '/etc/group', '/etc/ssh/sshd_config', '/etc/default/locale', '/etc/apt/sources.list',
                 '/etc/timezone'):
        assert image.cat(path) == before.cat(path), path
    assert offline_hygiene_problems(built.image('raw')) == []

    # The tree's key: the hostname and the output directory do not change it, a customization key does.
    assert cached(built, dict(OWN, hostname='other', output_dir=str(tmp_path / 'elsewhere')))
    for change in ({'packages': {'install': ['tree']}}, {'timezone': 'Asia/Kathmandu'}, {'locale': 'pt_BR.UTF-8'}):
        assert not cached(built, dict(OWN, **change)), change


@pytest.mark.matrix
def test_a_changed_customization_key_misses_the_cached_tree(default_build, tmp_path):
    built = build(tmp_path, {'packages': {'install': ['tree']}, 'timezone': 'Europe/Paris'})
    assert outcome(built.log, RESTORE) == 'ok'
    assert outcome(built.log, KEEP) == 'changed'
    assert 'tree' in {p['name'] for p in built.manifest['packages']}
    image = ImageFile(built.image('raw'))
    assert image.stat('/usr/bin/tree') is not None
    assert 'Europe/Paris' in image.debugfs('stat /etc/localtime').stdout
