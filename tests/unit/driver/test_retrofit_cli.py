"""osimage retrofit refuses the keys an existing image decides, and a missing image, with exit 2 before any step."""

import os
import subprocess
import sys

import pytest

OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')


def osimage(*args):
    return subprocess.run([OSIMAGE, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize('text,key', [
    ('disk:\n  size: 8GiB\n', 'disk.size'),
    ('disk:\n  bootloader: extlinux\n', 'disk.bootloader'),
    ('release: trixie\n', 'release'),
    ('distro: ubuntu\n', 'distro'),
    ('formats: [qcow2, iso]\n', 'formats'),
    ('formats: [qcow2, oci]\n', 'formats'),
    ('location:\n  security_mirror: http://mirror.example/debian-security\n', 'location.security_mirror'),
])
def test_keys_an_image_decides_exit_2_naming_them(tmp_path, text, key):
    image, request = tmp_path / 'in.qcow2', tmp_path / 'r.yml'
    image.write_bytes(b'\0' * 4096)
    request.write_text(text)
    out = osimage('retrofit', str(image), str(request), '-o', str(tmp_path / 'out'))
    assert out.returncode == 2, out.stderr
    assert '%s: ' % key in out.stderr and 'remove' in out.stderr
    assert not (tmp_path / 'out').exists()


def test_a_missing_image_exits_2(tmp_path):
    out = osimage('retrofit', str(tmp_path / 'nothing.qcow2'), '-o', str(tmp_path / 'out'))
    assert out.returncode == 2 and 'does not exist' in out.stderr
