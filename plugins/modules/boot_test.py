#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot a disk image under libvirt: prove it reaches the login prompt, optionally keep it up for SSH."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: boot_test
short_description: Boot a disk image in a throwaway libvirt domain and wait for its login prompt and SSH
version_added: 0.1.0
description:
  - Boots O(image) (any format qemu reads; of an OVA or a GCE C(.tar.gz), the disk inside, unpacked into
    O(run_dir)) in a transient libvirt domain on a qcow2 overlay, so the image
    itself is never modified, with the serial console written to O(console_log).
  - With O(state=tested), passes when O(expect) shows on the console within O(timeout) seconds, then
    destroys the domain and removes the overlay.
  - With O(state=running), also waits for SSH and leaves the domain running, so that a verify play can log
    in. SSH listens on a free port of 127.0.0.1 forwarded to the guest's port 22 (user-mode network, no
    bridge). A throwaway key made for this boot reaches root as the systemd credential
    C(ssh.authorized_keys.root) in an SMBIOS OEM string, which systemd 252 and later provision at boot;
    the image is not modified. Stop it with O(state=absent).
  - With O(state=absent), destroys the domain O(name) and removes O(run_dir). Safe to run again.
  - The domain is destroyed and the overlay removed whenever the boot fails. O(report) is written either way.
  - With O(accel=auto), KVM is used only when a real Linux kernel (O(probe_kernel)) starts under it within
    seconds; a C(/dev/kvm) node alone proves nothing. Otherwise the boot runs under TCG. The report says
    which accelerator ran and why. The probe's answer is the host's, kept in C(/run/osimage/kvm-verdict.json)
    for an hour, for the host kernel, C(/dev/kvm) node and QEMU version it was probed with. An O(arch) the host
    does not run natively is never accelerated.
  - O(firmware) picks SeaBIOS or OVMF (UEFI, optionally with Secure Boot) for amd64, AAVMF for arm64. The UEFI
    variable store is a fresh copy of its template in O(run_dir) for every boot.
