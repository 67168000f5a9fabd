"""slim: the package manager's setting per family, and the prune argv run on a tree laid out like /usr/share."""

import subprocess

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req

FILES = ['doc/bash/copyright', 'doc/bash/README.gz', 'doc/bash/examples/loadables/Makefile', 'man/man1/bash.1.gz',
         'man/de/man1/ls.1.gz', 'info/bash.info.gz', 'locale/de/LC_MESSAGES/bash.mo', 'locale/de_AT/LC_MESSAGES/x.mo',
         'locale/fr/LC_MESSAGES/bash.mo', 'locale/locale.alias', 'bash-completion/completions/ls', 'zoneinfo/UTC']
KEPT = ['doc/bash/copyright', 'locale/de/LC_MESSAGES/bash.mo', 'locale/de_AT/LC_MESSAGES/x.mo', 'locale/locale.alias',
        'bash-completion/completions/ls', 'zoneinfo/UTC']


def test_a_request_is_not_slim_unless_it_asks():
    resolved = req.resolve({})
    assert resolved['slim'] is False and 'slim_tree' not in resolved


@pytest.mark.parametrize('distro,release,path,lines', [
    ('debian', 'bookworm', '/etc/dpkg/dpkg.cfg.d/osimage-slim',
     ['path-exclude=/usr/share/doc/*', 'path-include=/usr/share/doc/*/copyright', 'path-include=/usr/share/locale/de/*']),
    ('ubuntu', 'noble', '/etc/dpkg/dpkg.cfg.d/osimage-slim', ['path-exclude=/usr/share/man/*']),
    ('rocky', '9', '/etc/rpm/macros.osimage-slim', ['%_excludedocs 1', '%_install_langs de']),
    ('opensuse-leap', '15.6', '/etc/rpm/macros.osimage-slim', ['%_excludedocs 1', '%_install_langs de']),
])
def test_each_family_keeps_the_paths_out_with_its_own_setting(distro, release, path, lines):
    config = req.resolve({'distro': distro, 'release': release, 'slim': True, 'locale': 'de_DE.UTF-8'})['slim_tree']['config']
    assert config['path'] == path
    assert set(lines) <= set(config['text'].splitlines())


def test_the_prune_leaves_copyrights_the_requests_language_and_everything_else(tmp_path):
    prune = req.resolve({'slim': True, 'locale': 'de_DE.UTF-8'})['slim_tree']['prune']
    for name in FILES:
        (tmp_path / 'usr/share' / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'usr/share' / name).write_text(name)
    # The same argv over a copy of the tree: every path it names moved under tmp_path.
    argv = [a.replace('/usr/share', str(tmp_path / 'usr/share')) for a in prune]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert proc.stdout == '.' * (len(FILES) - len(KEPT))
    left = sorted(str(p.relative_to(tmp_path / 'usr/share')) for p in (tmp_path / 'usr/share').rglob('*') if p.is_file())
    assert left == sorted(KEPT)
    assert subprocess.run(argv, capture_output=True, text=True, check=True).stdout == ''  # nothing left to do
