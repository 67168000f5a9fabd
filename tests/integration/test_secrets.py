"""Passwords from Ansible Vault never appear in the terminal, the logs, the manifest, the reports or the image."""

import glob
import os
import uuid

import pytest

from osimage_testlib import BIN, run

pytestmark = pytest.mark.integration


def encrypt(value, password_file):
    proc = run([os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file', password_file, value],
               check=True)
    return proc.stdout.split('!vault |', 1)[1]


def test_vaulted_passwords_never_leak(tmp_path):
    root_secret, user_secret = 'Root-%s' % uuid.uuid4().hex, 'Ada-%s' % uuid.uuid4().hex
    password_file = tmp_path / 'vault-pass'
    password_file.write_text('osimage-test-vault\n')
    request = tmp_path / 'request.yml'
    request.write_text('hostname: vaulted\n'
                       'root_password: !vault |%s\n'
                       'users:\n  - name: ada\n    sudo: true\n    password: !vault |%s\n'
                       % (encrypt(root_secret, str(password_file)), encrypt(user_secret, str(password_file))))
    out = tmp_path / 'out'
    runner_dirs = set(glob.glob('/tmp/osimage-runner-*'))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(request), '-o', str(out),
                '--vault-password-file', str(password_file)], timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert set(glob.glob('/tmp/osimage-runner-*')) == runner_dirs

    raw = tmp_path / 'disk.raw'
    run(['qemu-img', 'convert', '-O', 'raw', str(out / 'debian-bookworm.qcow2'), str(raw)], check=True)
    produced = [p for p in out.rglob('*') if p.is_file()]
    assert {p.name for p in produced} >= {'build.log', 'manifest.json', 'boot-report.json', 'verify-junit.xml',
                                          'console.log', 'debian-bookworm.qcow2'}
    for secret in (root_secret, user_secret):
        assert secret not in proc.stdout + proc.stderr
        for path in produced + [raw]:
            assert run(['grep', '-a', '-c', '-F', secret, str(path)]).stdout.strip() == '0', path
    assert '"root_password_hash": "********"' in (out / 'manifest.json').read_text()
