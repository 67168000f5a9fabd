"""The driver's side of the SSH channel to a builder: one-off commands of the builder's osimage, and a build job
packed by ``ansible-runner transmit``, piped through ``ssh HOST osimage builder-worker`` and followed here by
``ansible-runner process``, whose events drive the same progress display as a local build."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import ansible_runner

from osimage import collection, playbook
from osimage.build_hosts import BuilderError
from osimage.exit_codes import EXIT_BAD_INPUT

CANCEL_GRACE = 300  # seconds the builder has to release what a cancelled job took before the stream is cut


def call(builder, *argv, data=None, timeout=120):
    """Run the builder's osimage with ``argv``; its stdout, or BuilderError naming the builder when SSH or osimage
    fails."""
    proc = subprocess.run(builder.osimage(*argv), input=data, capture_output=True, timeout=timeout, check=False)
    if proc.returncode == 255:
        raise BuilderError('builder %s is unreachable over SSH: %s'
                           % (builder.name, proc.stderr.decode(errors='replace').strip() or 'ssh failed'))
    if proc.returncode == 127:
        raise BuilderError('builder %s has no `%s` command: prepare it with `ansible-playbook -i INVENTORY '
                           'playbooks/builder_setup.yml` (the README\'s set-up there), or set osimage_command'
                           % (builder.name, builder.command), EXIT_BAD_INPUT)
    if proc.returncode:
        raise BuilderError('builder %s: `%s %s` failed: %s' % (
            builder.name, builder.command, ' '.join(argv), proc.stderr.decode(errors='replace').strip()[-2000:]),
            EXIT_BAD_INPUT)
    return proc.stdout


def _private_dir(kind):
    return tempfile.mkdtemp(prefix=collection.module_utils('atomic').temp_dir_prefix(kind))


class JobStream:
    """One build job on one builder. Closing the stream to the builder (``close``) cancels the job there, and the
    builder's worker releases what it took."""

    def __init__(self, builder, build_id, progress, is_cancelled):
        """``progress``: the event handler; ``is_cancelled``: true once the build is cancelled."""
        self.builder, self.build_id, self.progress, self.is_cancelled = builder, build_id, progress, is_cancelled
        self.proc = None
        self.explanation = None  # why the job failed, as the runner's status says

    def pack(self, found, extravars):
        """The job as ``ansible-runner transmit`` packs it: the builder's playbook, inventory and environment
        (``found``, as the builder's probe said) with ``extravars``."""
        private = _private_dir('transmit')
        try:
            out = tempfile.TemporaryFile()  # stream_dir wants a file with a name
            ansible_runner.run(streamer='transmit', _output=out, private_data_dir=private, playbook=found['playbook'],
                               inventory=found['inventory'], extravars=extravars, envvars=found['envvars'],
                               settings=playbook.SETTINGS, quiet=True, suppress_env_files=True,
                               cancel_callback=self.is_cancelled)
            out.seek(0)
            return out.read()
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def close(self):
        """Close the stream to the builder's worker, which then stops the job."""
        proc = self.proc
        if proc and proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def follow(self, job, log):
        """Send ``job`` to the builder's worker and follow its events here; the job's output goes to ``log``.
        True when it succeeded and was not cancelled."""
        private = _private_dir('process')
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
            if self.is_cancelled():
                self.close()

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
            if self.proc.returncode == 255 and not self.is_cancelled():
                raise BuilderError('builder %s: the SSH connection was lost (%s)' % (
                    self.builder.name, said.splitlines()[-1] if said else 'no message'))
            if said and processed.status != 'successful':
                self.explanation = '%s (builder: %s)' % (self.explanation or 'the job failed', said[-1500:])
            stdout = os.path.join(private, 'artifacts', 'stdout')
            if os.path.isfile(stdout):
                shutil.copyfile(stdout, log)
            return processed.status == 'successful' and not self.is_cancelled()
        finally:
            errors.close()
            shutil.rmtree(private, ignore_errors=True)
