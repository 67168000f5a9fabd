"""A build killed at any stage leaves nothing on the host and never damages the previous image.

SIGTERM goes to the driver, which cancels the playbook and releases its build's resources. SIGKILL takes the
driver and every process under it at once (nothing can clean up); `osimage clean` then releases the rest.
By default: a build SIGTERMed in customize, a retrofit of the session's image SIGTERMed in customize, and
`osimage boot-test` of the session's image SIGKILLed while its guest boots (the prove stage's play and module,
without a build before it). The full matrix (every build stage x both signals, a rebuild after each SIGKILL, a
retrofit SIGKILLed, cleaned and run again) runs with -m matrix.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import chroot
from osimage_testlib import BIN, ansible_local_dirs, kill_everything, left_on_host, run, sha256

pytestmark = pytest.mark.integration

STAGES = ('bootstrap', 'customize', 'assemble', 'bootloader', 'convert', 'prove')
# Seconds into the stage before the signal: long enough to be inside its work (mounts, a VM, a copy).
DELAY = {'bootstrap': 2, 'customize': 4, 'assemble': 1, 'bootloader': 0.1, 'convert': 1, 'prove': 10}
DEFAULT = {('customize', 'SIGTERM')}
CASES = [pytest.param(stage, sig, marks=() if (stage, sig) in DEFAULT else pytest.mark.matrix, id='%s-%s' % (stage, sig))
         for stage in STAGES for sig in ('SIGTERM', 'SIGKILL')]


def start_build(request, out, command=('build',)):
    return subprocess.Popen([os.path.join(BIN, 'osimage'), *command, str(request), '-o', str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_stage(proc, stage, seen):
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError('the build ended before stage %s:\n%s' % (stage, ''.join(seen)))
        seen.append(line)
        if ('stage %s' % stage) in line:
            return
    raise AssertionError('stage %s never came' % stage)


def interrupt(proc, stage, sig, work):
    """Signal ``proc`` (an osimage build or retrofit) ``DELAY[stage]`` seconds into ``stage``; after a SIGKILL,
    `osimage clean` releases what it left."""
    seen = []
    wait_for_stage(proc, stage, seen)
    time.sleep(DELAY[stage])
    if sig == 'SIGTERM':
        proc.send_signal(signal.SIGTERM)
        seen.append(proc.communicate(timeout=300)[0])
        assert proc.returncode != 0, ''.join(seen)
    else:
        killed = kill_everything(proc.pid)
        proc.communicate(timeout=60)
        clean = run([os.path.join(BIN, 'osimage'), 'clean', '--work-dir', str(work)], timeout=300)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert 'released' in clean.stdout
        assert ansible_local_dirs(killed) == []


@pytest.mark.parametrize('stage,sig', CASES)
def test_a_killed_build_leaves_nothing_behind(stage, sig, default_build, tmp_path):
    out, work = tmp_path / 'out', tmp_path / 'work'
    out.mkdir()
    previous = out / os.path.basename(default_build.image())
    shutil.copy(default_build.image(), previous)
    before = sha256(previous)
    request = tmp_path / 'request.yml'
    request.write_text(json.dumps({'work_dir': str(work)}))

    interrupt(start_build(request, out), stage, sig, work)
    assert left_on_host(tmp_path, work) == []
    # The image path holds a complete good image: the previous one, or a new one that replaced it whole
    # (renamed into place after conversion and checksumming) before the signal landed.
    now = sha256(previous)
    sidecar = out / (previous.name + '.sha256')
    assert now == before or (sidecar.exists() and now == sidecar.read_text().split()[0])
    if STAGES.index(stage) < STAGES.index('convert'):
        assert now == before
    assert not [n for n in os.listdir(out) if '.tmp-' in n]
    leftovers = [e for e in os.listdir(work) if e != 'owners'] if work.exists() else []
    assert leftovers == [] and (not (work / 'owners').exists() or os.listdir(work / 'owners') == [])
    if sig == 'SIGKILL':
        rerun = run([os.path.join(BIN, 'osimage'), 'build', str(request), '-o', str(out), '--no-boot-test'],
                    timeout=900)
        assert rerun.returncode == 0, rerun.stdout[-3000:]


def boot_tests_of(pid):
    """The ids (boot-<8 hex>) of the boot tests that ``pid`` or a process under it owns."""
    ours, owners = {pid} | set(chroot.descendants(pid)), '/var/tmp/osimage/owners'
    found = []
    for name in os.listdir(owners) if os.path.isdir(owners) else []:
        try:
            with open(os.path.join(owners, name), encoding='utf-8') as f:
                if name.startswith('boot-') and json.load(f)['pid'] in ours:
                    found.append(name)
        except (OSError, ValueError, KeyError):
            pass
    return found


def test_a_killed_boot_test_leaves_nothing_behind(default_build, tmp_path):
    """SIGKILL `osimage boot-test` while its guest boots: `osimage clean` stops the guest and removes its run
    directory and owner record; the image is untouched."""
    image = default_build.image()
    before = sha256(image)
    proc = subprocess.Popen([os.path.join(BIN, 'osimage'), 'boot-test', image, '--no-verify', '--timeout', '900',
                             '-o', str(tmp_path / 'killed')], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    wait_for_stage(proc, 'prove', seen)
    deadline, domain = time.monotonic() + 120, None
    while domain is None and time.monotonic() < deadline:
        time.sleep(1)
        running = run(['virsh', '-c', 'qemu:///system', 'list', '--name']).stdout.split()
        domain = next(('osimage-' + b for b in boot_tests_of(proc.pid) if 'osimage-' + b in running), None)
    assert domain, 'the guest never started:\n' + ''.join(seen)
    boot_id = domain[len('osimage-'):]
    kill_everything(proc.pid)
    proc.communicate(timeout=60)
    clean = run([os.path.join(BIN, 'osimage'), 'clean'], timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r'build %s: released domain %s' % (boot_id, domain), clean.stdout), clean.stdout
    assert domain not in run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']).stdout.split()
    assert not os.path.exists('/var/tmp/osimage/boot-' + domain)
    assert not os.path.exists('/var/tmp/osimage/owners/' + boot_id)
    assert sha256(image) == before


@pytest.mark.parametrize('sig', ['SIGTERM', pytest.param('SIGKILL', marks=pytest.mark.matrix)])
def test_a_killed_retrofit_leaves_nothing_behind_and_its_input_unchanged(sig, default_build, tmp_path):
    """A retrofit of the session's image signalled in customize (its copy open, the tree mounted, a package being
    installed): no loop device, mount, process in the tree or guest, no image or manifest in the output directory,
    the input's checksum unchanged. After a SIGKILL and `osimage clean`, the same retrofit runs to the end."""
    image, out, work = default_build.image(), tmp_path / 'out', tmp_path / 'work'
    before = sha256(image)
    request = tmp_path / 'request.yml'
    request.write_text(json.dumps({'work_dir': str(work), 'packages': {'install': ['tree']},
                                   'files': [{'path': '/etc/motd', 'content': 'retrofitted\n'}]}))
    interrupt(start_build(request, out, ('retrofit', image)), 'customize', sig, work)
    assert left_on_host(tmp_path, work) == []
    assert sha256(image) == before
    # The driver writes build.log when the playbook ends: a SIGTERMed driver still does, a SIGKILLed one cannot.
    assert sorted(os.listdir(out)) == (['build.log'] if sig == 'SIGTERM' else [])
    leftovers = [e for e in os.listdir(work) if e != 'owners'] if work.exists() else []
    assert leftovers == [] and (not (work / 'owners').exists() or os.listdir(work / 'owners') == [])
    if sig == 'SIGKILL':
        rerun = run([os.path.join(BIN, 'osimage'), 'retrofit', image, str(request), '-o', str(out), '--no-boot-test'],
                    timeout=900)
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        assert sha256(image) == before and left_on_host(tmp_path, work) == []
