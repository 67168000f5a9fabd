"""The driver and the collection installed as a user installs them (a wheel, a Galaxy tarball), used from an empty
directory: the driver finds the collection through Ansible's collection loader, not through its own source path.
Cheap: no image is built (a blank disk's boot test times out in seconds)."""

import glob
import json
import os
import subprocess

import pytest
import yaml

from osimage_testlib import BIN, ROOT, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(site, collections, empty): the wheel installed with pip --target into site, the tarball installed into
    collections, and an empty working directory."""
    top = tmp_path_factory.mktemp('install')
    dist, site, collections, empty = (top / d for d in ('dist', 'site', 'collections', 'empty'))
    empty.mkdir()
    # pip builds from a copy: an in-tree build would leave driver/build behind in the checkout.
    run(['cp', '-r', os.path.join(ROOT, 'driver'), str(top / 'driver')], check=True)
    wheel = run([os.path.join(BIN, 'pip'), 'wheel', '--no-deps', '-q', '-w', str(dist), str(top / 'driver')],
                timeout=300)
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    tarball = run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist), ROOT],
                  cwd=empty)
    assert tarball.returncode == 0, tarball.stderr
    (whl,) = glob.glob(str(dist / 'osimage-*.whl'))
    (tar,) = glob.glob(str(dist / 'osimage-builder-*.tar.gz'))
    run([os.path.join(BIN, 'pip'), 'install', '-q', '--no-deps', '--target', str(site), whl], check=True)
    # From the empty directory: the checkout's ansible.cfg would name its own collections path.
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(collections), tar],
        cwd=empty, check=True)
    return site, collections, empty


def env_of(installed):
    site, collections, _empty = installed
    env = {k: v for k, v in os.environ.items() if k not in ('ANSIBLE_CONFIG', 'PYTHONPATH')}
    return dict(env, PYTHONPATH=str(site), ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR='1',
                PATH=BIN + os.pathsep + os.environ['PATH'])


def osimage(installed, *args, timeout=120):
    site, _collections, empty = installed
    return subprocess.run([os.path.join(str(site), 'bin', 'osimage'), *args], cwd=empty, env=env_of(installed),
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_version_reports_the_installed_driver_and_collection(installed):
    site, collections, _empty = installed
    out = osimage(installed, '--version')
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as f:
        version = yaml.safe_load(f)['version']  # the driver and the collection are released together
    assert lines[0].startswith('osimage %s (driver %s' % (version, os.path.join(str(site), 'osimage')))
    assert lines[1] == 'osimage.builder %s (collection %s, installed)' % (version, os.path.join(
        str(collections), 'ansible_collections', 'osimage', 'builder'))


def test_validate_and_show_work_from_an_empty_directory(installed):
    out = osimage(installed, 'validate', os.path.join(ROOT, 'examples', 'rocky-9.yml'))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)['os']['family'] == 'el'
    bad = osimage(installed, 'validate', os.path.join(ROOT, 'tests', 'data', 'repo-key.asc'))
    assert bad.returncode == 2 and 'Traceback' not in bad.stderr


def test_the_installed_driver_runs_the_installed_collections_playbook(installed, tmp_path):
    """A blank disk never boots: the boot test playbook of the installed collection runs and says so."""
    image = tmp_path / 'blank.raw'
    with open(image, 'wb') as f:
        f.truncate(16 * 1024 * 1024)
    out = osimage(installed, 'boot-test', str(image), '--timeout', '5', '--no-verify', '--json', timeout=300)
    assert out.returncode == 3, out.stdout + out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])  # after the stage events' JSON lines
    assert summary['result'] == 'boot-test-failed' and summary['outcome'] == 'timeout'
    assert summary['boot_report'] == str(tmp_path / 'boot-report.json')


def test_ansible_playbook_finds_the_installed_collection_and_its_action_group(installed, tmp_path):
    """module_defaults for group/osimage.builder.osimage reach a module (binfmt's required name comes from it)."""
    play = tmp_path / 'defaults.yml'
    play.write_text('- hosts: localhost\n  connection: local\n  gather_facts: false\n'
                    '  module_defaults:\n    group/osimage.builder.osimage:\n      name: osimage-defaults-test\n'
                    '  tasks:\n    - osimage.builder.binfmt:\n        state: absent\n      check_mode: true\n')
    _site, collections, empty = installed
    inventory = os.path.join(str(collections), 'ansible_collections', 'osimage', 'builder', 'inventories',
                             'localhost.yml')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', inventory, str(play)], cwd=empty,
                          env=env_of(installed), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and 'ok=1' in proc.stdout, proc.stdout + proc.stderr
    syntax = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', 'osimage.builder.build'],
                            cwd=empty, env=env_of(installed), capture_output=True, text=True, timeout=300, check=False)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
