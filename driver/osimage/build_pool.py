"""Several builds over a group of build hosts: each host runs at most its limit of builds at once, and a host
found unreachable takes no more builds (the others go on)."""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from osimage import playbook
from osimage.exit_codes import EXIT_BUILD_FAILED, EXIT_INTERRUPTED


@dataclass
class Outcome:
    """One build's line of the summary."""
    request: str
    builder: str = '-'
    code: int = EXIT_BUILD_FAILED
    seconds: float = 0.0
    output_dir: str = ''
    message: str = ''


def slots(builders):
    """Each builder once per build it may run at once, interleaved (a, b, a, b, a) so builds spread out."""
    order, rounds = [], max(b.limit for b in builders)
    for i in range(rounds):
        order += [b for b in builders if b.limit > i]
    return order


def run_many(builds, builders, start):
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
