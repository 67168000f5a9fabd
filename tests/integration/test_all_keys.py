"""The all-keys image (all_keys.py): one request using most keys (preset, repositories, location, the system
keys, formats, vaulted passwords), built once, booted and verified.

The verify play proves each key inside the running guest; the test adds its own verify task that logs in
as the request's user with a private key only the test holds and becomes root with sudo.
"""

import hashlib
import json
import os

import pytest

from osimage_testlib import ImageFile

pytestmark = pytest.mark.integration


def test_every_key_is_proven_in_the_booted_guest(all_keys_build):
    report = all_keys_build.report
    outcomes = {c['name']: c['outcome'] for c in report['checks']}
    for name in ('time zone is the requested one', 'locale is the default and generated',
                 'keyboard layout is the requested one',
                 'services are enabled, disabled and masked as requested, and enabled services run',
                 'files, directories and links have their owner, mode and content',
                 'SSH server runs with the requested policy',
                 'firewall drops what is not allowed and accepts only the listed ports',
                 'from outside, allowed ports get through and another port is dropped',
                 'automatic security updates are switched as requested', 'AppArmor is on with profiles loaded',
                 'cloud-init finished', 'requested users exist with their shells and groups',
                 "users' SSH keys are installed", 'sudo users may run everything', "the user's verify tasks passed",
                 'DNS servers are the requested ones', 'NTP servers are the requested ones',
                 'extra repositories are configured with their signing keys',
                 'pinned repositories have their priority and the package manager reads the pins', 'requested packages are installed',
                 'system reached the running state', 'no failed units'):
        assert outcomes.get(name) == 'passed', (name, report['checks'])
    assert 'failed' not in outcomes.values(), report['checks']


def test_a_slim_image_keeps_copyrights_and_its_language_and_drops_the_rest(all_keys_raw):
    """slim: documentation (but copyright files), manual pages and other languages' translations are gone, of the
    bootstrap's packages and of the customization's (zsh, nginx); dpkg keeps them out of later installs; the image
    still boots and passes every check (above)."""
    image = ImageFile(all_keys_raw)
    assert 'path-exclude=/usr/share/doc/*' in image.cat('/etc/dpkg/dpkg.cfg.d/osimage-slim')
    for package in ('bash', 'coreutils', 'zsh', 'nginx'):
        assert image.ls('/usr/share/doc/' + package) == ['copyright'], package
    for empty in ('/usr/share/man/man1', '/usr/share/man/man8', '/usr/share/info', '/usr/share/locale/fr/LC_MESSAGES'):
        assert not image.ls(empty), (empty, image.ls(empty))
    assert 'coreutils.mo' in image.ls('/usr/share/locale/de/LC_MESSAGES')  # the request's language (de_DE.UTF-8)


def test_the_request_resolved_with_what_its_keys_need(all_keys_build):
    request = all_keys_build.manifest['request']
    for package in ('nginx', 'zsh', 'osimage-hello', 'locales', 'tzdata', 'keyboard-configuration', 'nftables',
                    'unattended-upgrades', 'apparmor', 'cloud-init', 'systemd-timesyncd'):
        assert package in request['packages']['install']
    motd = request['files'][0]
    assert motd['src'] == str(all_keys_build.src / 'motd')
    assert motd['sha256'] == hashlib.sha256(b'Welcome to the all-keys image\n').hexdigest()
    packages = {p['name'] if isinstance(p, dict) else p for p in all_keys_build.manifest['packages']}
    assert {'nginx', 'cloud-init', 'nftables', 'osimage-hello'} <= packages


def test_build_time_and_size_are_reported(all_keys_build, capsys):
    image = all_keys_build.image()
    with capsys.disabled():
        print('\nall-keys image: built and proven in %.0f s, %s: %.1f MiB (qcow2), stages %s'
              % (all_keys_build.seconds, os.path.basename(image), os.path.getsize(image) / 2 ** 20,
                 json.dumps(all_keys_build.manifest.get('stages'))))
    assert os.path.getsize(image) > 0
