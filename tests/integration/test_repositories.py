"""Extra apt repositories, pinning, the build's proxy, DNS and NTP, read offline in the all-keys image (all_keys.py:
built from a signed repository served by the test, through a proxy run by the test; its boot test checks the same
keys in the running guest)."""

import os

import pytest
import yaml

import all_keys
from osimage_testlib import BIN, Built, ImageFile, offline_hygiene_problems, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope='session', name='repo_image')
def fixture_repo_image(all_keys_raw):
    return ImageFile(all_keys_raw)


def test_packages_come_from_the_repository_and_its_pin_wins(all_keys_build, repo_image, local_apt_repo):
    packages = {p['name']: p['version'] for p in all_keys_build.manifest['packages']}
    assert packages['osimage-hello'] == local_apt_repo.packages['osimage-hello']
    # Debian's hello is newer; only the repository's priority 990 makes apt choose this one.
    assert packages['hello'] == local_apt_repo.packages['hello']
    assert repo_image.cat('/usr/share/osimage-hello/hello.txt') == 'hello from the local repository\n'
    assert any(p.endswith('.deb') and 'osimage-hello' in p for p in local_apt_repo.requests())


def test_the_repository_is_a_deb822_source_signed_by_its_key(repo_image, local_apt_repo):
    sources = repo_image.cat('/etc/apt/sources.list.d/osimage-test.sources')
    fields = dict(line.split(': ', 1) for line in sources.splitlines() if ': ' in line and not line.startswith('#'))
    assert fields == {'Types': 'deb', 'URIs': local_apt_repo.uri, 'Suites': 'osimage', 'Components': 'main',
                      'Signed-By': '/etc/apt/keyrings/osimage-test.asc'}
    assert repo_image.cat('/etc/apt/keyrings/osimage-test.asc') == local_apt_repo.key
    pref = repo_image.cat('/etc/apt/preferences.d/osimage-test.pref')
    assert 'Package: *\nPin: origin "127.0.0.1"\nPin-Priority: 990\n' in pref


def test_dns_and_ntp_servers_are_configured_and_timesyncd_installed(all_keys_build, repo_image):
    dns, ntp = ' '.join(all_keys.DNS), ' '.join(all_keys.NTP)
    assert repo_image.cat('/etc/systemd/resolved.conf.d/50-osimage-dns.conf') == '[Resolve]\nDNS=%s\n' % dns
    assert repo_image.cat('/etc/systemd/timesyncd.conf.d/50-osimage-ntp.conf') == '[Time]\nNTP=%s\n' % ntp
    assert 'systemd-timesyncd' in {p['name'] for p in all_keys_build.manifest['packages']}
    assert repo_image.stat('/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service') is not None


def test_the_build_went_through_the_proxy_and_left_nothing_of_it(all_keys_raw, recording_proxy, local_apt_repo):
    seen = recording_proxy.requests()
    assert any(url.startswith(local_apt_repo.uri) for url in seen), seen
    assert any(url.startswith('http://deb.debian.org/') for url in seen), seen
    assert offline_hygiene_problems(all_keys_raw) == []


@pytest.mark.matrix
def test_trixie_installs_from_the_signed_repository(local_apt_repo, tmp_path):
    """Debian 13's apt verifies with sqv and defaults to deb822 sources: the same repository must work there."""
    request = {'name': 'repositories-trixie', 'release': 'trixie', 'formats': ['raw'], 'boot_test': {'enabled': False},
               'repositories': [{'name': 'osimage-test', 'uri': local_apt_repo.uri, 'suites': [local_apt_repo.suite],
                                 'key': local_apt_repo.key, 'priority': 990, 'pin_packages': ['hello']}],
               'packages': {'install': ['osimage-hello', 'hello']}}
    (tmp_path / 'request.yml').write_text(yaml.safe_dump(request))
    proc = run([os.path.join(BIN, 'osimage'), 'build', str(tmp_path / 'request.yml'), '-o', str(tmp_path)],
               timeout=2400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    built = Built(str(tmp_path), proc)
    packages = {p['name']: p['version'] for p in built.manifest['packages']}
    assert packages['hello'] == local_apt_repo.packages['hello']
    assert packages['osimage-hello'] == local_apt_repo.packages['osimage-hello']
    image = ImageFile(built.image('raw'))
    assert 'Package: hello\n' in image.cat('/etc/apt/preferences.d/osimage-test.pref')
    assert offline_hygiene_problems(built.image('raw')) == []
