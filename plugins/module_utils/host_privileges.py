# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a build needs from the host or container it runs in, checked once before any privileged step.

A build bootstraps, chroots and mounts (root with CAP_SYS_ADMIN), writes file systems through loop devices,
and its boot test starts a VM through libvirtd at qemu:///system; /dev/kvm only makes the boot faster.
The host_privileges module (the first step of playbooks/build.yml after validation) and the driver both
call ``problems``.
"""

from __future__ import annotations

import fcntl
import os

from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot

CAP_SYS_ADMIN = 21
LOOP_CTL_GET_FREE = 0x4C82
CONTAINER = 'in a container (an AWX container group): run it privileged; see "AWX / Tower" in the README'


def effective_capabilities(status='/proc/self/status'):
    """The effective capability bits of this process."""
    with open(status, encoding='ascii') as f:
        for line in f:
            if line.startswith('CapEff:'):
                return int(line.split()[1], 16)
    return 0


def loop_problem(dev='/dev'):
    """Why this process cannot have a loop device, or None: loop-control opens and the free device has a node."""
    control = os.path.join(dev, 'loop-control')
    try:
        fd = os.open(control, os.O_RDWR)
    except OSError as exc:
        return '%s cannot be opened (%s)' % (control, exc.strerror)
    try:
        number = fcntl.ioctl(fd, LOOP_CTL_GET_FREE)
    except OSError as exc:
        return 'no free loop device (%s)' % exc.strerror
    finally:
        os.close(fd)
    node = os.path.join(dev, 'loop%d' % number)
    if not os.path.exists(node):
        return '%s, the free loop device, has no node in %s' % (node, dev)
    return None


def libvirt_problem():
    """Why the boot test cannot reach libvirtd, or None."""
    try:
        libvirt_boot.connect().close()
    except libvirt_boot.BootError as exc:
        return str(exc)
    return None


def has_kvm(dev='/dev'):
    return os.access(os.path.join(dev, 'kvm'), os.R_OK | os.W_OK)


def problems(boot_test=True, accel='auto', dev='/dev'):
    """[(privilege, message)] for each thing this build needs that the process lacks; [] when it can build."""
    found = []
    if os.geteuid() != 0:
        found.append(('root', 'the build runs as uid %d; it bootstraps, chroots and mounts, so it must run as '
                              'root (%s)' % (os.geteuid(), CONTAINER)))
    elif not effective_capabilities() >> CAP_SYS_ADMIN & 1:
        found.append(('mounts', 'root here lacks CAP_SYS_ADMIN, so it cannot mount or chroot (%s)' % CONTAINER))
    loop = loop_problem(dev)
    if loop:
        found.append(('loop devices', "%s: the disk's file systems are written through loop devices; give the "
                                      "build the host's /dev (%s)" % (loop, CONTAINER)))
    if boot_test:
        libvirt = libvirt_problem()
        if libvirt:
            found.append(('libvirt', '%s; the boot test needs libvirtd: reach the host\'s socket, run one '
                                     'beside the build, or set boot_test.enabled: false' % libvirt))
        if accel == 'kvm' and not has_kvm(dev):
            found.append(('kvm', "boot_test.accel is kvm but %s/kvm is missing or not writable: pass the host's "
                                 "/dev/kvm, or set boot_test.accel: auto (TCG when KVM is unusable)" % dev))
    return found


def message(found):
    return 'this host cannot build:\n  ' + '\n  '.join('%s: %s' % p for p in found)
