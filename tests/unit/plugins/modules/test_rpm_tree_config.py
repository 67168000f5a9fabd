"""rpm_bootstrap's and rpm_packages' pure parts: what identifies a tree, the tools' private configuration
(module_utils/rpm_tree) and their command lines."""

import configparser

from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils import rpm_tree
from ansible_collections.osimage.builder.plugins.modules import rpm_bootstrap
from ansible_collections.osimage.builder.plugins.modules import rpm_packages

PARAMS = {'backend': 'dnf', 'releasever': '9', 'architecture': 'x86_64', 'dbpath': '/var/lib/rpm',
          'install_weak_deps': False, 'proxy': None,
          'repositories': [{'name': 'b', 'baseurl': 'http://b/', 'gpgkey': '/k/b'},
                           {'name': 'a', 'baseurl': 'http://a/$releasever/', 'gpgkey': 'http://a/key'}],
          'packages': ['kernel', 'bash', 'kernel']}


def parse(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return {name: dict(parser[name]) for name in parser.sections()}


def test_inputs_ignore_order_duplicates_and_the_proxy():
    shuffled = dict(PARAMS, repositories=PARAMS['repositories'][::-1], packages=['bash', 'kernel'],
                    proxy='http://user:secret@proxy:3128')
    assert bootstrap.rpm_inputs(shuffled) == bootstrap.rpm_inputs(PARAMS)
    assert 'proxy' not in bootstrap.rpm_inputs(PARAMS)


def test_dnf_config_checks_signatures_and_never_names_a_key_to_import():
    conf = parse(rpm_tree.dnf_config(PARAMS))
    assert conf['main']['gpgcheck'] == '1' and conf['main']['localpkg_gpgcheck'] == '1'
    assert conf['main']['reposdir'] == '/dev/null'
    assert conf['main']['install_weak_deps'] == '0'
    assert conf['a'] == {'name': 'a', 'baseurl': 'http://a/$releasever/', 'enabled': '1', 'gpgcheck': '1',
                         'repo_gpgcheck': '0'}
    assert not any('gpgkey' in section for section in conf.values())


def test_zypper_repo_checks_package_signatures():
    repo = parse(rpm_tree.zypper_repo(PARAMS['repositories'][0]))['b']
    assert (repo['gpgcheck'], repo['pkg_gpgcheck'], repo['baseurl']) == ('1', '1', 'http://b/')
    assert 'gpgkey' not in repo


def test_install_argv_uses_only_the_private_configuration():
    dnf = rpm_bootstrap.install_argv(PARAMS, '/t/root.partial', '/p')
    assert dnf[:3] == ['dnf', '-y', '--installroot=/t/root.partial']
    assert '--config=/p/dnf.conf' in dnf and '--setopt=reposdir=/dev/null' in dnf and '--noplugins' in dnf
    assert dnf[-3:] == ['install', 'bash', 'kernel']
    zypper = rpm_bootstrap.install_argv(dict(PARAMS, backend='zypper', install_weak_deps=True), '/t/r', '/p')
    assert zypper[zypper.index('--reposd-dir') + 1] == '/p/repos.d'
    assert zypper[zypper.index('--config') + 1] == '/p/zypper.conf'
    assert zypper[-4:] == ['install', '--recommends', 'bash', 'kernel']
    assert '--gpg-auto-import-keys' not in zypper and '--no-gpg-checks' not in zypper


def test_the_tools_environment_keeps_rpm_and_zypp_in_the_private_directory():
    env = rpm_tree.tool_environment(dict(PARAMS, proxy='http://proxy:3128'), '/p')
    assert env['HOME'] == '/p' and env['ZYPP_LOGFILE'] == '/p/zypper.log' and env['ZYPP_CONF'] == '/p/zypp.conf'
    assert env['http_proxy'] == env['https_proxy'] == 'http://proxy:3128'
    assert 'http_proxy' not in rpm_tree.tool_environment(PARAMS, '/p')


def test_rpm_packages_plans_only_what_the_tree_lacks_or_holds_in_request_order():
    params = {'install': ['tmux', 'bash', 'tmux', 'vim'], 'remove': ['nano', 'ed']}
    assert rpm_packages.plan(params, {'bash', 'ed'}) == (['tmux', 'vim'], ['ed'])
    assert rpm_packages.plan(params, {'bash', 'tmux', 'vim'}) == ([], [])


def test_rpm_packages_runs_the_familys_verbs_after_the_tools_root_and_private_configuration():
    params = dict(PARAMS, backend='zypper', verbs={'install': ['install', '--no-recommends'],
                                                   'remove': ['remove', '--clean-deps']})
    commands = rpm_packages.commands_for(params, '/t/root', '/p', ['tmux'], ['nano'])
    keys, remove, install = commands[:2], commands[2], commands[3]
    assert keys == [['rpm', '--root', '/t/root', '--dbpath', '/var/lib/rpm', '--import', r['gpgkey']]
                    for r in PARAMS['repositories']]
    assert remove[:4] == ['zypper', '--non-interactive', '--root', '/t/root'] and '/p/repos.d' in remove
    assert remove[-3:] == ['remove', '--clean-deps', 'nano'] and install[-3:] == ['install', '--no-recommends', 'tmux']
    # Removing alone needs no key.
    assert [c[-1] for c in rpm_packages.commands_for(params, '/t/root', '/p', [], ['nano'])] == ['nano']


def test_a_repository_with_signed_metadata_names_its_key_for_dnf_and_both_tools_take_its_priority():
    repos = [dict(PARAMS['repositories'][0], repo_gpgcheck=True, priority=10)]
    conf = parse(rpm_tree.dnf_config(dict(PARAMS, repositories=repos)))['b']
    assert (conf['repo_gpgcheck'], conf['gpgkey'], conf['priority']) == ('1', 'file:///k/b', '10')
    zypper = parse(rpm_tree.zypper_repo(repos[0]))['b']
    assert (zypper['repo_gpgcheck'], zypper['priority']) == ('1', '10') and 'gpgkey' not in zypper
