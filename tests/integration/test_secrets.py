"""Passwords from Ansible Vault never appear in the terminal, the logs, the manifest, the reports or the image.

The all-keys build (all_keys.py) gives root and its user ada passwords as !vault values, built with
--vault-password-file: this test searches everything that build wrote for the plain-text passwords.
"""

import os

import pytest

from osimage_testlib import run

pytestmark = pytest.mark.integration


def test_vaulted_passwords_never_leak(all_keys_build, all_keys_raw):
    out = all_keys_build.dir
    # The runner's private data directory (the extra vars) is removed: none that appeared during the build is
    # this build's (on a shared host, other builds' may come and go meanwhile).
    before, after = all_keys_build.runner_dirs
    ours = [d for d in after - before if run(['grep', '-r', '-l', '-F', out, d]).stdout.strip()]
    assert ours == []
    produced = [os.path.join(d, n) for d, _dirs, names in os.walk(out) for n in names]
    assert {os.path.basename(p) for p in produced} >= {'build.log', 'manifest.json', 'boot-report.json',
                                                       'verify-junit.xml', 'console.log', 'all-keys.qcow2'}
    proc = all_keys_build.proc
    for secret in all_keys_build.secrets:
        assert secret not in proc.stdout + proc.stderr
    # One pass over the gigabytes for both passwords (grep -l names a file holding either)
    patterns = [arg for secret in all_keys_build.secrets for arg in ('-e', secret)]
    found = run(['grep', '-a', '-l', '-F', *patterns, *produced, all_keys_raw])
    assert found.returncode == 1 and found.stdout.split() == [], found.stdout + found.stderr
    with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
        assert '"root_password_hash": "********"' in f.read()
    assert [u.get('password_hash') for u in all_keys_build.manifest['request']['users']] == ['********']
