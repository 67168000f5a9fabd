"""rpm_repositories' pure parts: each rpm family's .repo file, the files wanted, the files it owns and removes, and
the repositories it hands to rpm_packages."""

import configparser

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.modules import rpm_repositories as mod

KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----\n'


def repo(**over):
    return dict({'name': 'extra', 'uri': 'https://repo.example.org/el9/', 'key': KEY, 'key_file': None,
                 'signed_by': '/etc/pki/rpm-gpg/extra.asc', 'signed_metadata': True, 'priority': None}, **over)


def section(text, name='extra'):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return dict(parser[name])


@pytest.mark.parametrize('family', ['el', 'suse'])
def test_the_repo_file_is_the_familys_with_every_signature_checked(family):
    repository_file = distros.FAMILIES[family]['repository_file']
    text = mod.repo_text(repo(priority=10), repository_file)
    assert text.startswith(mod.MARKER)
    keys = section(text)
    assert keys['baseurl'] == 'https://repo.example.org/el9/' and keys['gpgkey'] == 'file:///etc/pki/rpm-gpg/extra.asc'
    assert (keys['gpgcheck'], keys['repo_gpgcheck'], keys['priority']) == ('1', '1', '10')
    assert {k: str(v) for k, v in repository_file['options'].items()}.items() <= keys.items()


def test_zypper_reads_rpm_md_and_dnf_takes_no_zypper_keys():
    assert section(mod.repo_text(repo(), distros.FAMILIES['suse']['repository_file']))['type'] == 'rpm-md'
    keys = section(mod.repo_text(repo(signed_metadata=False), distros.FAMILIES['el']['repository_file']))
    assert keys['repo_gpgcheck'] == '0' and 'type' not in keys and 'autorefresh' not in keys and 'priority' not in keys


def test_wanted_files_hold_each_repo_file_and_its_key_inline_or_from_a_file(tmp_path):
    key_file = tmp_path / 'k.gpg'
    key_file.write_bytes(b'\x99\x01binary')
    params = {'repository_file': {'dir': '/etc/yum.repos.d/', 'options': {}},
              'repositories': [repo(), repo(name='bin', key=None, key_file=str(key_file),
                                            signed_by='/etc/pki/rpm-gpg/bin.gpg')]}
    files = mod.wanted_files(params)
    assert sorted(files) == ['/etc/pki/rpm-gpg/bin.gpg', '/etc/pki/rpm-gpg/extra.asc', '/etc/yum.repos.d/bin.repo',
                             '/etc/yum.repos.d/extra.repo']
    assert files['/etc/pki/rpm-gpg/extra.asc'] == KEY.encode() and files['/etc/pki/rpm-gpg/bin.gpg'] == b'\x99\x01binary'


def test_only_its_own_stale_files_and_their_keys_are_removed(tmp_path):
    repos = tmp_path / 'etc/yum.repos.d'
    repos.mkdir(parents=True)
    (repos / 'old.repo').write_text(mod.MARKER + '[old]\ngpgkey=file:///etc/pki/rpm-gpg/old.asc\n')
    (repos / 'escape.repo').write_text(mod.MARKER + '[escape]\ngpgkey=file:///../../../etc/shadow\n'
                                       'gpgkey=file:///../../escape.asc\n')
    (repos / 'rocky.repo').write_text('[baseos]\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n')
    (repos / 'extra.repo').write_text(mod.MARKER + '[extra]\n')
    params = {'repository_file': {'dir': '/etc/yum.repos.d', 'options': {}}, 'repositories': [repo()]}
    wanted = mod.wanted_files(params)
    stale = mod.stale_files(str(tmp_path), params, wanted)
    assert stale == ['/etc/yum.repos.d/escape.repo', '/../../escape.asc', '/etc/yum.repos.d/old.repo',
                     '/etc/pki/rpm-gpg/old.asc']
    # A key path never leads out of the tree.
    assert mod.in_tree(str(tmp_path), '/../../../etc/shadow') == str(tmp_path / 'etc/shadow')


def test_rpm_packages_gets_the_keys_as_written_in_the_tree():
    given = mod.for_rpm_packages('/b/root', [repo(priority=5)])
    assert given == [{'name': 'extra', 'baseurl': 'https://repo.example.org/el9/',
                      'gpgkey': '/b/root/etc/pki/rpm-gpg/extra.asc', 'repo_gpgcheck': True, 'priority': 5}]


def test_a_symbolic_link_in_the_tree_never_leads_a_write_onto_the_build_host(tmp_path):
    root = tmp_path / 'root'
    (root / 'etc/pki').mkdir(parents=True)
    (root / 'etc/pki/rpm-gpg').symlink_to(tmp_path)  # absolute: on the host, outside the tree
    with pytest.raises(ValueError, match='leads out of it'):
        mod.in_tree(str(root), '/etc/pki/rpm-gpg/extra.asc')
    assert mod.in_tree(str(root), '/etc/yum.repos.d/extra.repo') == str(root / 'etc/yum.repos.d/extra.repo')
