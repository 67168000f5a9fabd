"""Builds on build hosts: the builder is a second sshd this module starts (Debian's openssh-server) on 127.0.0.2,
with a throwaway host key and an authorized key, and stops at the end.

The builder is this machine, so it has the collection at this checkout's path: its sshd sets PATH and PYTHONPATH
(SetEnv) so that `osimage` over SSH is this checkout's driver, which uses this checkout as its collection. The
builder has its own work directory and shares the package cache (/var/cache/osimage) to keep the run short.
Default run: one real remote build (raw, no boot test) copied back and verified, one cancelled in customize, and
an unreachable builder; two builds over two builder entries at once run with -m matrix.
"""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from osimage_testlib import BIN, ROOT, left_on_host, run, sha256

pytestmark = pytest.mark.integration

SSHD = '/usr/sbin/sshd'
ADDRESS = '127.0.0.2'
REQUEST = 'name: remote\nformats: [raw]\n'


def free_port(address):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Sshd:
    """An sshd on a loopback address that lets root in with one throwaway key and runs this checkout's osimage."""

    def __init__(self, tmp):
        self.tmp, self.port = tmp, free_port(ADDRESS)
        for key in ('host_key', 'client_key'):
            run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp / key)], check=True)
        (tmp / 'authorized_keys').write_text((tmp / 'client_key.pub').read_text())
        host_key = (tmp / 'host_key.pub').read_text().split()
        (tmp / 'known_hosts').write_text('[%s]:%d %s %s\n' % (ADDRESS, self.port, host_key[0], host_key[1]))
        path = os.pathsep.join([BIN, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])
        (tmp / 'sshd_config').write_text('\n'.join([
            'ListenAddress %s:%d' % (ADDRESS, self.port), 'HostKey %s' % (tmp / 'host_key'),
            'AuthorizedKeysFile %s' % (tmp / 'authorized_keys'), 'PermitRootLogin prohibit-password',
            'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
            'PidFile %s' % (tmp / 'sshd.pid'),
            'SetEnv PYTHONPATH=%s PATH=%s' % (os.path.join(ROOT, 'driver'), path), '']))
        os.makedirs('/run/sshd', exist_ok=True)  # sshd's privilege separation directory
        self.proc = subprocess.Popen([SSHD, '-D', '-e', '-f', str(tmp / 'sshd_config')], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex((ADDRESS, self.port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError('sshd did not start: %s' % self.proc.stderr.read1().decode())

    @property
    def spec(self):
        return 'root@%s:%d' % (ADDRESS, self.port)

    def ssh_options(self):
        options = []
        for opt in ('IdentityFile=%s' % (self.tmp / 'client_key'), 'IdentitiesOnly=yes',
                    'UserKnownHostsFile=%s' % (self.tmp / 'known_hosts'), 'StrictHostKeyChecking=yes'):
            options += ['--ssh-option', opt]
        return options

    def inventory(self, path, hosts):
        """An inventory of ``hosts`` {name: vars}; each reaches this sshd unless its vars say otherwise."""
        group = {name: dict({'ansible_host': ADDRESS, 'ansible_port': self.port, 'ansible_user': 'root'}, **hvars)
                 for name, hvars in hosts.items()}
        path.write_text(json.dumps({'osimage_builders': {'hosts': group}}))
        return str(path)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope='module')
def builder(tmp_path_factory):
    sshd = Sshd(tmp_path_factory.mktemp('builder-sshd'))
    yield sshd
    sshd.stop()


def osimage(*argv):
    return [os.path.join(BIN, 'osimage'), *argv]


def workers_of(build_ids=None):
    """The `osimage builder-worker` processes still running (of ``build_ids``, or all)."""
    found = []
    for entry in [e for e in os.listdir('/proc') if e.isdigit()]:
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                argv = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if 'builder-worker' in argv and (build_ids is None or set(argv) & set(build_ids)):
            found.append(' '.join(argv))
    return found


@pytest.mark.matrix
def test_a_remote_build_streams_its_stages_and_copies_back_verified_images(builder, tmp_path):
    request, out = tmp_path / 'request.yml', tmp_path / 'out'
    request.write_text(REQUEST)
    started = time.monotonic()
    proc = run(osimage('build', str(request), '-o', str(out), '--no-boot-test', '--json', '--builder', builder.spec,
                       *builder.ssh_options()), timeout=1800)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    for stage in ('bootstrap', 'customize', 'assemble', 'bootloader', 'convert'):
        assert 'stage %s' % stage in proc.stderr  # the builder's events, shown as a local build shows them
    *events, summary = map(json.loads, proc.stdout.splitlines())
    assert [e['stage'] for e in events if e['event'] == 'stage_start'][:2] == ['validate', 'bootstrap']
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['builder']['host'] == ADDRESS and not manifest['builder']['kept']
    remote_dir = manifest['builder']['output_dir']
    (image,) = manifest['images']
    assert image['dest'] == str(out / 'remote.raw') and summary['artifacts'][0]['path'] == image['dest']
    assert sha256(image['dest']) == image['sha256']
    assert os.stat(image['dest']).st_blocks * 512 < image['bytes']  # copied back sparse, as built
    assert (out / 'build.log').read_text().count('PLAY RECAP') == 1
    assert manifest['packages'] and all(p.get('version') for p in manifest['packages'])
    assert not [n for n in os.listdir(out) if '.tmp-' in n]
    assert not os.path.exists(remote_dir)  # copied back: nothing of it stays on the builder
    assert workers_of() == []
    print('remote build: %.0f s, its stages %.0f s' % (seconds, sum(s['seconds'] for s in manifest['stages'])))


def test_a_cancelled_remote_build_leaves_nothing_on_the_builder(builder, tmp_path):
    work, out = tmp_path / 'builder-work', tmp_path / 'out'
    inventory = builder.inventory(tmp_path / 'builders.json', {'b1': {'osimage_work_dir': str(work),
                                                                      'osimage_output_dir': str(tmp_path / 'remote')}})
    request = tmp_path / 'request.yml'
    request.write_text(REQUEST)
    proc = subprocess.Popen(osimage('build', str(request), '-o', str(out), '--no-boot-test', '--builders', inventory,
                                    *builder.ssh_options()), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, deadline = [], time.monotonic() + 900
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, 'the build ended before customize:\n' + ''.join(seen)
        seen.append(line)
        if 'stage customize' in line:
            break
    time.sleep(4)  # inside customize: the chroot is mounted, packages install
    proc.send_signal(signal.SIGTERM)
    seen.append(proc.communicate(timeout=400)[0])
    assert proc.returncode == 130, ''.join(seen)
    assert 'interrupted' in seen[-1]
    build_id = ''.join(seen).split('/remote/')[1].split()[0]
    assert left_on_host(tmp_path, work) == []
    assert workers_of([build_id]) == []
    leftovers = [e for e in os.listdir(work) if e != 'owners'] if work.exists() else []
    assert leftovers == [] and (not (work / 'owners').exists() or os.listdir(work / 'owners') == [])
    assert not (tmp_path / 'remote').exists() or os.listdir(tmp_path / 'remote') == []
    assert not out.exists() or [n for n in os.listdir(out) if n != 'build.log'] == []


def test_an_unreachable_builder_fails_its_build_with_a_clear_message(builder, tmp_path):
    dead_port = free_port('127.0.0.3')
    inventory = builder.inventory(tmp_path / 'builders.json', {'gone': {'ansible_host': '127.0.0.3',
                                                                        'ansible_port': dead_port}})
    requests = []
    for name in ('one', 'two'):
        requests.append(tmp_path / ('%s.yml' % name))
        requests[-1].write_text('name: %s\nformats: [raw]\noutput_dir: %s\n' % (name, tmp_path / name))
    proc = run(osimage('build', *map(str, requests), '--no-boot-test', '--json', '--builders', inventory,
                       *builder.ssh_options()), timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes = json.loads(proc.stdout)
    assert [o['result'] for o in outcomes] == ['build-failed', 'build-failed']
    assert 'builder gone is unreachable over SSH' in outcomes[0]['failure'] + outcomes[1]['failure']
    assert '0 of 2 builds succeeded' in proc.stderr and 'gone' in proc.stderr


def test_a_builder_without_osimage_names_the_playbook_that_prepares_it(builder, tmp_path):
    inventory = builder.inventory(tmp_path / 'builders.json', {'bare': {'osimage_command': '/nonexistent/osimage'}})
    request = tmp_path / 'one.yml'
    request.write_text('name: one\nformats: [raw]\noutput_dir: %s\n' % (tmp_path / 'one'))
    proc = run(osimage('build', str(request), '--no-boot-test', '--json', '--builders', inventory,
                       *builder.ssh_options()), timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # EXIT_BAD_INPUT: nothing was built
    outcome = json.loads(proc.stdout)
    assert outcome['result'] == 'refused' and outcome['builder'] == 'bare'
    assert 'builder bare has no `/nonexistent/osimage` command' in outcome['failure']['message'], outcome
    assert 'playbooks/builder_setup.yml' in outcome['failure']['message']
    assert 'refused: builder bare has no' in proc.stderr


@pytest.mark.matrix
def test_two_builds_over_two_builders_run_at_once_and_a_vanished_one_fails_only_its_build(builder, tmp_path):
    inventory = builder.inventory(tmp_path / 'builders.json', {
        'b1': {'osimage_work_dir': str(tmp_path / 'w1')}, 'b2': {'osimage_work_dir': str(tmp_path / 'w2')},
        'gone': {'ansible_host': '127.0.0.3', 'ansible_port': free_port('127.0.0.3')}})
    requests = []
    for name in ('one', 'two', 'three'):
        requests.append(tmp_path / ('%s.yml' % name))
        requests[-1].write_text('name: %s\nformats: [raw]\noutput_dir: %s\n' % (name, tmp_path / name))
    proc = run(osimage('build', *map(str, requests), '--no-boot-test', '--json', '--builders', inventory,
                       *builder.ssh_options()), timeout=3600)
    outcomes = json.loads(proc.stdout)
    ok = [o for o in outcomes if o['result'] == 'ok']
    failed = [o for o in outcomes if o['result'] != 'ok']
    assert len(ok) >= 2 and {o['builder'] for o in ok} <= {'b1', 'b2'}, proc.stderr[-4000:]
    assert all(o['builder'] == 'gone' and 'unreachable' in o['failure'] for o in failed)
    for o in ok:
        manifest = json.loads(open(os.path.join(o['output_dir'], 'manifest.json'), encoding='utf-8').read())
        assert sha256(manifest['images'][0]['dest']) == manifest['images'][0]['sha256']
