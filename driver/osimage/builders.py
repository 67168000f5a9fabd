"""Builds on build hosts over SSH, through ansible-runner's streaming (what AWX's execution nodes run).

The driver validates the request here, probes the builder (``osimage builder-probe``: the collection, the host's
privileges and tools), packs the job with ``ansible-runner transmit``, and pipes it through ``ssh HOST osimage
builder-worker`` (ansible-runner's worker plus the cleanup a local build does) into ``ansible-runner process``
here, whose events drive the same progress display as a local build. Closing the SSH stream cancels the job
on the builder; the artifacts come back with their checksums verified.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import ansible_runner
from ansible_runner.streaming import Worker

from osimage import collection, playbook

DEFAULT_GROUP = 'osimage_builders'
CANCEL_GRACE = 300  # seconds the builder has to release what a cancelled job took before the stream is cut
EXIT_BUILD_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class BuilderError(Exception):
    """The builder cannot take the build (unreachable, no osimage, missing tools); ``code`` is the exit code."""

    def __init__(self, message, code=EXIT_BUILD_FAILED):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Builder:
    """A build host and how this driver reaches and uses it."""
    name: str
    host: str
    user: str | None = None
    port: int | None = None
    limit: int = 1                     # builds at once (inventory variable osimage_builder_limit)
    command: str = 'osimage'           # the osimage command on the builder (osimage_command)
    work_dir: str = '/var/tmp/osimage-builder'       # the builder's own work_dir (osimage_work_dir)
    cache_dir: str = '/var/cache/osimage'            # and package cache (osimage_cache_dir)
    output_root: str = '/var/tmp/osimage-builder/output'  # builds write under OUTPUT_ROOT/BUILD_ID (osimage_output_dir)
    ssh_options: tuple = field(default=())             # -o OPTION for ssh (--ssh-option, ansible_ssh_common_args)

    def ssh(self, *argv):
        """The ssh command line that runs ``argv`` (each word quoted for the remote shell) on the builder."""
        cmd = ['ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4']
        for option in self.ssh_options:
            cmd += ['-o', option]
        if self.port:
            cmd += ['-p', str(self.port)]
        return cmd + [('%s@%s' % (self.user, self.host)) if self.user else self.host, '--',
                      ' '.join(shlex.quote(a) for a in argv)]

    def osimage(self, *argv):
        """The ssh command line that runs the builder's osimage command with ``argv``."""
        return self.ssh(*shlex.split(self.command), *argv)


def parse_spec(spec, ssh_options=()):
    """A Builder from ``[user@]HOST[:PORT]``; ValueError naming the problem."""
    user, hostport = spec.rsplit('@', 1) if '@' in spec else ('', spec)
    host, port = hostport, None
    if hostport.count(':') == 1:
        host, text = hostport.split(':')
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError('--builder %s: the port %r is not a number from 1 to 65535' % (spec, text))
        port = int(text)
    if not host or any(c.isspace() for c in spec):
        raise ValueError('--builder %s: give [USER@]HOST[:PORT]' % spec)
    return Builder(name=spec, host=host, user=user or None, port=port, ssh_options=tuple(ssh_options))


INVENTORY_VARS = {'osimage_builder_limit': 'limit', 'osimage_command': 'command', 'osimage_work_dir': 'work_dir',
                  'osimage_cache_dir': 'cache_dir', 'osimage_output_dir': 'output_root'}


def from_inventory(path, group=DEFAULT_GROUP, ssh_options=()):
    """The builders of an Ansible inventory's ``group`` with their variables; ValueError naming the problem."""
    from ansible.inventory.manager import InventoryManager  # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.vars.manager import VariableManager  # pylint: disable=import-outside-toplevel

    if not os.path.exists(path):
        raise ValueError('--builders %s: no such inventory' % path)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[path])
    variables = VariableManager(loader=loader, inventory=inventory)
    hosts = inventory.get_groups_dict().get(group)
    if not hosts:
        raise ValueError('--builders %s: the inventory has no host in group %s (set --builder-group, or put the '
                         'build hosts under %s:)' % (path, group, group))
    found = []
    for name in hosts:
        hostvars = variables.get_vars(host=inventory.get_host(name))
        settings = {attr: hostvars[var] for var, attr in INVENTORY_VARS.items() if var in hostvars}
        try:
            settings['limit'] = int(settings.get('limit', 1))
            if settings['limit'] < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError('--builders %s: host %s: osimage_builder_limit must be a whole number >= 1, not %r'
                             % (path, name, hostvars.get('osimage_builder_limit'))) from None
        options = list(ssh_options) + shlex.split(str(hostvars.get('ansible_ssh_common_args', '')))[1::2]
        if hostvars.get('ansible_ssh_private_key_file'):
            options.append('IdentityFile=%s' % hostvars['ansible_ssh_private_key_file'])
        port = hostvars.get('ansible_port')
        found.append(Builder(name=name, host=str(hostvars.get('ansible_host', name)), user=hostvars.get('ansible_user'),
                             port=int(port) if port else None, ssh_options=tuple(options), **settings))
    return found


