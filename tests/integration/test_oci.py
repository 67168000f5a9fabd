"""formats: [oci] alone: image_oci on a small busybox tree, read back with skopeo, its digests recomputed here, and
run offline with podman.

podman runs here with runc, not Debian 12's default crun: crun 1.8 refuses this machine's hybrid cgroup
hierarchy (cgroup v1 controllers and a cgroup2 mount with a controller), which runc accepts. Its default
RLIMIT_NOFILE and RLIMIT_NPROC (1048576) are above this machine's hard limits, which a process without
CAP_SYS_RESOURCE cannot raise, so the run asks for lower ones. Its storage (vfs, no overlay mounts) is a
temporary directory of the test: nothing is left in the host's container storage.
"""

import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import tarfile
import tempfile

import pytest

from osimage_testlib import ROOT, playbook, run

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/image_oci.yml')
LABELS = {'osimage.builder.distro': 'debian', 'osimage.builder.release': 'bookworm', 'osimage.builder.arch': 'amd64',
          'osimage.builder.build_id': 'ocitest1'}
COMMAND = ['/bin/sh', '-c', 'cat /etc/os-release; ls -A /boot /usr/lib/modules; cat /proc/net/dev']
OS_RELEASE = 'ID=osimage-oci-test\nVERSION_ID=1\n'


def busybox_tree(root, os_release=True):
    """A tree with busybox as /bin/sh, an os-release, and a kernel, modules and device node to leave out."""
    for directory in ('bin', 'etc', 'boot/grub', 'usr/lib/modules/6.1.0-test', 'dev', 'proc', 'sys', 'run'):
        os.makedirs(os.path.join(root, directory))
    shutil.copy('/bin/busybox', os.path.join(root, 'bin/busybox'))
    for applet in ('sh', 'cat', 'ls'):
        os.symlink('busybox', os.path.join(root, 'bin', applet))
    if os_release:
        with open(os.path.join(root, 'etc/os-release'), 'w', encoding='utf-8') as f:
            f.write(OS_RELEASE)
    for path, text in (('boot/vmlinuz-6.1.0-test', 'kernel'), ('boot/grub/grub.cfg', 'menu'),
                       ('usr/lib/modules/6.1.0-test/modules.dep', 'deps'), ('run/leftover', 'x')):
        with open(os.path.join(root, path), 'w', encoding='utf-8') as f:
            f.write(text)
    os.symlink('boot/vmlinuz-6.1.0-test', os.path.join(root, 'vmlinuz'))
    run(['mknod', os.path.join(root, 'dev/null'), 'c', '1', '3'], check=True)


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('oci')
    busybox_tree(str(tmp / 'root'))
    busybox_tree(str(tmp / 'broken'), os_release=False)
    out = tmp / 'out'
    variables = dict(oci_root=str(tmp / 'root'), oci_broken_root=str(tmp / 'broken'), oci_dest=str(out / 'bb.oci.tar'),
                     oci_layout=str(out / 'bb.oci'), oci_name='bb', oci_command=COMMAND, oci_labels=LABELS,
                     oci_result=str(tmp / 'result.json'))
    os.makedirs(out)
    proc = playbook(PLAYBOOK, '-e', json.dumps(variables))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    with open(tmp / 'result.json', encoding='utf-8') as f:
        return dict(json.load(f), tmp=tmp, archive=str(out / 'bb.oci.tar'), layout=str(out / 'bb.oci'))


