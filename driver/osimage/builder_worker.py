"""The builder's side of a remote build, run over SSH by the driver: ``osimage builder-probe`` says what the builder
has for a build, ``osimage builder-worker`` runs the transmitted job as ansible-runner's worker (what AWX's execution
nodes run) plus the cleanup a local build does."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading

from ansible_runner.streaming import Worker

from osimage import collection, copy_back, playbook
from osimage.exit_codes import EXIT_BUILD_FAILED, EXIT_INTERRUPTED


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
    problems += ['%s is not installed: the images come back compressed with it' % t for t in copy_back.missing_tools()]
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
