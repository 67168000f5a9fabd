"""Presets, repositories and location: expansion, resolution and an error naming the key for every bad value."""

import base64
import os
import re

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import request as req

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    'data')
KEY_FILE = os.path.join(DATA, 'repo-key.asc')
with open(KEY_FILE, encoding='ascii') as _f:
    KEY = _f.read()
REPO = {'name': 'extra', 'uri': 'http://repo.example.org/debian', 'key': KEY}


def errors_of(request):
    with pytest.raises(req.RequestError) as info:
        req.validate(request)
    return dict(info.value.errors)


def test_the_presets_the_issue_asks_for_exist_as_data():
    presets = req.load_presets()
    assert {'minimal', 'server', 'web', 'database', 'container-host'} <= set(presets)
    assert 'nginx' in presets['web']['packages']['debian'] and 'postgresql' in presets['database']['packages']['debian']
    assert 'podman' in presets['container-host']['packages']['el']
    for name, preset in presets.items():
        assert preset['description'], name
        assert set(preset['packages']) == set(preset['services']) == set(distros.FAMILIES), name
        for family, names in preset['packages'].items():
            assert all(re.match(distros.FAMILIES[family]['package_name'], p) for p in names), (name, family)


def test_a_preset_gives_each_family_its_own_package_and_service_names():
    rocky = req.resolve({'distro': 'rocky', 'release': '9', 'preset': ['web', 'server']}, cwd='/srv', build_id='abc123')
    assert rocky['packages']['install'][:2] == ['nginx', 'less'] and 'cronie' in rocky['packages']['install']
    assert 'cron' not in rocky['packages']['install'] and rocky['preset_services'] == ['nginx', 'crond', 'rsyslog']
    leap = req.resolve({'distro': 'opensuse-leap', 'release': '15.6', 'preset': 'database'}, cwd='/srv', build_id='abc123')
    assert leap['packages']['install'][0] == 'postgresql-server' and leap['preset_services'] == ['postgresql']
    debian = req.resolve({'preset': 'server'})
    assert debian['packages']['install'][:2] == ['less', 'vim-tiny'] and debian['preset_services'] == ['cron', 'rsyslog']


def test_presets_expand_into_packages_and_the_request_extends_them():
    resolved = req.resolve({'preset': ['server', 'web'], 'packages': {'install': ['htop', 'nginx']}})
    install = resolved['packages']['install']
    server = req.load_presets()['server']['packages']['debian']
    assert install[:len(server)] == server
    assert install.count('nginx') == 1 and install[-1] == 'htop'
    assert resolved['preset'] == ['server', 'web'] and 'nginx' in resolved['preset_services']


def test_a_single_preset_name_and_removed_packages():
    resolved = req.resolve({'preset': 'server', 'packages': {'remove': ['cron']}})
    assert resolved['preset'] == ['server']
    assert 'cron' not in resolved['packages']['install'] and 'cron' not in resolved['preset_services']


def test_minimal_preset_adds_nothing():
    resolved = req.resolve({'preset': 'minimal'})
    assert resolved['packages']['install'] == [] and resolved['preset_services'] == []


def test_unknown_preset_lists_the_valid_ones():
    message = errors_of({'preset': ['web', 'kitchen-sink']})['preset']
    assert "'kitchen-sink' is not a preset" in message and 'container-host' in message and 'web' in message


def test_repositories_resolve_with_the_release_as_suite_and_main_component():
    resolved = req.resolve({'release': 'trixie', 'repositories': [dict(REPO, priority=990)]})
    [repo] = resolved['repositories']
    assert repo['suites'] == ['trixie'] and repo['components'] == ['main'] and repo['priority'] == 990


@pytest.mark.parametrize('distro,release,keyring_dir', [('rocky', '9', '/etc/pki/rpm-gpg'),
                                                        ('opensuse-leap', '15.6', '/usr/lib/rpm/gnupg/keys')])
