"""osimage retrofit on an image osimage did not build (foreign_image.py): the request's user, package, file and
service are applied, the input file is unchanged, and the new image boots and passes its verify checks. The
hand-made image runs by default (making it and retrofitting and booting it took 220 s unloaded; the made image is
kept between runs, foreign_image.KEPT); the separate-/boot image runs with -m matrix."""

import json
import os

import pytest

import foreign_image
from osimage_testlib import BIN, run, sha256

pytestmark = pytest.mark.integration
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0ZXN0a2V5Zm9ycmV0cm9maXR0ZXN0aW5nb3NpbWFnZQ ops@example'
REQUEST = '''name: golden-retrofit
users:
  - name: ops
    ssh_authorized_keys: ["%s"]
packages:
  install: [tree]
files:
  - path: /etc/motd
    content: "retrofitted by osimage\\n"
services:
  enabled: [systemd-networkd.service]
''' % KEY


def retrofit(tmp_path, image):
    request = tmp_path / 'request.yml'
    request.write_text(REQUEST)
    out = tmp_path / 'out'
    before = sha256(image)
    proc = run([os.path.join(BIN, 'osimage'), 'retrofit', image, str(request), '-o', str(out), '--json'], timeout=2400)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert sha256(image) == before, 'the input image was written'
    summary = json.loads(proc.stdout.splitlines()[-1])  # after the stage events' JSON lines
    with open(summary['boot_report'], encoding='utf-8') as f:
        report = json.load(f)
    with open(summary['manifest'], encoding='utf-8') as f:
        manifest = json.load(f)
    assert report['outcome'] == 'passed' and report['firmware'] == 'bios'
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    assert 'failed' not in outcomes.values(), report['checks']
    assert len([o for o in outcomes.values() if o == 'passed']) >= 5, report['checks']
    assert 'tree' in {p['name'] for p in manifest['packages']}
    assert manifest['distro']['release'] == 'bookworm' and manifest['request']['retrofit']['table'] == 'mbr'
    assert [i['format'] for i in manifest['images']] == ['qcow2']
    # Every file system the image mounts was checked before it was touched, and the manifest says so.
    fsck = manifest['request']['retrofit']['fsck']
    mounts = manifest['request']['disk']['mounts']
    assert [(f['filesystem'], f['dirty']) for f in fsck] == [('ext4', False)] * len(mounts), fsck
    assert str(tmp_path) not in run(['losetup', '-a']).stdout
    return report


@pytest.fixture(scope='module', name='golden')
def fixture_golden(tmp_path_factory):
    """An MBR/ext4 Debian 12 image with a hand-written grub.cfg, made without osimage."""
    return foreign_image.make(str(tmp_path_factory.mktemp('golden')))


def test_retrofit_a_hand_made_image_boots_and_verifies(golden, tmp_path):
    report = retrofit(tmp_path, golden)
    names = {c['name'] for c in report['checks']}
    assert any('user' in n for n in names) and any('package' in n for n in names), names


@pytest.mark.matrix
def test_retrofit_an_image_with_a_separate_boot(tmp_path_factory, tmp_path):
    image = foreign_image.make(str(tmp_path_factory.mktemp('golden-boot')), separate_boot=True)
    retrofit(tmp_path, image)
