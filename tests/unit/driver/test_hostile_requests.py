"""`osimage validate` on hostile request files: refused with exit 2 naming the file, line and key, in the time
and memory of the driver's own start (an alias bomb once grew it to 24 GB before the OOM killer came)."""

import os
import resource
import subprocess
import sys
import time

import pytest

OSIMAGE = os.path.join(os.path.dirname(sys.executable), 'osimage')
BOMB = ''.join(['a: &a [x,x,x,x,x,x,x,x,x]\n']
               + ['%s: &%s [%s]\n' % (n, n, ','.join(['*' + p] * 9)) for p, n in zip('abcdefgh', 'bcdefghi')]
               + ['packages: {install: *i}\n'])


def limit_memory():
    """At most 1 GiB of address space: a driver that expands the bomb fails instead of taking the host down."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def validate(path, log):
    """exit code, stderr, seconds and peak resident KiB (of that process alone) of `osimage validate path`."""
    started = time.monotonic()
    with open(log, 'w', encoding='utf-8') as err:
        proc = subprocess.Popen([OSIMAGE, 'validate', str(path)], stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=limit_memory)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > 30:
            proc.kill()
            proc.wait()
            raise AssertionError('osimage validate %s still runs after 30 s' % path)
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(log, encoding='utf-8') as err:
        return proc.returncode, err.read(), time.monotonic() - started, usage.ru_maxrss


HOSTILE = [
    ('bomb.yml', BOMB, ['f[0]', 'line 6', 'more than 100000 values']),
    ('deep.yml', 'packages: {install: ' + '[' * 100000 + ']' * 100000 + '}\n', ['packages.install[0]', 'line 1', '8 deep']),
    ('twice.yml', 'distro: debian\nhostname: web\ndistro: ubuntu\n', ['distro', 'line 3', 'given twice']),
    ('big.yml', '# padding\n' * 120000, ['over the 1 MiB limit']),
]


# Named by file: a test id holding the text would reach the environment (PYTEST_CURRENT_TEST) over its limit.
@pytest.mark.parametrize('name,text,words', HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_request_is_refused_fast_naming_file_line_and_key(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    code, err, seconds, peak_kib = validate(path, tmp_path / 'stderr')
    assert code == 2, err
    assert str(path) in err and all(w in err for w in words), err
    assert 'Traceback' not in err
    # 2 s on an idle machine (measured: 0.4-0.9 s); the margin is for a CI host busy with builds
    assert seconds < 6, seconds
    assert peak_kib < 150 * 1024, peak_kib