author: osimage developers (@osimage)
options:
  state:
    description: Boot and stop (V(tested)), boot and leave running with SSH (V(running)), or stop (V(absent)).
    type: str
    choices: [tested, running, absent]
    default: tested
  image:
    description: The disk image to boot. Required unless O(state=absent).
    type: path
  name:
    description: Name of the transient domain.
    type: str
    default: osimage-boot-test
  run_dir:
    description:
      - Directory for the overlay and the throwaway key; removed when the domain stops.
      - Defaults to C(/var/tmp/osimage/boot-NAME).
    type: path
  console_log:
    description: File receiving the serial console. Required unless O(state=absent).
    type: path
  report:
    description: JSON report to write (C(boot-report.json)). Required unless O(state=absent).
    type: path
  accel:
    description: Accelerator.
    type: str
    choices: [auto, kvm, tcg]
    default: auto
  probe_kernel:
    description: A Linux kernel image used to prove that KVM works, for O(accel=auto).
    type: path
  timeout:
    description: Seconds to wait for O(expect), and then for SSH.
    type: int
    default: 300
  memory_mib:
    description: Guest memory.
    type: int
    default: 1024
  vcpus:
    description:
      - Guest CPUs. By default 2 under KVM and 1 under TCG, where each one is a host thread, a second one hardly
        shortens a boot, and side boots (O(also_firmwares)) of one each share the host's cores.
    type: int
  arch:
    description:
      - The image's architecture (a key of the distro table's ARCHES), which picks the emulator, machine type,
        CPU model and firmware files.
    type: str
    choices: [amd64, arm64]
    default: amd64
  firmware:
    description:
      - For amd64, V(bios) boots with SeaBIOS on a C(pc) machine, V(uefi) with OVMF on a C(pc) machine,
        V(uefi_secure) with OVMF with Secure Boot on and the Microsoft keys enrolled, on a C(q35) machine with SMM.
      - For arm64, V(uefi) boots with AAVMF on a C(virt) machine (a Cortex-A57 under TCG).
    type: str
    choices: [bios, uefi, uefi_secure]
    default: bios
  grow:
    description:
      - Bytes added to the virtual size of the overlay the guest runs on, so that it finds a larger disk than
        the image (to prove the root file system grows). V(0) leaves it the image's size.
    type: int
    default: 0
  ovmf_dir:
    description:
      - Directory of the UEFI firmware files (C(OVMF_CODE_4M.fd), C(OVMF_VARS_4M.fd) and their variants; for arm64
        C(AAVMF_CODE.fd), C(AAVMF_VARS.fd)).
      - Defaults to the architecture's, C(/usr/share/OVMF) or C(/usr/share/AAVMF).
    type: path
  nocloud_seed:
    description:
      - Attach a cloud-init NoCloud seed (a CD-ROM labelled CIDATA that names the instance), so that an
        image with cloud-init and the NoCloud datasource finds it and finishes.
    type: bool
    default: false
  forward_ports:
    description: Guest TCP ports to forward from free ports of 127.0.0.1 too (besides SSH).
    type: list
    elements: int
    default: []
  expect:
    description:
      - Regular expression (multi-line) the console must show.
      - The default matches getty's C(<hostname> login:) prompt even when kernel messages land on the same line.
    type: str
    default: '^\S+ login:'
  stall:
    description:
      - Seconds the console, once it has printed, may stay silent before the guest is taken for hung. A hung
        guest is destroyed and booted once more (its console kept as C(CONSOLE-stalled.log) beside
        O(console_log), the result's RV(stalled) says why); a second stall fails. V(0) never restarts.
      - O(timeout) counts for each boot.
    type: int
    default: 120
    version_added: 0.5.0
  also_firmwares:
    description:
      - Further firmwares to boot the image with at the same time, side by side, each in a domain of its own
        (C(NAME-FIRMWARE), run directory C(RUN_DIR-FIRMWARE)) and only to its login prompt, with its console and
        report beside O(console_log) and O(report) (C(console-uefi.log), C(boot-report-uefi.json)). It never
        grows its disk or forwards O(forward_ports). A side boot's domain is destroyed as soon as it is done.
      - When a side boot fails, the module fails naming it, and the main domain is stopped even with
        O(state=running).
      - The accelerator (O(accel)) is chosen once, for all of them.
    type: list
    elements: str
    choices: [bios, uefi, uefi_secure]
    default: []
    version_added: 0.7.0
notes:
  - Needs a running libvirtd reachable at C(qemu:///system).
requirements:
  - libvirt-python
  - qemu-img and ssh-keygen on the build host
attributes:
  check_mode:
    support: partial
    details: Nothing is booted and no report is written; it returns C(outcome=skipped).
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Prove the image boots
  osimage.builder.boot_test:
    image: /srv/images/debian/debian-bookworm.qcow2
    console_log: /srv/images/debian/console.log
    report: /srv/images/debian/boot-report.json

- name: Prove it boots under UEFI too
  osimage.builder.boot_test:
    image: /srv/images/debian/debian-bookworm.qcow2
    firmware: uefi
    console_log: /srv/images/debian/console-uefi.log
    report: /srv/images/debian/boot-report-uefi.json

- name: Prove a hybrid image boots with SeaBIOS and with OVMF, side by side (console-uefi.log, boot-report-uefi.json)
  osimage.builder.boot_test:
    image: /srv/images/debian/debian-bookworm.qcow2
    also_firmwares: [uefi]
    console_log: /srv/images/debian/console.log
    report: /srv/images/debian/boot-report.json

- name: Boot it and keep it running for a verify play
  osimage.builder.boot_test:
    state: running
    image: /srv/images/debian/debian-bookworm.qcow2
    name: osimage-verify-1
    run_dir: /var/tmp/osimage/boot-1
    console_log: /srv/images/debian/console.log
    report: /srv/images/debian/boot-report.json
  register: vm

- name: Stop it
  osimage.builder.boot_test:
    state: absent
    name: osimage-verify-1
    run_dir: /var/tmp/osimage/boot-1
'''

RETURN = r'''
outcome:
  description: V(passed) (O(state=tested)), V(running) (O(state=running)), V(timeout), V(failed) or V(error).
  returned: unless O(state=absent)
  type: str
seconds_to_login:
  description: Seconds from domain start to the login prompt.
  returned: when the guest booted
  type: float
seconds_to_ssh:
  description: Seconds from domain start until SSH answered.
  returned: with O(state=running)
  type: float
ssh_port:
  description: Port on 127.0.0.1 forwarded to the guest's SSH server.
  returned: with O(state=running)
  type: int
forwarded_ports:
  description: Port of 127.0.0.1 for each guest port in O(forward_ports).
  returned: when the guest started
  type: dict
ssh_private_key:
  description: Throwaway private key that logs in as root.
  returned: with O(state=running)
  type: str
accel:
  description: V(kvm) or V(tcg).
  returned: when the guest started
  type: str
firmware:
  description: The firmware the guest booted with.
  returned: when the guest started
  type: str
arch:
  description: The architecture the guest ran as.
  returned: unless O(state=absent)
  type: str
accel_reason:
  description: Why that accelerator was used.
  returned: when the guest started
  type: str
vcpus:
  description: The guest's CPUs.
  returned: when the guest started
  type: int
  version_added: 0.7.0
side_boots:
  description: Each side boot (O(also_firmwares)) by firmware, with its C(outcome), C(seconds_to_login),
    C(console_log), C(vcpus) and any C(message).
  returned: with O(also_firmwares)
  type: dict
  sample: {uefi: {outcome: passed, seconds_to_login: 33.1, vcpus: 1,
                  console_log: /srv/images/debian/console-uefi.log}}
  version_added: 0.7.0
stalled:
  description: Why the first boot was taken for hung and where its console is kept; the result is the second
    boot's.
  returned: when the first boot stalled
  type: dict
  sample: {message: the console stayed silent for 120 s from 1 s after the start,
           console_log: /srv/images/debian/console-uefi-stalled.log}
console_tail:
  description: The last lines of the console.
  returned: unless O(state=absent)
  type: str
'''

import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import disk_archive
from ansible_collections.osimage.builder.plugins.module_utils import distros
from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot

PUBLIC = ('outcome', 'message', 'seconds_to_login', 'seconds_to_ssh', 'accel', 'accel_reason', 'arch', 'console_log',
          'console_tail', 'firmware', 'ssh_port', 'ssh_private_key', 'ssh_user', 'domain', 'run_dir',
          'forwarded_ports', 'stalled', 'vcpus', 'side_boots')
# What the report keeps of each side boot (another firmware's, at the same time).
SIDE = ('outcome', 'message', 'seconds_to_login', 'console_log', 'vcpus')


def write_report(path, report):
    atomic.write_text(path, json.dumps({k: v for k, v in report.items() if k != 'ssh_private_key'}, indent=2,
                                       sort_keys=True))


def start_and_wait(params, run_dir, report, verdict):
    """Start the domain on the image (an archive's disk unpacked into ``run_dir``) and wait for its login prompt
    (and SSH when it is to keep running); the facts go to ``report``."""
    disk = disk_archive.bootable_disk(params['image'], run_dir)
    report.update(libvirt_boot.start(disk, params['console_log'], params['name'], run_dir,
                                     accel=params['accel'], memory_mib=params['memory_mib'],
                                     vcpus=params['vcpus'], probe_kernel=params['probe_kernel'],
                                     ssh=params['state'] == 'running', firmware=params['firmware'],
                                     ovmf_dir=params['ovmf_dir'], grow=params['grow'], nocloud=params['nocloud_seed'],
                                     forward_ports=params['forward_ports'], arch=params['arch'], verdict=verdict))
    if disk != params['image']:
        report.update(image=params['image'], unpacked_disk=disk)
    report['seconds_to_login'] = libvirt_boot.wait_console(report, params['expect'], params['timeout'],
                                                           params['stall'])
    if params['state'] == 'running':
        report['seconds_to_ssh'] = libvirt_boot.wait_ssh(report, params['timeout'])


def beside(path, tag):
    """PATH-TAG.EXT beside PATH.EXT: a stalled boot's console, a side boot's console and report."""
    root, ext = os.path.splitext(path)
    return '%s-%s%s' % (root, tag, ext)


def boot(params, run_dir, verdict=None):
    """Start the domain and wait; return the report. The domain is gone again unless it is running. A boot whose
    console stalls is destroyed and started once more; the report's ``stalled`` keeps why."""
    report = {'image': params['image'], 'accel': params['accel'], 'timeout': params['timeout'],
              'firmware': params['firmware'], 'arch': params['arch']}
    try:
        try:
            start_and_wait(params, run_dir, report, verdict)
        except libvirt_boot.Stalled as exc:
            libvirt_boot.stop(params['name'], run_dir)
            os.replace(params['console_log'], beside(params['console_log'], 'stalled'))
            report['stalled'] = {'message': str(exc), 'console_log': beside(params['console_log'], 'stalled')}
            start_and_wait(params, run_dir, report, verdict)
        report['outcome'] = 'running' if params['state'] == 'running' else 'passed'
    except TimeoutError as exc:
        report.update(outcome='timeout', message=str(exc))
    except RuntimeError as exc:
        report.update(outcome='failed', message=str(exc))
    except (libvirt_boot.BootError, ValueError, OSError, tarfile.TarError) as exc:
        report.update(outcome='error', message=str(exc))
    finally:
        if report.get('outcome') != 'running':
            libvirt_boot.stop(params['name'], run_dir)
    report['console_tail'] = libvirt_boot.console_tail(params['console_log'])
    return report


def side_boot(params, run_dir, firmware):
    """The params and run directory of the boot with ``firmware`` beside the main one: its own domain, run
    directory, console and report (libvirt_boot.side_name), only to its login prompt."""
    return (dict(params, state='tested', firmware=firmware, name=libvirt_boot.side_name(params['name'], firmware),
                 console_log=beside(params['console_log'], firmware), report=beside(params['report'], firmware),
                 grow=0, forward_ports=[]),
            libvirt_boot.side_name(run_dir, firmware))


def boot_side_by_side(params, run_dir):
    """Boot with the main firmware and each of ``also_firmwares`` at once, the accelerator chosen once; write
    each side boot's report and return the main one, which fails (its domain stopped) when a side boot failed."""
    try:
        verdict = libvirt_boot.accelerator(params['accel'], params['probe_kernel'], params['arch'])
    except libvirt_boot.BootError:
        verdict = None  # each boot meets the error itself, and reports it
    sides = [side_boot(params, run_dir, firmware) for firmware in params['also_firmwares']]
    with ThreadPoolExecutor(max_workers=1 + len(sides)) as pool:
        futures = [pool.submit(boot, p, d, verdict) for p, d in [(params, run_dir)] + sides]
        report, *others = [f.result() for f in futures]
    for (side, _dir), other in zip(sides, others):
        write_report(side['report'], other)
    report['side_boots'] = {o['firmware']: {k: o[k] for k in SIDE if k in o} for o in others}
    failed = [o for o in others if o['outcome'] != 'passed']
    if failed and report['outcome'] in ('passed', 'running'):
        libvirt_boot.stop(params['name'], run_dir)
        report.update(outcome=failed[0]['outcome'], console_tail=failed[0]['console_tail'],
                      message='the boot with %s firmware: %s' % (failed[0]['firmware'], failed[0].get('message')))
    return report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='tested', choices=['tested', 'running', 'absent']),
            image=dict(type='path'),
            name=dict(type='str', default='osimage-boot-test'),
            run_dir=dict(type='path'),
            console_log=dict(type='path'),
            report=dict(type='path'),
            accel=dict(type='str', default='auto', choices=['auto', 'kvm', 'tcg']),
            probe_kernel=dict(type='path'),
            timeout=dict(type='int', default=300),
            memory_mib=dict(type='int', default=1024),
            vcpus=dict(type='int'),
            arch=dict(type='str', default='amd64', choices=sorted(distros.ARCHES)),
            firmware=dict(type='str', default='bios', choices=libvirt_boot.FIRMWARES),
            ovmf_dir=dict(type='path'),
            grow=dict(type='int', default=0),
            nocloud_seed=dict(type='bool', default=False),
            forward_ports=dict(type='list', elements='int', default=[]),
            expect=dict(type='str', default=libvirt_boot.LOGIN_PROMPT),
            stall=dict(type='int', default=libvirt_boot.STALL),
            also_firmwares=dict(type='list', elements='str', default=[], choices=libvirt_boot.FIRMWARES),
        ),
        required_if=[('state', 'tested', ('image', 'console_log', 'report')),
                     ('state', 'running', ('image', 'console_log', 'report'))],
        supports_check_mode=True,
    )
    if not libvirt_boot.HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib('libvirt-python'))
    params = module.params
    run_dir = params['run_dir'] or '/var/tmp/osimage/boot-%s' % params['name']
    if params['state'] == 'absent':
        changed = module.check_mode or libvirt_boot.stop(params['name'], run_dir)
        module.exit_json(changed=changed)
    if module.check_mode:
        module.exit_json(changed=False, outcome='skipped', console_tail='')
    build_id, work_dir = params['name'][len('osimage-'):], os.path.dirname(run_dir)
    if params['name'].startswith('osimage-') and not leftovers.alive(work_dir, build_id):
        # Owned by this ansible-playbook, so that osimage.builder.clean stops it (and its side boots' domains)
        # only if the run was killed.
        leftovers.claim(work_dir, build_id)
    report = boot_side_by_side(params, run_dir) if params['also_firmwares'] else boot(params, run_dir)
    write_report(params['report'], report)
    result = {k: v for k, v in report.items() if k in PUBLIC}
    if report['outcome'] not in ('passed', 'running'):
        module.fail_json(msg='boot test %s: %s\n--- last console lines ---\n%s'
                             % (report['outcome'], report.get('message', ''), report['console_tail']), **result)
    module.exit_json(changed=params['state'] == 'running', **result)


if __name__ == '__main__':
    main()
