"""osimage boot: an image on a throwaway overlay with its serial console (a terminal, driven by pexpect) or a
command over SSH; the domain, its run directory and owner record are gone when it ends, by Ctrl-] or SIGTERM."""

import os
import re
import signal
import subprocess

import pexpect
import pytest

from osimage_testlib import BIN, run

pytestmark = pytest.mark.integration
OWNERS = '/var/tmp/osimage/owners'


def released(name):
    domains = run(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']).stdout.split()
    return (name not in domains and not os.path.exists('/var/tmp/osimage/boot-' + name)
            and not os.path.exists(os.path.join(OWNERS, name[len('osimage-'):])))


def console(image):
    child = pexpect.spawn(os.path.join(BIN, 'osimage'), ['boot', image, '--accel', 'tcg'], encoding='utf-8',
                          timeout=120)
    child.expect(r'domain (osimage-boot-[0-9a-f]+) ')
    name = child.match.group(1)
    assert os.path.exists(os.path.join(OWNERS, name[len('osimage-'):]))  # so osimage clean frees it after a kill
    child.expect("Connected to domain '%s'" % name)
    return child, name


@pytest.fixture(name='blank')
def blank_disk(tmp_path):
    image = tmp_path / 'blank.raw'
    with open(image, 'wb') as f:
        f.truncate(16 * 1024 * 1024)
    return str(image)


def test_the_serial_console_is_attached_and_ctrl_bracket_releases_the_domain(blank):
    child, name = console(blank)
    child.expect('No bootable device')  # SeaBIOS on the serial console
    child.send('\x1d')
    child.expect('released %s' % name)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert released(name)
    assert os.path.getsize(blank) == 16 * 1024 * 1024 and not open(blank, 'rb').read(512).strip(b'\0')


def test_sigterm_releases_the_domain_and_exits_interrupted(blank):
    child, name = console(blank)
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and released(name)


def test_a_command_over_ssh_with_the_throwaway_key(default_build):
    image = default_build.image()
    before = os.stat(image)
    proc = run([os.path.join(BIN, 'osimage'), 'boot', image, '--ssh', '-c',
                'cat /etc/hostname; touch /written; exit 7'], timeout=900, stdin=subprocess.DEVNULL)
    assert proc.returncode == 7, proc.stdout + proc.stderr  # the command's own exit code
    assert proc.stdout.split() == ['localhost']
    after = os.stat(image)  # the guest wrote to its overlay only
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert released(re.search(r'domain (osimage-boot-[0-9a-f]+) ', proc.stderr).group(1))


def test_a_missing_image_and_a_command_without_ssh_are_bad_input(blank, tmp_path):
    missing = run([os.path.join(BIN, 'osimage'), 'boot', str(tmp_path / 'nope.qcow2')])
    assert missing.returncode == 2 and 'does not exist' in missing.stderr
    no_ssh = run([os.path.join(BIN, 'osimage'), 'boot', blank, '-c', 'true'])
    assert no_ssh.returncode == 2 and '--ssh' in no_ssh.stderr
