"""The osimage command's interface: --version, --json, exit codes, shell completion, a missing collection."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from osimage import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')


def osimage(*args, **kwargs):
    kwargs.setdefault('env', dict(os.environ, COLUMNS='250'))
    return subprocess.run([OSIMAGE, *args], capture_output=True, text=True, timeout=60, check=False, **kwargs)


def test_version_names_the_driver_the_collection_where_it_is_and_ansible_core():
    from ansible.release import __version__ as ansible_core  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as f:
        collection_version = yaml.safe_load(f)['version']
    out = osimage('--version')
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith('osimage %s (driver %s' % (collection_version, os.path.join(ROOT, 'driver', 'osimage')))
    assert lines[1] == 'osimage.builder %s (collection %s, checkout)' % (collection_version, ROOT)
    assert lines[2] == 'ansible-core %s' % ansible_core


@pytest.mark.parametrize('args,says', [
    ((), 'the following arguments are required: COMMAND'),
    (('build', '--no-such-option'), 'unrecognized arguments: --no-such-option'),
    (('boot-test',), 'the following arguments are required: image'),
    (('boot-test', 'x.qcow2', '--arch', 'sparc'), "invalid choice: 'sparc' (choose from 'amd64', 'arm64')"),
    (('boot-test', 'x.qcow2', '--timeout', 'soon'), "invalid int value: 'soon'"),
    (('completion', 'fish'), "invalid choice: 'fish'"),
])
def test_usage_errors_have_their_own_exit_code_not_a_bad_requests(args, says):
    out = osimage(*args)
    assert out.returncode == cli.EXIT_USAGE == 4, out.stderr
    assert says in out.stderr and 'usage: osimage' in out.stderr and 'Traceback' not in out.stderr


def test_exit_codes_are_distinct_and_each_is_documented_in_help_and_readme():
    codes = [cli.EXIT_BUILD_FAILED, cli.EXIT_BAD_INPUT, cli.EXIT_BOOT_TEST_FAILED, cli.EXIT_USAGE,
             cli.EXIT_NO_COLLECTION, cli.EXIT_INTERRUPTED]
    assert len(set(codes + [0])) == 7 and cli.EXIT_BAD_INPUT == 2
    helped = osimage('--help')
    assert helped.returncode == 0
    documented = [int(code) for code in re.findall(r'^  (\d+) +\S', helped.stdout.split('exit codes:')[1], re.M)]
    assert documented == [0] + codes
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    assert documented == [int(code) for code in re.findall(r'^\| (\d+) \|', readme, re.M)]


def test_every_command_that_prints_data_prints_json(tmp_path):
    request = tmp_path / 'r.yml'
    request.write_text('distro: rocky\nrelease: "9"\nroot_password: hunter2\npreset: web\n')
    shown = json.loads(osimage('show', str(request), '--json').stdout)
    assert shown['request']['preset'] == ['web'] and 'nginx' in shown['request']['packages']['install']
    assert shown['distro_table']['family'] == 'el' and shown['request']['root_password_hash'] == '********'
    validated = json.loads(osimage('validate', '--json', str(request)).stdout)
    assert validated['os']['family'] == 'el' and 'hunter2' not in json.dumps(validated)
    presets = {p['name']: p for p in json.loads(osimage('presets', '--json').stdout)}
    assert presets['web']['packages']['debian'] == ['nginx'] and 'minimal' in presets
    platforms = {p['name']: p for p in json.loads(osimage('platforms', '--json').stdout)}
    assert platforms['vmware']['formats'] == ['vmdk', 'ova'] and set(platforms) >= {'kvm', 'aws', 'azure'}
    distros = json.loads(osimage('distros', '--json').stdout)
    assert {'distro': 'debian', 'release': 'bookworm'}.items() <= distros[0].items()
    cleaned = osimage('clean', '--json', '--work-dir', str(tmp_path / 'work'), '--cache-dir', str(tmp_path / 'cache'),
                      env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert json.loads(cleaned.stdout) == {'released': {}, 'cache': [], 'temp_dirs': []}, cleaned.stderr


class Progress:  # what playbook.run returns as its progress
    def __init__(self, stage, failure=None, interrupted=None, refused=False):
        self.stage, self.failure, self.interrupted, self.refused = stage, failure, interrupted, refused

    @staticmethod
    def elapsed():
        return 12.34


@pytest.mark.parametrize('ok,progress,code,result', [
    (True, Progress('prove'), 0, 'ok'),
    (False, Progress('bootstrap', 'apt: no such package'), cli.EXIT_BUILD_FAILED, 'build-failed'),
    (False, Progress('prove', 'timeout'), cli.EXIT_BOOT_TEST_FAILED, 'boot-test-failed'),
    (False, Progress('assemble', 'interrupted by signal 15', interrupted=15), cli.EXIT_INTERRUPTED, 'interrupted'),
    (False, Progress('open', 'partition 2 holds an LVM physical volume', refused=True), cli.EXIT_BAD_INPUT, 'refused'),
])
def test_build_summary_names_the_result_and_only_what_this_build_wrote(tmp_path, ok, progress, code, result):
    stale = tmp_path / 'boot-report.json'
    stale.write_text('{}')
    os.utime(stale, (1, 1))  # an earlier build's
    image = str(tmp_path / 'img.qcow2')
    (tmp_path / 'manifest.json').write_text(json.dumps(
        {'images': [{'dest': image, 'format': 'qcow2', 'bytes': 5, 'sha256': 'ab' * 32}]}))
    (tmp_path / 'build.log').write_text('log')
    assert cli.outcome(ok, progress) == code
    summary = cli.build_summary(code, progress, str(tmp_path), started=1000)
    json.dumps(summary)
    assert summary['result'] == result and summary['exit_code'] == code and summary['seconds'] == 12.3
    assert summary['boot_report'] is None and summary['build_log'] == str(tmp_path / 'build.log')
    if code:
        assert summary['artifacts'] == [] and summary['manifest'] is None
        assert summary['failure'] == {'stage': progress.stage, 'message': progress.failure}
    else:
        assert summary['artifacts'] == [{'path': image, 'format': 'qcow2', 'bytes': 5, 'sha256': 'ab' * 32}]
        assert summary['manifest'] == str(tmp_path / 'manifest.json') and summary['failure'] is None


def complete_bash(script, words):
    """COMPREPLY for a command line whose last word is being completed."""
    line = ' '.join("'%s'" % w for w in words)
    program = '%s\nCOMP_WORDS=(%s); COMP_CWORD=%d; _osimage; printf "%%s\\n" "${COMPREPLY[@]}"\n' % (
        script, line, len(words) - 1)
    return subprocess.run(['bash', '-c', program], capture_output=True, text=True, check=True).stdout.split()


def test_bash_completion_completes_commands_options_choices_and_files(tmp_path):
    script = osimage('completion', 'bash').stdout
    assert complete_bash(script, ['osimage', 'b']) == ['build', 'boot-test', 'boot']
    assert complete_bash(script, ['osimage', '--v']) == ['--version']
    assert set(complete_bash(script, ['osimage', 'build', '--'])) == {
        '--help', '--vault-password-file', '--json', '--output', '--no-boot-test', '--force',
        '--builder', '--builders', '--builder-group', '--keep-on-builder', '--ssh-option'}
    assert complete_bash(script, ['osimage', 'boot-test', 'x.qcow2', '--arch', '']) == ['amd64', 'arm64']
    assert complete_bash(script, ['osimage', 'boot-test', '--accel', 't']) == ['tcg']
    assert complete_bash(script, ['osimage', 'completion', '']) == ['bash', 'zsh']
    (tmp_path / 'req.yml').write_text('{}')
    (tmp_path / 'out').mkdir()
    assert complete_bash(script, ['osimage', 'validate', str(tmp_path / 're')]) == [str(tmp_path / 'req.yml')]
    assert complete_bash(script, ['osimage', 'build', '-o', str(tmp_path) + '/']) == [str(tmp_path / 'out')]


def test_zsh_completion_registers_and_knows_every_command():
    script = osimage('completion', 'zsh').stdout
    for command in ('build', 'validate', 'show', 'presets', 'boot-test', 'boot', 'distros', 'platforms', 'clean'):
        assert re.search(r"^ +'%s:" % command, script, re.M)
        assert re.search(r'^ +%s\) _arguments ' % command, script, re.M)
    assert "'--arch[the image'\\''s architecture]:arch:(amd64 arm64)'" in script
    if not shutil.which('zsh'):
        pytest.skip('zsh is not installed: only the script was checked')
    registered = subprocess.run(['zsh', '-f', '-c', 'autoload -U compinit && compinit -u -D && eval "$1" && '
                                 'print -r -- $_comps[osimage]', 'zsh', script],
                                capture_output=True, text=True, check=False)
    assert registered.stdout.strip() == '_osimage', registered.stderr


def test_a_missing_collection_is_a_clear_error_with_its_own_exit_code(tmp_path):
    """The driver outside a checkout (copied), with no collection in any collections path Ansible searches."""
    shutil.copytree(os.path.join(ROOT, 'driver', 'osimage'), tmp_path / 'site' / 'osimage')
    (tmp_path / 'empty').mkdir()
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'site'), ANSIBLE_COLLECTIONS_PATH=str(tmp_path / 'empty'),
               ANSIBLE_HOME=str(tmp_path / 'home'), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false')
    env.pop('ANSIBLE_CONFIG', None)
    for args in (('presets',), ('validate',), ('--version',)):
        out = subprocess.run([sys.executable, '-m', 'osimage.cli', *args], capture_output=True, text=True, check=False,
                             cwd=tmp_path, env=env, timeout=60)
        assert out.returncode == cli.EXIT_NO_COLLECTION == 5, out.stdout + out.stderr
        assert 'Traceback' not in out.stderr
        assert 'the osimage.builder collection is in none of the collections paths' in out.stderr
        assert str(tmp_path / 'empty') in out.stderr and 'ansible-galaxy collection install' in out.stderr