def slots(builders):
    """Each builder once per build it may run at once, interleaved (a, b, a, b, a) so builds spread out."""
    order, rounds = [], max(b.limit for b in builders)
    for i in range(rounds):
        order += [b for b in builders if b.limit > i]
    return order


# The builder's side: run over SSH by the driver ----------------------------------------------------------------------

def probe(spec):
    """What the builder has for the build ``spec`` ({"request": ..., "build_id": ...}): the collection's playbook and
    inventory, the runner environment, and the problems (missing tools, privileges, space) that stop it."""
    found = collection.locate()
    req_mod = collection.module_utils('request')
    problems = []
    try:
        resolved = req_mod.resolve(spec['request'], build_id=spec['build_id'])
    except req_mod.RequestError as exc:
        return {'problems': ['%s: %s' % err for err in exc.errors]}
    privileges = collection.module_utils('host_privileges')
    missing = privileges.problems(resolved['boot_test']['enabled'], resolved['boot_test']['accel'])
    if missing:
        problems.append(privileges.message(missing))
    try:
        collection.module_utils('preflight').check(resolved)
    except req_mod.RequestError as exc:
        problems += ['%s: %s' % err for err in exc.errors]
    return {'problems': problems, 'collection': found.version, 'playbook': found.playbook('build.yml'),
            'inventory': found.inventory, 'envvars': playbook.runner_env()}


