"""The cache lock holds the file at its path: a lock file removed or replaced while a build waited for it (osimage
clean removes a killed build's lock files) is taken again, so two builds never both think they hold the entry."""

import fcntl
import os
import threading
import time

from ansible_collections.osimage.builder.plugins.module_utils.cachelock import CacheLock, try_lock


def test_a_lock_file_removed_while_waiting_is_taken_again(tmp_path):
    path = str(tmp_path / 'entry.lock')
    held = {}
    first = CacheLock(path).__enter__()

    def wait():
        with CacheLock(path) as lock:
            held['inode'] = os.fstat(lock.fd).st_ino
            held['at_path'] = os.stat(path).st_ino

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)  # the waiter has opened the old file and blocks in flock
    os.unlink(path)
    first.__exit__(None, None, None)
    waiter.join(10)
    assert not waiter.is_alive()
    assert held['inode'] == held['at_path']
    assert os.path.exists(path)


def test_a_lock_file_replaced_while_waiting_is_taken_again(tmp_path):
    path = str(tmp_path / 'entry.lock')
    with CacheLock(path) as first:
        replacement = str(tmp_path / 'other')
        with open(replacement, 'w', encoding='utf-8'):
            pass
        result = {}

        def wait():
            with CacheLock(path) as lock:
                result['locked'] = os.fstat(lock.fd).st_ino

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.3)
        os.replace(replacement, path)  # the new file is free: the waiter, back from its old one, takes it
        assert first.fd is not None
    waiter.join(10)
    assert not waiter.is_alive() and result['locked'] == os.stat(path).st_ino


def test_try_lock_takes_only_a_free_lock(tmp_path):
    path = str(tmp_path / 'entry.lock')
    assert try_lock(path) is None  # no lock file: nothing to take
    with CacheLock(path):
        assert try_lock(path) is None
    fd = try_lock(path)
    assert fd is not None
    try:
        other = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError('try_lock did not hold the lock')
            except BlockingIOError:
                pass
        finally:
            os.close(other)
    finally:
        os.close(fd)


def test_no_path_locks_nothing():
    with CacheLock(None) as lock:
        assert lock.fd is None