def test_rpm_repositories_resolve_with_signed_metadata_and_their_familys_key_directory(distro, release, keyring_dir):
    resolved = req.resolve({'distro': distro, 'release': release, 'repositories': [dict(REPO, priority=1),
                                                                                  dict(REPO, name='b', signed_metadata=False)]})
    first, second = resolved['repositories']
    assert first['signed_metadata'] is True and second['signed_metadata'] is False and first['priority'] == 1
    assert first['signed_by'] == keyring_dir + '/extra.asc'
    assert not {'suites', 'components', 'origin'} & set(first)


def test_key_file_is_relative_to_the_working_directory_of_extra_vars():
    resolved = req.resolve({'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': 'repo-key.asc'}]},
                           cwd=DATA)
    assert resolved['repositories'][0]['key_file'] == KEY_FILE


def test_location_mirror_overrides_the_distro_mirror():
    resolved = req.resolve({'location': {'mirror': 'http://mirror.example/debian', 'dns': ['192.0.2.1'],
                                         'ntp': ['ntp.example.org', '2001:db8::1']}})
    assert resolved['mirror'] == 'http://mirror.example/debian'
    assert resolved['packages']['install'] == ['systemd-timesyncd']
    assert req.resolve({'mirror': 'http://m.example/debian'})['location']['mirror'] == 'http://m.example/debian'


def test_proxy_credentials_are_redacted():
    resolved = req.resolve({'location': {'proxy': 'http://ada:s3cret@proxy.example:3128'}})
    assert resolved['location']['proxy'] == 'http://ada:s3cret@proxy.example:3128'
    assert req.redact(resolved)['location']['proxy'] == 'http://ada:********@proxy.example:3128'