def read_job(stream):
    """The transmitted job (kwargs line, private data dir, eof line) read whole from ``stream``, so that what
    follows on it (nothing, until the driver closes it) can be watched."""
    job = io.BytesIO()
    while True:
        line = stream.readline()
        if not line:
            raise EOFError('the job stream ended before its eof line')
        job.write(line)
        data = json.loads(line)
        if 'zipfile' in data:
            job.write(stream.read(-(-data['zipfile'] // 3) * 4))  # the zip's size; it comes base64-encoded
        elif 'eof' in data:
            job.seek(0)
            return job


class Events(io.RawIOBase):
    """The worker's output: a write to a closed stream (the driver is gone) cancels the job instead of failing."""
    name = '<osimage builder-worker events>'  # ansible-runner's stream_dir reads it

    def __init__(self, target, cancel):
        super().__init__()
        self.target, self.cancel = target, cancel

    def writable(self):
        return True

    def write(self, b):
        try:
            self.target.write(b)
            return len(b)
        except (BrokenPipeError, ValueError, OSError):
            self.cancel.signal = self.cancel.signal or signal.SIGPIPE
            return len(b)

    def flush(self):
        try:
            self.target.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.cancel.signal = self.cancel.signal or signal.SIGPIPE


def serve(build_id, work_dir, stdin=None, stdout=None):
    """Run one transmitted job as ansible-runner's worker; the job is cancelled by SIGINT, SIGTERM or SIGHUP, or when
    the driver's stream closes, and what it took is released as after a local build. Returns the exit code."""
    stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
    job = read_job(stdin)
    playbook.become_subreaper()
    private = tempfile.mkdtemp(prefix=collection.module_utils('atomic').temp_dir_prefix('worker'))
    try:
        with playbook.Cancel() as cancel:
            previous = signal.signal(signal.SIGHUP, cancel.handle)

            def watch():
                # Ends when the driver closes the stream (cancel) or the connection drops. Unbuffered: a daemon
                # thread holding the buffered reader's lock would abort the interpreter's exit.
                while os.read(stdin.fileno(), 65536):
                    pass
                cancel.signal = cancel.signal or signal.SIGHUP

            threading.Thread(target=watch, daemon=True).start()
            try:
                status, _rc = Worker(_input=job, _output=Events(stdout, cancel), private_data_dir=private,
                                     cancel_callback=cancel).run()
            finally:
                signal.signal(signal.SIGHUP, previous)
        return 0 if status == 'successful' else EXIT_INTERRUPTED if cancel.signal else EXIT_BUILD_FAILED
    finally:
        playbook.stop_descendants()
        released = collection.module_utils('leftovers').release(build_id, work_dir)
        if released:
            print('builder released what the build left behind: ' + ', '.join(released), file=sys.stderr)
        shutil.rmtree(private, ignore_errors=True)


# The driver's side -------------------------------------------------------------------------------------------------

class RemoteBuild:
    """One request built on one builder: probe, stream the job, fetch (or leave) the artifacts."""

    def __init__(self, builder, request, build_id, output_dir, console, prefix='', keep=False, json_lines=False):
        """``request``: as loaded, secrets hashed (what a local build passes its playbook); ``output_dir``: here;
        ``json_lines``: print the stage events on stdout (--json with one request)."""
        self.builder, self.request, self.build_id = builder, request, build_id
        self.output_dir, self.console, self.keep = output_dir, console, keep
        self.remote_dir = posixpath.join(builder.output_root, build_id)
        self.progress = playbook.Progress(console, json_lines=json_lines, prefix=prefix)
        self.proc = None
        self.cancelled = None  # the signal that cancelled it
        self.explanation = None

    def remote_request(self):
        """The request as the builder builds it: its own output, work and cache directories."""
        return dict(self.request, output_dir=self.remote_dir, work_dir=self.builder.work_dir,
                    cache_dir=self.builder.cache_dir)

    def call(self, *argv, data=None, timeout=120):
        """Run the builder's osimage with ``argv``; BuilderError naming the builder when SSH or osimage fails."""
        proc = subprocess.run(self.builder.osimage(*argv), input=data, capture_output=True, timeout=timeout,
                              check=False)
        if proc.returncode == 255:
            raise BuilderError('builder %s is unreachable over SSH: %s'
                               % (self.builder.name, proc.stderr.decode(errors='replace').strip() or 'ssh failed'))
        if proc.returncode == 127:
            raise BuilderError('builder %s has no `%s` command: prepare it with `ansible-playbook -i INVENTORY '
                               'playbooks/builder_setup.yml` (the README\'s set-up there), or set osimage_command'
                               % (self.builder.name, self.builder.command), EXIT_BAD_INPUT)
        if proc.returncode:
            raise BuilderError('builder %s: `%s %s` failed: %s' % (
                self.builder.name, self.builder.command, ' '.join(argv),
                proc.stderr.decode(errors='replace').strip()[-2000:]), EXIT_BAD_INPUT)
        return proc.stdout

    def check(self):
        """The builder's collection, playbook and environment; BuilderError naming what it lacks."""
        spec = json.dumps({'request': self.remote_request(), 'build_id': self.build_id}).encode()
        try:
            found = json.loads(self.call('builder-probe', data=spec))
        except ValueError:
            raise BuilderError('builder %s: `%s builder-probe` did not answer JSON: is its osimage this version?'
                               % (self.builder.name, self.builder.command), EXIT_BAD_INPUT) from None
        if found['problems']:
            raise BuilderError('builder %s cannot build the request:\n  %s'
                               % (self.builder.name, '\n  '.join(found['problems'])), EXIT_BAD_INPUT)
        return found

    def job(self, found):
        """The job as ``ansible-runner transmit`` packs it: the builder's playbook, inventory and environment."""
        private = tempfile.mkdtemp(prefix=collection.module_utils('atomic').temp_dir_prefix('transmit'))
        try:
            out = tempfile.TemporaryFile()  # stream_dir wants a file with a name
            extravars = dict(self.remote_request(), osimage_build_id=self.build_id)
            ansible_runner.run(streamer='transmit', _output=out, private_data_dir=private, playbook=found['playbook'],
                               inventory=found['inventory'], extravars=extravars, envvars=found['envvars'],
                               settings=playbook.SETTINGS, quiet=True, suppress_env_files=True,
                               cancel_callback=self.is_cancelled)
            out.seek(0)
            return out.read()
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def is_cancelled(self):
        """Given to ansible-runner as its cancel callback, so that it does not take SIGINT and SIGTERM itself."""
        return bool(self.cancelled)

    def cancel(self, signum=signal.SIGTERM):
        """Cancel: close the stream to the builder, whose worker then stops the job and releases what it took."""
        self.cancelled = self.cancelled or signum
        proc = self.proc
        if proc and proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def stream(self, job):
        """Send ``job`` to the builder's worker and follow its events here (``ansible-runner process``)."""
        private = tempfile.mkdtemp(prefix=collection.module_utils('atomic').temp_dir_prefix('process'))
        errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.builder.osimage('builder-worker', '--build-id', self.build_id,
                                                              '--work-dir', self.builder.work_dir),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
            try:
                self.proc.stdin.write(job)
                self.proc.stdin.flush()  # kept open: closing it cancels the job
            except (BrokenPipeError, ValueError):
                pass
            if self.cancelled:
                self.cancel()

            def status(data, runner_config=None):  # pylint: disable=unused-argument
                self.explanation = data.get('job_explanation') or self.explanation
            processed = ansible_runner.run(streamer='process', _input=self.proc.stdout, private_data_dir=private,
                                           event_handler=self.progress, status_handler=status, quiet=True,
                                           cancel_callback=self.is_cancelled)
            try:
                self.proc.wait(timeout=CANCEL_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            errors.seek(0)
            said = errors.read().decode(errors='replace').strip()
            if self.proc.returncode == 255 and not self.cancelled:
                raise BuilderError('builder %s: the SSH connection was lost (%s)' % (
                    self.builder.name, said.splitlines()[-1] if said else 'no message'))
            if said and processed.status != 'successful':
                self.explanation = '%s (builder: %s)' % (self.explanation or 'the job failed', said[-1500:])
            log = os.path.join(private, 'artifacts', 'stdout')
            if os.path.isfile(log):
                shutil.copyfile(log, os.path.join(self.output_dir, 'build.log'))
            return processed.status == 'successful' and not self.cancelled
        finally:
            errors.close()
            shutil.rmtree(private, ignore_errors=True)

    def run(self):
        """Build; return the exit code (0, 1 failed, 2 the builder cannot, 130 cancelled). Sets progress.failure."""
        try:
            found = self.check()
            if self.cancelled:
                return self.interrupted()
            self.console.print('%sbuilding on [bold]%s[/] (%s, collection %s) into %s:%s'
                               % (self.progress.prefix, self.builder.name, self.builder.host, found['collection'],
                                  self.builder.host, self.remote_dir))
            ok = self.stream(self.job(found))
            if self.cancelled:
                return self.interrupted()
            if not ok:
                self.progress.failure = self.progress.failure or self.explanation or 'the job failed on the builder'
                return 3 if self.progress.stage == 'prove' else EXIT_BUILD_FAILED
            self.collect()
            return 0
        except BuilderError as exc:
            self.progress.failure = str(exc)
            return EXIT_INTERRUPTED if self.cancelled else exc.code
        except subprocess.TimeoutExpired:
            self.progress.failure = 'builder %s did not answer in time' % self.builder.name
            return EXIT_BUILD_FAILED
        finally:
            if not self.keep:
                self.remove_remote()

    def interrupted(self):
        self.progress.interrupted = self.cancelled
        self.progress.failure = 'interrupted by signal %d' % self.cancelled
        return EXIT_INTERRUPTED

    def remove_remote(self):
        if self.proc is None:
            return  # nothing was sent
        try:
            subprocess.run(self.builder.ssh('rm', '-rf', '--', self.remote_dir), capture_output=True, timeout=120,
                           check=False)
        except subprocess.TimeoutExpired:
            pass

    def fetch(self, remote, local, sha256=None):
        """Copy ``remote`` to ``local`` through a temporary name, verifying ``sha256``; renamed in place only whole."""
        tmp = os.path.join(os.path.dirname(local), '.%s.tmp-%s' % (os.path.basename(local), self.build_id))
        try:
            digest = hashlib.sha256()
            with open(tmp, 'wb') as f:
                with subprocess.Popen(self.builder.ssh('cat', '--', remote), stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL) as proc:
                    for chunk in iter(lambda: proc.stdout.read(1 << 20), b''):
                        if self.cancelled:
                            proc.kill()
                            raise BuilderError('interrupted while copying %s' % remote, EXIT_INTERRUPTED)
                        digest.update(chunk)
                        if chunk.count(0) == len(chunk):
                            f.seek(len(chunk), os.SEEK_CUR)  # a raw image's holes stay holes here
                        else:
                            f.write(chunk)
                f.truncate()
            if proc.returncode:
                raise BuilderError('builder %s: cannot copy %s back (ssh cat exited %d)'
                                   % (self.builder.name, remote, proc.returncode))
            if sha256 and digest.hexdigest() != sha256:
                raise BuilderError('builder %s: %s came back with sha256 %s, not the manifest\'s %s'
                                   % (self.builder.name, remote, digest.hexdigest(), sha256))
            os.replace(tmp, local)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def collect(self):
        """The builder's manifest here, naming the builder; with the images copied back and verified, or left there."""
        remote = posixpath.join(self.remote_dir, 'manifest.json')
        manifest = json.loads(subprocess.run(self.builder.ssh('cat', '--', remote), capture_output=True, check=True,
                                             timeout=120).stdout)
        images = {os.path.basename(i['dest']) for i in manifest.get('images', [])}
        manifest['builder'] = {'name': self.builder.name, 'host': self.builder.host, 'output_dir': self.remote_dir,
                               'kept': self.keep}
        if not self.keep:
            for image in manifest.get('images', []):
                local = os.path.join(self.output_dir, os.path.basename(image['dest']))
                self.fetch(image['dest'], local, image['sha256'])
                image['dest'] = local
            listing = subprocess.run(self.builder.ssh('ls', '-1', '--', self.remote_dir), capture_output=True,
                                     check=True, timeout=120).stdout.decode().split()
            for name in listing:  # sidecar checksums, the boot report, the console log
                if name not in images and name not in ('manifest.json', 'build.log') and not name.startswith('.'):
                    self.fetch(posixpath.join(self.remote_dir, name), os.path.join(self.output_dir, name))
        tmp = os.path.join(self.output_dir, '.manifest.json.tmp-' + self.build_id)
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(manifest, f, indent=2)
        os.replace(tmp, os.path.join(self.output_dir, 'manifest.json'))


# Several builds over a group of builders ----------------------------------------------------------------------------

@dataclass
class Outcome:
    """One build's line of the summary."""
    request: str
    builder: str = '-'
    code: int = EXIT_BUILD_FAILED
    seconds: float = 0.0
    output_dir: str = ''
    message: str = ''


def run_many(builds, builders, console, start):
    """Run ``builds`` [(request path, prepare)] over ``builders``, each builder at most its limit at once; a builder
    found unreachable takes no more builds. ``start(build, builder, prefix)`` returns a RemoteBuild.
    Returns the Outcomes in the order of ``builds``."""
    free = queue.Queue()
    for builder in slots(builders):
        free.put(builder)
    dead, active, lock = set(), set(), threading.Lock()
    outcomes = [Outcome(request=build[0]) for build in builds]
    stop = threading.Event()

    def one(index):
        outcome = outcomes[index]
        while True:
            if stop.is_set():
                outcome.code, outcome.message = EXIT_INTERRUPTED, 'interrupted before it started'
                return
            try:
                builder = free.get(timeout=1)
            except queue.Empty:
                with lock:
                    if len(dead) == len(builders):
                        outcome.message = 'no builder left (all unreachable)'
                        return
                continue
            if builder.name not in dead:
                break
        remote = start(builds[index], builder, '[%s@%s] ' % (os.path.basename(outcome.request), builder.name))
        outcome.builder, outcome.output_dir = builder.name, remote.output_dir
        with lock:
            active.add(remote)
        began = time.monotonic()
        try:
            outcome.code = remote.run()
            outcome.message = remote.progress.failure or ''
        finally:
            outcome.seconds = time.monotonic() - began
            with lock:
                active.discard(remote)
                if 'unreachable' in outcome.message or 'connection was lost' in outcome.message:
                    dead.add(builder.name)
            if builder.name not in dead:
                free.put(builder)

    def cancel_all():
        stop.set()
        with lock:
            for remote in active:
                remote.cancel()

    with playbook.Cancel(then=cancel_all) as cancel:
        with ThreadPoolExecutor(max_workers=max(1, len(slots(builders)))) as pool:
            for future in [pool.submit(one, i) for i in range(len(builds))]:
                while not future.done():  # the main thread stays free to take SIGINT/SIGTERM
                    time.sleep(0.2)
                future.result()
    if cancel.signal:
        for outcome in outcomes:
            if outcome.code == 0:
                continue
            outcome.code = EXIT_INTERRUPTED
    return outcomes


def summary_table(outcomes):
    """The summary of several builds: one row each, failures named with their builder."""
    from rich.table import Table  # pylint: disable=import-outside-toplevel
    results = {0: 'ok', EXIT_BUILD_FAILED: 'build-failed', EXIT_BAD_INPUT: 'refused', 3: 'boot-test-failed',
               EXIT_INTERRUPTED: 'interrupted'}
    table = Table(title='%d of %d builds succeeded' % (sum(1 for o in outcomes if o.code == 0), len(outcomes)))
    for col in ('request', 'builder', 'result', 'seconds', 'output / failure'):
        table.add_column(col, overflow='fold')
    for o in outcomes:
        table.add_row(o.request, o.builder, results.get(o.code, 'exit %d' % o.code), '%.0f' % o.seconds,
                      o.output_dir if o.code == 0 else o.message)
    return table
