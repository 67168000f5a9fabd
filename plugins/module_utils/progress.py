# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress inside a long module step, for whoever watches the build: a module cannot talk to the controller
while it runs, so it appends progress records as JSON lines to the file named by OSIMAGE_PROGRESS (the driver
sets it to the stage events file it reads). Unset, nothing is written."""

from __future__ import annotations

import json
import os
import re
import threading
import time

ENV = 'OSIMAGE_PROGRESS'
INTERVAL = 0.5  # seconds between two records of one step: at most two a second

# apt's "Get:" line of a package (index files have fewer fields before the size): URI SUITE/COMPONENT ARCH
# PACKAGE ARCH VERSION [SIZE].
APT_GET = re.compile(r'^Get:\d+ (?:\S+ ){6}\[')
APT_ANNOUNCE = re.compile(r'^\d+ upgraded, (\d+) newly installed')
DPKG_SETUP = re.compile(r'^Setting up \S')
QEMU_IMG_PERCENT = re.compile(r'^\s*\((\d+(?:\.\d+)?)/100%\)')


class Throttle:
    """True at most once per ``interval`` seconds (always the first time, and when forced)."""

    def __init__(self, interval=INTERVAL, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last = None

    def __call__(self, force=False):
        now = self.clock()
        if not force and self.last is not None and now - self.last < self.interval:
            return False
        self.last = now
        return True


class Reporter:
    """Appends ``{"event": "progress", "what", "done", "total", "unit", "time"}`` records of one step (done never
    above total; total null while unknown) to the progress file, throttled, and only when they changed."""

    def __init__(self, what, unit, path=None, throttle=None):
        self.what = what
        self.unit = unit
        self.path = os.environ.get(ENV) if path is None else path
        self.throttle = throttle or Throttle()
        self.done = 0
        self.total = None
        self._written = None  # (done, total) of the last record: the same again is not written

    def update(self, done=None, total=None, force=False):
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        total = None if self.total is None else max(self.total, self.done)
        if not self.path or (self.done, total) == self._written or not self.throttle(force):
            return
        self._written = (self.done, total)
        record = {'event': 'progress', 'what': self.what, 'done': self.done, 'total': total, 'unit': self.unit,
                  'time': round(time.time(), 3)}
        try:
            with open(self.path, 'a', encoding='utf-8') as f:
                f.write(json.dumps(record, sort_keys=True) + '\n')
        except OSError:
            self.path = None  # progress is a courtesy: never fail the step for it


def enabled():
    return bool(os.environ.get(ENV))


class AptLines:
    """Counts, in the output of mmdebstrap --verbose (apt and dpkg), the packages fetched ("Get:N" of a package)
    and set up ("Setting up"), against the number apt announces ("N newly installed", summed over apt's runs)."""

    def __init__(self, fetched, installed):
        self.fetched = fetched
        self.installed = installed
        self.total = 0

    def __call__(self, line):
        announced = APT_ANNOUNCE.match(line)
        if announced:
            self.total += int(announced.group(1))
            self.fetched.update(total=self.total)
            self.installed.update(total=self.total)
        elif APT_GET.match(line):
            self.fetched.update(self.fetched.done + 1)
        elif DPKG_SETUP.match(line):
            self.installed.update(self.installed.done + 1)

    def finish(self):
        for reporter in (self.fetched, self.installed):
            if reporter.done:
                reporter.update(force=True)


class QemuImgLines:
    """Turns the percentages ``qemu-img convert -p`` prints into bytes of the source converted."""

    def __init__(self, reporter, size):
        self.reporter = reporter
        self.size = size
        reporter.total = size

    def __call__(self, line):
        match = QEMU_IMG_PERCENT.match(line)
        if match:
            percent = float(match.group(1))
            self.reporter.update(int(self.size * percent / 100), force=percent >= 100)


class Sampler:
    """While the ``with`` block runs, reports ``measure()`` (bytes written so far, for a tool that prints nothing)
    every ``interval`` seconds, and once more at the end."""

    def __init__(self, reporter, measure, interval=INTERVAL):
        self.reporter = reporter
        self.measure = measure
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self, force=False):
        try:
            self.reporter.update(self.measure(), force=force)
        except OSError:
            pass  # the file is not there (yet, or any more)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        if self.reporter.path:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            if exc[0] is None:
                self.sample(force=True)
        return False


def allocated(path):
    """Bytes of disk ``path`` uses (a sparse file's data, not its holes)."""
    return os.stat(path).st_blocks * 512


def tree_bytes(root):
    """Bytes of disk the files under ``root`` use (what copying the tree writes, about)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                pass
    return total
