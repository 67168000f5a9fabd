"""The osimage command's handling of bad input: exit 2 and the bad key named, before any build step."""

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')


def osimage(*args, cwd=None):
    return subprocess.run([OSIMAGE, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def test_validate_prints_the_resolved_default_request_without_secrets(tmp_path):
    request = tmp_path / 'r.yml'
    request.write_text('root_password: hunter2\nhostname: web1\n')
    out = osimage('validate', str(request))
    assert out.returncode == 0, out.stderr
    resolved = json.loads(out.stdout)
    assert resolved['hostname'] == 'web1' and resolved['root_password_hash'] == '********'
    assert 'hunter2' not in out.stdout


@pytest.mark.parametrize('text,words', [
    ('colour: red\n', "colour: unknown key"),
    ('release: sid\n', "release: 'sid' is not a release of debian"),
    ('users: [{name: "Bad User"}]\n', 'users[0].name'),
    ('formats: qcow2\n', "formats: 'qcow2' is not valid: expected a list of formats"),
    ('distro: [debian\n', 'not valid YAML'),
    ('- debian\n', 'a request is a mapping'),
])
def test_build_rejects_bad_requests_before_touching_the_host(tmp_path, text, words):
    request = tmp_path / 'r.yml'
    request.write_text(text)
    out = osimage('build', str(request), '-o', str(tmp_path / 'out'))
    assert out.returncode == 2
    assert words in out.stderr
    assert not (tmp_path / 'out').exists()


def test_missing_request_file_is_a_clear_error(tmp_path):
    out = osimage('build', str(tmp_path / 'nope.yml'))
    assert out.returncode == 2 and 'cannot read request' in out.stderr


def test_boot_test_of_a_missing_image_is_a_clear_error(tmp_path):
    out = osimage('boot-test', str(tmp_path / 'nope.qcow2'))
    assert out.returncode == 2 and 'does not exist' in out.stderr


def test_show_prints_the_merged_request_as_yaml_without_secrets(tmp_path):
    (tmp_path / 'base').mkdir()
    (tmp_path / 'base' / 'common.yml').write_text('hostname: base\nroot_password: hunter2\npreset: server\n'
                                                  'packages: {install: [curl]}\n')
    request = tmp_path / 'web.yml'
    request.write_text('extends: base/common.yml\nappend: [preset, packages.install]\npreset: web\n'
                       'packages: {install: [htop]}\n')
    out = osimage('show', str(request))
    assert out.returncode == 0, out.stderr
    shown = yaml.safe_load(out.stdout)
    assert shown['hostname'] == 'base' and shown['preset'] == ['server', 'web']
    assert {'curl', 'htop', 'nginx', 'cron'} <= set(shown['packages']['install'])
    assert shown['root_password_hash'] == '********' and 'hunter2' not in out.stdout
    assert 'extends' not in shown and 'build_id' not in shown and 'size_bytes' not in shown['disk']


def test_show_names_a_missing_base(tmp_path):
    request = tmp_path / 'r.yml'
    request.write_text('extends: gone.yml\n')
    out = osimage('show', str(request))
    assert out.returncode == 2 and 'extends:' in out.stderr and 'gone.yml' in out.stderr


def test_presets_lists_every_preset_with_its_packages():
    out = osimage('presets')
    assert out.returncode == 0, out.stderr
    for words in ('minimal', 'server', 'web', 'nginx', 'database', 'postgresql', 'container-host', 'podman'):
        assert words in out.stdout


def test_platforms_lists_every_profile_with_its_formats():
    proc = subprocess.run([OSIMAGE, 'platforms'], capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, COLUMNS='250'))
    assert proc.returncode == 0, proc.stderr
    for name, words in (('kvm', 'qemu-guest-agent'), ('vmware', 'open-vm-tools'), ('azure', 'rootdelay=300'),
                        ('hyperv', 'hyperv-daemons'), ('gcp', 'gce'), ('aws', 'raw'), ('virtualbox', 'vdi, ova')):
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith('│ %s ' % name)][0]
        assert words in line, line


def test_validate_shows_the_platform_resolved(tmp_path):
    request = tmp_path / 'r.yml'
    request.write_text('platform: vmware\npackages: {install: [vim]}\n')
    resolved = json.loads(osimage('validate', str(request)).stdout)
    assert resolved['formats'] == ['vmdk', 'ova'] and resolved['packages']['install'] == ['open-vm-tools', 'vim']
    assert resolved['platform_profile']['services'] == ['open-vm-tools.service']


def test_boot_test_takes_the_request_from_the_manifest_that_lists_the_image(tmp_path):
    from osimage import cli  # pylint: disable=import-outside-toplevel
    manifest = {'build_id': 'abc123', 'request': {'distro': 'debian', 'hostname': 'web1'},
                'images': [{'format': 'qcow2', 'dest': str(tmp_path / 'web.qcow2')}]}
    (tmp_path / 'manifest.json').write_text(json.dumps(manifest))
    assert cli.build_manifest(str(tmp_path / 'web.qcow2')) == manifest
    assert cli.build_manifest(str(tmp_path / 'copy.qcow2')) == {}  # a file the manifest does not list
    assert cli.build_manifest(str(tmp_path / 'elsewhere' / 'web.qcow2')) == {}
