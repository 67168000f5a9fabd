"""image_oci: what the layer leaves out, and the read-back that recomputes every digest of an oci-archive."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.osimage.builder.plugins.modules import image_oci


def digest(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def layer(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def make_archive(path, files=None, tamper=None):
    """An oci-archive of one image with one gzip layer; ``tamper`` breaks one of its digests."""
    raw = layer(files or {'./etc/os-release': b'ID=t\n'})
    blob = gzip.compress(raw, mtime=0)
    if tamper == 'truncated':
        blob = blob[:len(blob) // 2]
    config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {'Cmd': ['/bin/sh'], 'Labels': {'a': 'b'}},
                         'rootfs': {'type': 'layers', 'diff_ids': [digest(b'other' if tamper == 'diff_id' else raw)]}
                         }).encode()
    manifest = json.dumps({'schemaVersion': 2, 'annotations': {image_oci.INPUTS: 'f' * 64},
                           'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': digest(config),
                                      'size': len(config)},
                           'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': digest(blob),
                                       'size': len(blob) + (1 if tamper == 'size' else 0)}]}).encode()
    index = json.dumps({'schemaVersion': 2, 'manifests': [{'digest': digest(manifest), 'size': len(manifest),
                                                           'annotations': {'org.opencontainers.image.ref.name': 't:latest'}}]})
    # A blob whose bytes differ from what its descriptor names (the same layer gzipped at another time).
    blobs = {manifest: manifest, config: config, blob: gzip.compress(raw, mtime=1) if tamper == 'blob' else blob}
    with tarfile.open(path, 'w') as tar:
        for name, data in [('oci-layout', b'{"imageLayoutVersion": "1.0.0"}'), ('index.json', index.encode())] + \
                [('blobs/sha256/' + digest(k).split(':')[1], v) for k, v in blobs.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_an_archive_reads_back_with_its_digests_recomputed(tmp_path):
    make_archive(tmp_path / 'a.tar', {'./etc/os-release': b'ID=t\n', './usr/bin/sh': b'sh'})
    facts = image_oci.read_back(str(tmp_path / 'a.tar'))
    assert (facts['reference'], facts['architecture'], facts['os'], facts['cmd']) == ('t:latest', 'amd64', 'linux', ['/bin/sh'])
    assert facts['labels'] == {'a': 'b'} and facts['layers'][0]['names'] == ['etc/os-release', 'usr/bin/sh']
    assert image_oci.archived_inputs(str(tmp_path / 'a.tar')) == 'f' * 64


@pytest.mark.parametrize('tamper,words', [
    ('blob', 'holds'),
    ('size', 'its descriptor says'),
    ('diff_id', 'unpacks to'),
    ('truncated', 'not a gzip tar'),
])
def test_a_digest_that_does_not_match_its_blob_is_refused(tmp_path, tamper, words):
    make_archive(tmp_path / 'a.tar', tamper=tamper)
    with pytest.raises(ValueError, match=words):
        image_oci.read_back(str(tmp_path / 'a.tar'))


def test_the_layer_leaves_out_kernel_and_runtime_directories_unless_the_kernel_is_kept():
    argv = image_oci.layer_argv('/root', '/l.tar', kernel=False)
    assert argv[:3] == ['tar', '--create', '--format=posix'] and '--anchored' in argv and argv[-1] == '.'
    excluded = [a.split('=', 1)[1] for a in argv if a.startswith('--exclude=')]
    assert {'./boot/*', './usr/lib/modules/*', './usr/lib/grub', './vmlinuz', './dev/*', './proc/*'} <= set(excluded)
    kept = [a.split('=', 1)[1] for a in image_oci.layer_argv('/root', '/l.tar', kernel=True) if a.startswith('--exclude=')]
    assert './boot/*' not in kept and './dev/*' in kept