def sha256(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def test_check_mode_writes_nothing_then_changed_then_unchanged(written):
    assert written['checked']['changed'] and not written['after_check']
    assert written['first']['changed'] and not written['second']['changed']
    assert written['second']['sha256'] == written['first']['sha256']
    with open(written['archive'] + '.sha256', encoding='utf-8') as f:
        assert f.read().split() == [written['first']['sha256'], 'bb.oci.tar']
    assert [c['name'] for c in written['first']['checks']] == [
        'skopeo inspect reads the config back', 'blob digests and sizes recomputed', 'the layer holds the root tree']


def test_a_tree_that_fails_its_check_leaves_the_previous_archive_and_nothing_else(written):
    assert written['broken']['failed'] and 'no etc/os-release' in written['broken']['msg']
    with open(written['archive'], 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == written['first']['sha256']
    assert sorted(os.listdir(os.path.dirname(written['archive']))) == ['bb.oci', 'bb.oci.tar', 'bb.oci.tar.sha256']


def test_skopeo_reads_the_labels_config_and_layer_back(written):
    for source in ('oci-archive:%s' % written['archive'], 'oci:%s:bb:latest' % written['layout']):
        config = json.loads(run(['skopeo', 'inspect', '--config', source], check=True).stdout)
        assert (config['os'], config['architecture']) == ('linux', 'amd64')
        labels = config['config']['Labels']
        assert labels['org.opencontainers.image.title'] == 'bb' and labels['org.opencontainers.image.created']
        assert {k: labels[k] for k in LABELS} == LABELS
        assert config['config']['Cmd'] == COMMAND and 'Entrypoint' not in config['config']
        inspected = json.loads(run(['skopeo', 'inspect', source], check=True).stdout)
        assert inspected['Layers'] == [written['first']['image']['layers'][0]['digest']]


def test_every_digest_matches_its_blob_and_the_layer_is_the_tree_without_kernel(written):
    with tarfile.open(written['archive']) as tar:
        def blob(digest):
            return tar.extractfile('blobs/sha256/' + digest.split(':')[1]).read()
        index = json.loads(tar.extractfile('index.json').read())
        (entry,) = index['manifests']
        assert entry['annotations']['org.opencontainers.image.ref.name'] == 'bb:latest'
        manifest_bytes = blob(entry['digest'])
        assert sha256(manifest_bytes) == entry['digest'] and len(manifest_bytes) == entry['size']
        manifest = json.loads(manifest_bytes)
        config_bytes = blob(manifest['config']['digest'])
        assert sha256(config_bytes) == manifest['config']['digest']
        (layer,) = manifest['layers']
        layer_bytes = blob(layer['digest'])
        assert sha256(layer_bytes) == layer['digest'] and len(layer_bytes) == layer['size']
    unpacked = gzip.decompress(layer_bytes)
    assert [sha256(unpacked)] == json.loads(config_bytes)['rootfs']['diff_ids']
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(layer_bytes))) as files:
        members = {m.name.lstrip('./'): m for m in files.getmembers()}
        assert files.extractfile(members['etc/os-release']).read().decode() == OS_RELEASE
    assert {'boot', 'usr/lib/modules', 'dev', 'run', 'bin/busybox'} <= set(members)
    assert not [n for n in members if n.startswith(('boot/', 'usr/lib/modules/', 'dev/', 'run/')) or n == 'vmlinuz']


def test_podman_loads_the_archive_and_runs_its_command_offline(written):
    # podman refuses a runroot over 50 characters, which a pytest-xdist worker's tmp_path is: a short one of its own.
    storage = pathlib.Path(tempfile.mkdtemp(prefix='oci-test-podman-'))
    podman = ['podman', '--root', str(storage / 'root'), '--runroot', str(storage / 'run'), '--storage-driver', 'vfs',
              '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file']
    # Its temporary copies of the archive go there too, not to /var/tmp beside other tests' files.
    os.makedirs(storage / 'tmp')
    env = dict(os.environ, TMPDIR=str(storage / 'tmp'))
    try:
        loaded = run(podman + ['load', '--input', written['archive']], env=env, timeout=300)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert 'localhost/bb:latest' in loaded.stdout + loaded.stderr
        proc = run(podman + ['run', '--rm', '--network=none', '--ulimit', 'nofile=1024:1024', '--ulimit',
                             'nproc=1024:1024', 'localhost/bb:latest'], env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(OS_RELEASE)
        assert '/boot:\n\n/usr/lib/modules:\n' in proc.stdout  # kernel and modules left out
        interfaces = [line.split(':')[0].strip() for line in proc.stdout.splitlines() if ':' in line and '|' not in line
                      and not line.startswith('/')]
        assert interfaces == ['lo']  # --network=none: loopback only
    finally:
        run(podman + ['rmi', '--all', '--force'], env=env)
        shutil.rmtree(storage, ignore_errors=True)
