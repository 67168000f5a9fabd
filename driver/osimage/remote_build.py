"""One request built on one build host over SSH, through ansible-runner's streaming (what AWX's execution nodes run).

The request was validated here; the builder is probed (``osimage builder-probe``: the collection, the host's
privileges and tools), the job streams to its worker (job_stream), and the artifacts come back verified
(copy_back) or stay there."""

from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess

from osimage import playbook
from osimage.build_hosts import BuilderError
from osimage.copy_back import CopyBack, missing_tools
from osimage.exit_codes import EXIT_BAD_INPUT, EXIT_BUILD_FAILED, EXIT_INTERRUPTED, outcome
from osimage.job_stream import JobStream, call


class RemoteBuild:
    """One request built on one builder: probe, stream the job, fetch (or leave) the artifacts."""

    def __init__(self, builder, request, build_id, output_dir, console, prefix='', keep=False, json_lines=False):
        """``request``: as loaded, secrets hashed (what a local build passes its playbook); ``output_dir``: here;
        ``json_lines``: print the stage events on stdout (--json with one request)."""
        self.builder, self.request, self.build_id = builder, request, build_id
        self.output_dir, self.console, self.keep = output_dir, console, keep
        self.remote_dir = posixpath.join(builder.output_root, build_id)
        self.progress = playbook.Progress(console, json_lines=json_lines, prefix=prefix)
        self.stream = JobStream(builder, build_id, self.progress, self.is_cancelled)
        self.copy_back = CopyBack(builder, self.remote_dir, output_dir, build_id, self.is_cancelled)
        self.cancelled = None  # the signal that cancelled it

    def remote_request(self):
        """The request as the builder builds it: its own output, work and cache directories."""
        return dict(self.request, output_dir=self.remote_dir, work_dir=self.builder.work_dir,
                    cache_dir=self.builder.cache_dir)

    def check(self):
        """The builder's collection, playbook and environment; BuilderError naming what it (or this host) lacks."""
        missing = [] if self.keep else missing_tools()
        if missing:
            raise BuilderError('%s is not installed here: the images come back compressed with it (install it, or '
                               'keep them on the builder)' % ', '.join(missing), EXIT_BAD_INPUT)
        spec = json.dumps({'request': self.remote_request(), 'build_id': self.build_id}).encode()
        try:
            found = json.loads(call(self.builder, 'builder-probe', data=spec))
        except ValueError:
            raise BuilderError('builder %s: `%s builder-probe` did not answer JSON: is its osimage this version?'
                               % (self.builder.name, self.builder.command), EXIT_BAD_INPUT) from None
        if found['problems']:
            raise BuilderError('builder %s cannot build the request:\n  %s'
                               % (self.builder.name, '\n  '.join(found['problems'])), EXIT_BAD_INPUT)
        return found

    def is_cancelled(self):
        """Given to ansible-runner as its cancel callback, so that it does not take SIGINT and SIGTERM itself."""
        return bool(self.cancelled)

    def cancel(self, signum=signal.SIGTERM):
        """Cancel: close the stream to the builder, whose worker then stops the job and releases what it took."""
        self.cancelled = self.cancelled or signum
        self.stream.close()

    def run(self):
        """Build; return the exit code (0, 1 failed, 2 the builder cannot, 130 cancelled). Sets progress.failure."""
        try:
            found = self.check()
            if self.cancelled:
                return self.interrupted()
            self.console.print('%sbuilding on [bold]%s[/] (%s, collection %s) into %s:%s'
                               % (self.progress.prefix, self.builder.name, self.builder.host, found['collection'],
                                  self.builder.host, self.remote_dir))
            job = self.stream.pack(found, dict(self.remote_request(), osimage_build_id=self.build_id))
            ok = self.stream.follow(job, os.path.join(self.output_dir, 'build.log'))
            if self.cancelled:
                return self.interrupted()
            if not ok:
                self.progress.failure = (self.progress.failure or self.stream.explanation
                                         or 'the job failed on the builder')
                return outcome(ok, self.progress)
            self.copy_back.collect(self.keep)
            return 0
        except BuilderError as exc:
            self.progress.failure = str(exc)
            return EXIT_INTERRUPTED if self.cancelled else exc.code
        except subprocess.TimeoutExpired:
            self.progress.failure = 'builder %s did not answer in time' % self.builder.name
            return EXIT_BUILD_FAILED
        finally:
            if not self.keep and self.stream.proc is not None:  # something was sent
                self.copy_back.remove()

    def interrupted(self):
        self.progress.interrupted = self.cancelled
        self.progress.failure = 'interrupted by signal %d' % self.cancelled
        return EXIT_INTERRUPTED
