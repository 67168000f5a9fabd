"""Build hosts without a build: builder specs and inventories, slots, the transmitted job, the pool and its summary,
and the command line refusing bad input before anything goes over SSH."""

import io
import json
import os
import subprocess
import sys
import threading
import time

import ansible_runner
import pytest
from rich.console import Console

from osimage import build_hosts, build_pool, builder_worker
from osimage.pool_summary import summary_table

OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')
UNREACHABLE = ['--builder', 'root@127.0.0.3:9', '--ssh-option', 'ConnectTimeout=2']


def osimage(*args):
    return subprocess.run([OSIMAGE, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize('spec,host,user,port', [
    ('build1', 'build1', None, None),
    ('root@build1.example.org', 'build1.example.org', 'root', None),
    ('ops@10.0.0.5:2222', '10.0.0.5', 'ops', 2222),
])
def test_a_builder_spec_gives_host_user_and_port(spec, host, user, port):
    b = build_hosts.parse_spec(spec)
    assert (b.name, b.host, b.user, b.port, b.limit) == (spec, host, user, port, 1)


@pytest.mark.parametrize('spec,words', [('host:ssh', "port 'ssh'"), ('host:70000', 'port'), ('', '[USER@]HOST')])
def test_a_bad_builder_spec_is_named(spec, words):
    with pytest.raises(ValueError, match=words.replace('[', r'\[').replace(']', r'\]')):
        build_hosts.parse_spec(spec)


def test_the_ssh_command_quotes_every_word_for_the_remote_shell():
    b = build_hosts.Builder(name='b', host='h', user='u', port=2200, command='env X=1 /opt/bin/osimage',
                            ssh_options=('IdentityFile=/k',))
    argv = b.osimage('builder-worker', '--work-dir', '/var/tmp/a dir')
    assert argv[:2] == ['ssh', '-T'] and ['-o', 'IdentityFile=/k'] == argv[argv.index('IdentityFile=/k') - 1:][:2]
    assert argv[-3:] == ['u@h', '--', "env X=1 /opt/bin/osimage builder-worker --work-dir '/var/tmp/a dir'"]


def test_an_inventory_group_gives_builders_with_their_limits_and_directories(tmp_path):
    inv = tmp_path / 'hosts.yml'
    inv.write_text('''
osimage_builders:
  hosts:
    big: {ansible_host: 10.0.0.1, ansible_user: ops, ansible_port: 2222, osimage_builder_limit: 3,
          ansible_ssh_private_key_file: /k}
    small: {osimage_work_dir: /srv/work, osimage_command: /opt/osimage/bin/osimage}
  vars: {osimage_cache_dir: /srv/cache}
others:
  hosts: {web: {}}
''')
    big, small = build_hosts.from_inventory(str(inv), ssh_options=['ConnectTimeout=5'])
    assert (big.host, big.user, big.port, big.limit, big.cache_dir) == ('10.0.0.1', 'ops', 2222, 3, '/srv/cache')
    assert big.ssh_options == ('ConnectTimeout=5', 'IdentityFile=/k')
    assert (small.host, small.limit, small.work_dir, small.command) == ('small', 1, '/srv/work',
                                                                        '/opt/osimage/bin/osimage')
    assert [b.name for b in build_pool.slots([big, small])] == ['big', 'small', 'big', 'big']
    with pytest.raises(ValueError, match='no host in group builders'):
        build_hosts.from_inventory(str(inv), group='builders')


def test_a_bad_limit_is_named(tmp_path):
    inv = tmp_path / 'hosts.yml'
    inv.write_text('osimage_builders:\n  hosts:\n    b: {osimage_builder_limit: 0}\n')
    with pytest.raises(ValueError, match='host b: osimage_builder_limit must be a whole number >= 1'):
        build_hosts.from_inventory(str(inv))


def test_the_worker_reads_the_transmitted_job_whole_and_no_further(tmp_path):
    (tmp_path / 'pdd' / 'project').mkdir(parents=True)
    (tmp_path / 'pdd' / 'project' / 'big').write_bytes(os.urandom(300000))
    out = open(tmp_path / 'stream', 'w+b')  # pylint: disable=consider-using-with
    ansible_runner.run(streamer='transmit', _output=out, private_data_dir=str(tmp_path / 'pdd'), playbook='p.yml',
                       extravars={'a': 1}, quiet=True)
    out.seek(0)
    stream = io.BytesIO(out.read() + b'what follows')
    job = builder_worker.read_job(stream).read()
    assert job.endswith(b'{"eof": true}\n') and stream.read() == b'what follows'


class FakeBuild:
    """What run_many needs of a RemoteBuild: run(), cancel(), progress.failure, output_dir."""

    def __init__(self, builder, code, message, seconds=0.2):
        self.builder, self.code, self.seconds = builder, code, seconds
        self.output_dir = '/out/' + builder.name
        self.progress = type('P', (), {'failure': message})()

    def run(self):
        time.sleep(self.seconds)
        return self.code

    def cancel(self, signum=None):
        pass


def test_the_pool_keeps_each_builder_to_its_limit_and_drops_an_unreachable_one():
    hosts = [build_hosts.Builder(name='a', host='a', limit=2), build_hosts.Builder(name='gone', host='g')]
    running, peak, lock = {}, {}, threading.Lock()

    def start(_build, builder, _prefix):
        if builder.name == 'gone':
            return FakeBuild(builder, 1, 'builder gone is unreachable over SSH: refused', 0)
        with lock:
            running[builder.name] = running.get(builder.name, 0) + 1
            peak[builder.name] = max(peak.get(builder.name, 0), running[builder.name])
        build = FakeBuild(builder, 0, None)
        original = build.run

        def run():
            code = original()
            with lock:
                running[builder.name] -= 1
            return code
        build.run = run
        return build

    outcomes = build_pool.run_many([('r%d.yml' % i, None) for i in range(5)], hosts, start)
    assert peak == {'a': 2}
    assert sorted(o.builder for o in outcomes) == ['a', 'a', 'a', 'a', 'gone']
    assert [o.code for o in outcomes if o.builder == 'gone'] == [1]
    text = io.StringIO()
    Console(file=text, width=200).print(summary_table(outcomes))
    assert '4 of 5 builds succeeded' in text.getvalue() and 'builder gone is unreachable' in text.getvalue()
    assert text.getvalue().count('/out/a') == 4


def test_when_every_builder_is_gone_the_rest_fail_naming_that():
    hosts = [build_hosts.Builder(name='gone', host='g')]
    outcomes = build_pool.run_many([('a.yml', None), ('b.yml', None)], hosts,
                                   lambda _b, builder, _p: FakeBuild(builder, 1, 'builder gone is unreachable', 0))
    assert sorted(o.message for o in outcomes) == ['builder gone is unreachable', 'no builder left (all unreachable)']


def test_a_bad_request_is_refused_before_anything_goes_to_the_builder(tmp_path):
    request = tmp_path / 'r.yml'
    request.write_text('colour: red\n')
    out = osimage('build', str(request), *UNREACHABLE)
    assert out.returncode == 2 and 'colour: unknown key' in out.stderr and 'unreachable' not in out.stderr


@pytest.mark.parametrize('argv,words', [
    (['a.yml', 'b.yml'], 'give --builders INVENTORY'),
    (['a.yml', 'b.yml', '--builder', 'h'], 'not one --builder'),
    (['--builder', 'h', '--builders', 'inv'], 'not both'),
    (['a.yml', 'b.yml', '--builders', 'inv', '-o', 'out'], '-o names one build'),
])
def test_usage_errors_of_build_hosts_exit_4(argv, words):
    out = osimage('build', *argv)
    assert out.returncode == 4 and words in out.stderr


def test_an_unreachable_builder_is_named(tmp_path):
    out = osimage('build', '--no-boot-test', '-o', str(tmp_path), '--json', *UNREACHABLE)
    assert out.returncode == 1, out.stderr
    summary = json.loads(out.stdout)
    assert summary['result'] == 'build-failed' and summary['builder'] == 'root@127.0.0.3:9'
    assert 'builder root@127.0.0.3:9 is unreachable over SSH' in summary['failure']['message']
    assert os.listdir(tmp_path) == []