@pytest.mark.parametrize('request_,key,words', [
    ({'preset': 5}, 'preset', 'a preset name or a list'),
    ({'preset': [5]}, 'preset[0]', 'not valid'),
    ({'repositories': {'name': 'x'}}, 'repositories', 'list of package repositories'),
    ({'repositories': [{'uri': 'http://x/', 'key': KEY}]}, 'repositories[0]', "'name' is required"),
    ({'repositories': [dict(REPO, name='Bad Name')]}, 'repositories[0].name', 'lower-case letters'),
    ({'repositories': [dict(REPO, uri='ftp://x/debian')]}, 'repositories[0].uri', 'URL'),
    ({'repositories': [dict(REPO, uri='http://x/$(reboot)')]}, 'repositories[0].uri', 'URL'),
    ({'repositories': [dict(REPO, suites=[])]}, 'repositories[0].suites', 'list of suites'),
    ({'repositories': [dict(REPO, suites=['../x'])]}, 'repositories[0].suites[0]', 'suites'),
    ({'repositories': [dict(REPO, components=['main contrib'])]}, 'repositories[0].components[0]', 'components'),
    ({'repositories': [{'name': 'x', 'uri': 'http://x/'}]}, 'repositories[0].key', 'exactly one'),
    ({'repositories': [dict(REPO, key_file=KEY_FILE)]}, 'repositories[0].key', 'exactly one'),
    ({'repositories': [dict(REPO, key='not a key')]}, 'repositories[0].key', 'ASCII-armored'),
    ({'repositories': [dict(REPO, key=KEY.replace('-----END', '-----FIN'))]}, 'repositories[0].key', 'END PGP'),
    ({'repositories': [dict(REPO, key=KEY.replace('\n\n', '\n\n!!'))]}, 'repositories[0].key', 'base64'),
    ({'repositories': [dict(REPO, key='-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n'
                                      '-----END PGP PUBLIC KEY BLOCK-----')]},
     'repositories[0].key', 'not an OpenPGP public key'),
    ({'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': '/nonexistent/key.asc'}]},
     'repositories[0].key_file', 'does not exist'),
    ({'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': os.path.abspath(__file__)}]},
     'repositories[0].key_file', 'not an OpenPGP public key'),
    ({'repositories': [dict(REPO, priority=1001)]}, 'repositories[0].priority', 'from -1 to 1000'),
    ({'repositories': [dict(REPO, priority='high')]}, 'repositories[0].priority', 'whole number'),
    ({'repositories': [dict(REPO, signed_metadata=True)]}, 'repositories[0].signed_metadata', 'el and suse'),
    ({'distro': 'rocky', 'release': '9', 'repositories': [dict(REPO, priority=0)]}, 'repositories[0].priority',
     'dnf priority from 1 to 99'),
    ({'distro': 'sles', 'release': '15-SP6', 'mirror': 'http://rmt/', 'repositories': [dict(REPO, priority=-1)]},
     'repositories[0].priority', 'zypper priority of 1 or more'),
    ({'distro': 'fedora', 'release': '44', 'repositories': [dict(REPO, signed_metadata='yes')]},
     'repositories[0].signed_metadata', 'true or false'),
    ({'distro': 'fedora', 'release': '44', 'repositories': [dict(REPO, name='updates-testing')]},
     'repositories[0].name', "fedora 44's own"),
    ({'distro': 'almalinux', 'release': '9', 'repositories': [dict(REPO, name='appstream')]},
     'repositories[0].name', 'choose another name'),
    ({'distro': 'centos-stream', 'release': '9', 'repositories': [dict(REPO, suites=['stable'])]},
     'repositories[0].suites', 'debian repositories only; remove it'),
    ({'repositories': [dict(REPO, pin_packages=['hello'])]}, 'repositories[0].pin_packages', 'need a priority'),
    ({'repositories': [dict(REPO, pin_packages=['Hello World'], priority=990)]},
     'repositories[0].pin_packages[0]', 'package names'),
    ({'repositories': [REPO, REPO]}, 'repositories[1].name', 'given twice'),
    ({'repositories': [dict(REPO, trusted=True)]}, 'repositories[0].trusted', 'unknown key'),
    ({'location': {'dns': ['8.8.8.300']}}, 'location.dns[0]', 'IPv4 or IPv6'),
    ({'location': {'dns': ['dns.example.org']}}, 'location.dns[0]', 'IPv4 or IPv6'),
    ({'location': {'dns': '1.1.1.1'}}, 'location.dns', 'list of IPv4'),
    ({'location': {'ntp': ['bad host!']}}, 'location.ntp[0]', 'host name or an IP'),
    ({'location': {'ntp': ['a.example', 'a.example']}}, 'location.ntp', 'not valid'),
    ({'location': {'proxy': 'socks5://proxy:1080'}}, 'location.proxy', 'http:// proxy URL'),
    ({'location': {'proxy': 'http://proxy:3128/; rm -rf /'}}, 'location.proxy', 'http:// proxy URL'),
    ({'location': {'mirror': 'mirror.example'}}, 'location.mirror', 'URL'),
    ({'location': {'mirror': 'http://a/debian'}, 'mirror': 'http://b/debian'}, 'location.mirror', 'not two'),
    ({'location': {'timezone': 'UTC'}}, 'location.timezone', 'unknown key'),
])
def test_every_bad_value_names_its_key(request_, key, words):
    errors = errors_of(request_)
    assert key in errors, errors
    assert words in errors[key], errors[key]


def test_a_private_key_is_refused_with_the_fix(tmp_path):
    private = tmp_path / 'private.asc'
    private.write_text('-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n')
    message = errors_of({'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': str(private)}]})
    assert 'gpg --export' in message['repositories[0].key_file']


def test_a_binary_key_file_is_accepted(tmp_path):
    body = KEY.split('\n\n', 1)[1].split('-----END')[0]
    lines = [line for line in body.splitlines() if line and not line.startswith('=')]
    binary = tmp_path / 'key.gpg'
    binary.write_bytes(base64.b64decode(''.join(lines)))
    req.validate({'repositories': [{'name': 'x', 'uri': 'http://x/', 'key_file': str(binary)}]})


def test_request_view_shows_request_keys_only():
    view = req.request_view(req.resolve({'preset': 'web'}))
    assert set(view) <= set(req.KEYS) and 'build_id' not in view and 'size_bytes' not in view['disk']
