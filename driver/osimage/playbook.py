"""Run a playbook of the collection through ansible-runner, turning its events into progress."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

import ansible_runner
import rich.filesize
import rich.markup
import rich.progress

from osimage import collection

STAGES_CALLBACK = 'osimage.builder.stages'
# A stage event as the callback displays it (in the play output, and in the events a remote builder streams).
STAGE_LINE = re.compile(r'^(?:\x1b\[[0-9;]*m)?STAGE \[(?P<stage>[^\]]+)\] '
                        r'(?:started|(?P<status>\w+) after (?P<seconds>[0-9.]+)s)')
PR_SET_CHILD_SUBREAPER = 36
PLAIN_PROGRESS_EVERY = 10.0  # seconds between two plain progress lines of a stage (not on a terminal)


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


def amount(record):
    """'120/253 packages installed', '1.2 GB/2.1 GB converted' (a progress record in words)."""
    def count(n):
        return rich.filesize.decimal(n) if record['unit'] == 'bytes' else str(n)
    unit = '' if record['unit'] == 'bytes' else ' ' + record['unit']
    done = count(record['done']) if record['total'] is None else '%s/%s' % (count(record['done']), count(record['total']))
    return '%s%s %s' % (done, unit, record['what'])


class Progress:
    """Shows the build's stages as the osimage.builder.stages callback reports them (its events file, read on every
    runner event and every second) with the progress the modules append to the same file (OSIMAGE_PROGRESS),
    and remembers the failure that ended the run."""

    def __init__(self, console, events_path=None, json_lines=False, prefix=''):
        """Without ``events_path`` (a build on another host), the events are read from the lines the callback
        displays, which reach here as runner events."""
        self.console = console
        self.events_path = events_path
        self.json_lines = json_lines  # also print each stage event as a JSON line on stdout
        self.prefix = rich.markup.escape(prefix)  # names the build when several print to one console (as markup)
        self.started = time.monotonic()
        self.stage = None
        self.events = []
        self.failure = None
        self.failed_results = []  # of every failed task, rescued ones too (preflight.out_of_space reads their output)
        self.interrupted = None  # the signal that cancelled the run
        self.refused = False  # a module refused its input (an image retrofit cannot open, a request it cannot take)
        self._offset = 0
        self._spinner = None
        self._task = None
        self._plain_at = None  # when the running stage's last plain progress line was printed

    def __call__(self, event):
        data = event.get('event_data', {})
        if event.get('event') == 'runner_on_failed' and not data.get('ignore_errors'):
            # A rescued failure is followed by the one that ends the run, so the last one is the summary.
            res = data.get('res', {})
            self.failure = '%s: %s' % (data.get('task', '?'), res.get('msg') or res.get('stderr') or 'failed')
            self.failed_results.append(res)
            self.refused = self.refused or bool(res.get('refused'))
        if event.get('event') == 'runner_on_ok':
            # A module's warning is news for the user (a full cache: the build goes on without it).
            for warning in data.get('res', {}).get('warnings', []):
                self.console.print('%s[yellow]warning:[/] %s' % (self.prefix, rich.markup.escape(warning)))
        if self.events_path:
            self.poll()
        elif event.get('event') == 'verbose':
            self.displayed(event.get('stdout', ''))
        return True

    def displayed(self, text):
        """Show the stage events among the lines the callback displayed (see STAGE_LINE)."""
        for line in text.splitlines():
            match = STAGE_LINE.match(line.strip())
            if not match:
                continue
            event = {'event': 'stage_end' if match['status'] else 'stage_start', 'stage': match['stage'],
                     'time': round(time.time(), 3)}
            if match['status']:
                event.update(status=match['status'], seconds=float(match['seconds']))
            self.show(event)

    def poll(self):
        """Show the stage events written since the last poll (only complete lines)."""
        if not self.events_path:
            return
        try:
            with open(self.events_path, 'rb') as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        lines = chunk[:chunk.rfind(b'\n') + 1]
        self._offset += len(lines)
        for line in lines.splitlines():
            self.show(json.loads(line))

    def show(self, event):
        if event['event'] == 'progress':
            self.show_progress(event)
            return
        self.events.append(event)
        self.print_json(event)
        at = '%s[bold cyan]%6.1fs[/]' % (self.prefix, self.elapsed())
        if event['event'] == 'stage_start':
            self.stage = event['stage']
            self._plain_at = None
            if self._spinner:
                self._task = self._spinner.add_task(self.prefix + self.stage, total=None, detail='')
            else:
                self.console.print('%s stage [bold]%s[/]' % (at, self.stage))
            return
        if self._spinner and self._task is not None:
            self._spinner.remove_task(self._task)
            self._task = None
        colour = 'green' if event['status'] == 'ok' else 'bold red'
        self.console.print('%s stage [bold]%s[/] [%s]%s[/] in %.1fs'
                           % (at, event['stage'], colour, event['status'], event['seconds']))

    def print_json(self, event):
        if self.json_lines:
            sys.stdout.write(json.dumps(event, sort_keys=True) + '\n')
            sys.stdout.flush()

    def show_progress(self, record):
        """Show how far the running stage is: a bar on a terminal, else a plain line now and then; with --json,
        every record as a JSON line, named by its stage."""
        if self.stage is None:
            return
        event = dict(record, stage=self.stage)
        self.print_json(event)
        if self._spinner:
            if self._task is not None:
                self._spinner.update(self._task, total=event['total'], completed=event['done'], detail=amount(event))
        elif event['done'] and (self._plain_at is None or time.monotonic() - self._plain_at >= PLAIN_PROGRESS_EVERY):
            self._plain_at = time.monotonic()
            self.console.print('%s[bold cyan]%6.1fs[/] %s: %s' % (self.prefix, self.elapsed(), self.stage, amount(event)))

    def __enter__(self):
        """On a terminal, a spinner with the running stage's elapsed time and, when its modules report it, a bar
        of how far it is."""
        if self.console.is_terminal:
            self._spinner = rich.progress.Progress(
                rich.progress.SpinnerColumn(), rich.progress.TextColumn('stage [bold]{task.description}[/]'),
                rich.progress.BarColumn(), rich.progress.TextColumn('{task.fields[detail]}'),
                rich.progress.TimeElapsedColumn(), console=self.console, transient=True)
            self._spinner.start()
        return self

    def __exit__(self, *exc):
        self.poll()
        if self._spinner:
            self._spinner.stop()
        return False

    def end_unfinished(self, status):
        """End a stage the playbook never ended (it was killed or cancelled), so every start has its end."""
        starts = [e for e in self.events if e['event'] == 'stage_start']
        if starts and self.events[-1]['event'] == 'stage_start':
            now = time.time()
            self.show({'event': 'stage_end', 'stage': self.stage, 'status': status, 'time': round(now, 3),
                       'seconds': round(now - starts[-1]['time'], 1)})

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


def callbacks_enabled(users):
    """The callbacks a build enables: the user's (a comma-separated list, as ANSIBLE_CALLBACKS_ENABLED takes them)
    and the stages callback."""
    callbacks = [c.strip() for c in users.split(',') if c.strip()]
    return ','.join(dict.fromkeys(callbacks + [STAGES_CALLBACK]))


def runner_env():
    """The environment a playbook of the collection runs with on this host: the collection found first, then
    the user's own collections paths (a request's tasks may use those), this Python's tools on PATH, and the
    stages callback beside the callbacks the user enabled."""
    found = collection.locate()
    env = {
        'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join(found.search_paths),
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_CALLBACKS_ENABLED': callbacks_enabled(os.environ.get('ANSIBLE_CALLBACKS_ENABLED', '')),
    }
    if found.config:
        env['ANSIBLE_CONFIG'] = found.config
    return env


def run(playbook, extravars, console, log_path=None, json_lines=False):
    """Run ``playbook`` with ``extravars``; return (ok, progress). The runner's files never outlive the run."""
    private = tempfile.mkdtemp(prefix=collection.module_utils('atomic').temp_dir_prefix('runner'))
    progress = Progress(console, os.path.join(private, 'stage-events.jsonl'), json_lines)
    become_subreaper()
    found = collection.locate()
    env = dict(runner_env(), OSIMAGE_STAGE_EVENTS=progress.events_path, OSIMAGE_PROGRESS=progress.events_path)
    try:
        with progress, Cancel() as cancel:
            def cancelled():  # asked by the runner about every second: new stage events are shown then too
                progress.poll()
                return cancel()
            result = ansible_runner.run(
                private_data_dir=private,
                playbook=found.playbook(playbook),
                inventory=found.inventory,
                extravars=extravars,
                envvars=env,
                event_handler=progress,
                cancel_callback=cancelled,
                settings=SETTINGS,
                quiet=True,
                suppress_env_files=True,
            )
        if cancel.signal:
            progress.interrupted = cancel.signal
            progress.failure = 'interrupted by signal %d' % cancel.signal
        progress.end_unfinished('interrupted' if cancel.signal else 'failed')
        if log_path:
            with open(log_path, 'w', encoding='utf-8') as log:
                shutil.copyfileobj(result.stdout, log)
        return result.status == 'successful' and result.rc == 0, progress
    finally:
        stop_descendants()
        shutil.rmtree(private, ignore_errors=True)
