"""osimage boot: an image running in a throwaway libvirt domain, with its serial console or an SSH shell attached.

The same machinery as the boot test (module_utils/libvirt_boot): a qcow2 overlay in a run directory, so the
image is never written; with SSH, root's throwaway key passed as a systemd credential. The domain, its run
directory and its owner record are released when the console or the shell ends, on SIGTERM or SIGHUP, and,
after a SIGKILL, by ``osimage clean``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

from osimage import collection

WORK_DIR = '/var/tmp/osimage'
ESCAPE = 'Ctrl-]'


def _leave(_signum, _frame):
    raise SystemExit(130)  # cli.EXIT_INTERRUPTED: the finally clause releases the domain


def ssh_argv(facts, command):
    """ssh to the guest's root over the forwarded port with the boot's throwaway key (the host key is new)."""
    return ['ssh', '-i', facts['ssh_private_key'], '-p', str(facts['ssh_port']), '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes',
            '%s@127.0.0.1' % facts['ssh_user'], *command]


def say(text):
    """Messages go to stderr: stdout is the console's or the remote command's."""
    print(text, file=sys.stderr, flush=True)


def run(image, arch, firmware, accel, ssh, command, timeout):
    """Boot ``image`` and attach its serial console, or with ``ssh`` a root shell (or ``command``) over SSH;
    return the exit code of what was attached. libvirt_boot.BootError or TimeoutError when it cannot be attached,
    after the domain is released."""
    libvirt_boot = collection.module_utils('libvirt_boot')
    leftovers = collection.module_utils('leftovers')
    build_id = 'boot-%s' % uuid.uuid4().hex[:8]
    name = 'osimage-' + build_id
    run_dir = os.path.join(WORK_DIR, 'boot-' + name)
    previous = {sig: signal.signal(sig, _leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    leftovers.claim(WORK_DIR, build_id, pid=os.getpid())
    try:
        disk = collection.module_utils('disk_archive').bootable_disk(image, run_dir)
        facts = libvirt_boot.start(disk, os.path.join(run_dir, 'console.log'), name, run_dir, accel=accel, ssh=ssh,
                                   firmware=firmware, arch=arch, interactive=not ssh)
        say('domain %s (%s, %s, %s) runs %s on a throwaway overlay'
            % (name, arch, firmware, facts['accel'], image))
        if not ssh:
            say('serial console: %s leaves, and the domain is destroyed' % ESCAPE)
            return subprocess.run(['virsh', '-c', libvirt_boot.URI, 'console', name], check=False).returncode
        say('waiting for SSH on 127.0.0.1:%d (up to %d s)' % (facts['ssh_port'], timeout))
        libvirt_boot.wait_ssh(facts, timeout)
        return subprocess.run(ssh_argv(facts, command), check=False).returncode
    finally:
        leftovers.release(build_id, WORK_DIR)  # the domain, its run directory and the owner record
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say('released %s' % name)
