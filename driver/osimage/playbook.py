"""Run a playbook of the collection through ansible-runner, turning its events into progress."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import sys
import tempfile
import time

import ansible_runner

from osimage import collection

STAGE_RE = re.compile(r'^Stage (\w+)$')
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Make processes orphaned under this one (a cancelled playbook's workers) re-parent to it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def stop_descendants(grace=5.0):
    """SIGTERM, then SIGKILL, whatever still runs under this process, and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in collection.module_utils('chroot').descendants(os.getpid()):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            if not collection.module_utils('chroot').descendants(os.getpid()):
                return
            time.sleep(0.1)


class Progress:
    """Follows runner events: announces each build stage and remembers the failure that ended the run."""

    def __init__(self, console, prefix=''):
        self.console = console
        self.prefix = prefix  # names the build when several print to one console
        self.started = time.monotonic()
        self.stage = None
        self.failure = None
        self.interrupted = None  # the signal that cancelled the run

    def __call__(self, event):
        data = event.get('event_data', {})
        kind = event.get('event')
        if kind == 'playbook_on_task_start':
            name = data.get('task', '')
            match = STAGE_RE.match(name)
            if match:
                self.stage = match.group(1)
                self.console.print('%s[bold cyan]%6.1fs[/] stage [bold]%s[/]' % (self.prefix, self.elapsed(), self.stage))
            elif name == 'Boot the image and wait for its login prompt':
                self.stage = 'prove'
                self.console.print('%s[bold cyan]%6.1fs[/] stage [bold]prove[/] (boot test)' % (self.prefix, self.elapsed()))
        elif kind == 'runner_on_failed' and not data.get('ignore_errors'):
            # A rescued failure is followed by the one that ends the run, so the last one is the summary.
            res = data.get('res', {})
            self.failure = '%s: %s' % (data.get('task', '?'), res.get('msg') or res.get('stderr') or 'failed')
        return True

    def elapsed(self):
        return time.monotonic() - self.started


class Cancel:
    """SIGINT and SIGTERM cancel the run (ansible-runner stops the playbook) instead of killing the driver."""

    def __init__(self, then=None):
        self.signal = None
        self.previous = {}
        self.then = then  # called on the signal too (a remote build closes its stream to cancel the builder's job)

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, _frame):
        self.signal = signum
        if self.then:
            self.then()

    def __call__(self):
        return self.signal is not None

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


# How often a cancel is noticed (ansible-runner's default is 5 s).
SETTINGS = {'pexpect_timeout': 1}


def runner_env():
    """The environment a playbook of the collection runs with on this host: the collection found first, then
    the user's own collections paths (a request's tasks may use those), and this Python's tools on PATH."""
    found = collection.locate()
    env = {
        'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join(found.search_paths),
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_NOCOLOR': '1',
    }
    if found.config:
        env['ANSIBLE_CONFIG'] = found.config
    return env


def run(playbook, extravars, console, log_path=None):
    """Run ``playbook`` with ``extravars``; return (ok, progress). The runner's files never outlive the run."""
    private = tempfile.mkdtemp(prefix='osimage-runner-')
    progress = Progress(console)
    become_subreaper()
    found = collection.locate()
    env = runner_env()
    try:
        with Cancel() as cancel:
            result = ansible_runner.run(
                private_data_dir=private,
                playbook=found.playbook(playbook),
                inventory=found.inventory,
                extravars=extravars,
                envvars=env,
                event_handler=progress,
                cancel_callback=cancel,
                settings=SETTINGS,
                quiet=True,
                suppress_env_files=True,
            )
        if cancel.signal:
            progress.interrupted = cancel.signal
            progress.failure = 'interrupted by signal %d' % cancel.signal
        if log_path:
            with open(log_path, 'w', encoding='utf-8') as log:
                shutil.copyfileobj(result.stdout, log)
        return result.status == 'successful' and result.rc == 0, progress
    finally:
        stop_descendants()
        shutil.rmtree(private, ignore_errors=True)
