"""Copying a remote build's images back: the builder's side runs here (the fake builder's ssh runs its command
locally), so the compressed stream, the checksum, the holes and the failures are checked without an sshd."""

import hashlib
import os

import pytest

from osimage.build_hosts import BuilderError
from osimage.copy_back import CopyBack, missing_tools


class Here:
    """A builder whose ssh runs the command on this machine."""
    name = 'here'

    @staticmethod
    def ssh(*argv):
        return list(argv)


def image(path):
    """A raw-like image: data, a long hole, data; its sha256."""
    with open(path, 'wb') as f:
        f.write(os.urandom(300000))
        f.seek(8 << 20, os.SEEK_CUR)
        f.write(b'end')
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_an_image_comes_back_whole_verified_and_sparse(tmp_path):
    src, out = tmp_path / 'built.raw', tmp_path / 'out'
    out.mkdir()
    digest = image(src)
    CopyBack(Here, '/remote', str(out), 'b1', lambda: False).fetch(str(src), str(out / 'x.raw'), digest)
    assert (out / 'x.raw').read_bytes() == src.read_bytes()
    assert os.stat(out / 'x.raw').st_blocks * 512 < 2 << 20  # the hole stayed a hole
    assert os.listdir(out) == ['x.raw']


@pytest.mark.parametrize('case,words', [
    ('checksum', 'came back with sha256'),
    ('missing', 'cannot copy'),
    ('cancelled', 'interrupted while copying'),
])
def test_a_failed_copy_leaves_nothing_in_the_output_directory(tmp_path, case, words):
    src, out = tmp_path / 'built.raw', tmp_path / 'out'
    out.mkdir()
    digest = image(src)
    copy = CopyBack(Here, '/remote', str(out), 'b1', lambda: case == 'cancelled')
    with pytest.raises(BuilderError, match=words) as failed:
        copy.fetch(str(tmp_path / 'gone.raw') if case == 'missing' else str(src), str(out / 'x.raw'),
                   '0' * 64 if case == 'checksum' else digest)
    assert os.listdir(out) == []
    assert failed.value.code == (130 if case == 'cancelled' else 1)


def test_the_tools_a_copy_back_runs_are_named_when_missing(tmp_path):
    assert missing_tools() == []  # bindep installs zstd
    assert missing_tools(path=str(tmp_path)) == ['zstd']
