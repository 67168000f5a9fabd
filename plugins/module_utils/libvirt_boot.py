# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot a disk image in a transient libvirt domain and watch its serial console."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from xml.sax.saxutils import escape, quoteattr

try:
    import libvirt
    HAS_LIBVIRT = True
except ImportError:
    HAS_LIBVIRT = False

URI = 'qemu:///system'
PROBE_CACHE = '/run/osimage/kvm-probe.json'
PROBE_TEXT = b'Linux version'


class BootError(Exception):
    """The boot could not be set up (not: the guest did not come up)."""


def domain_xml(name, domain_type, disk, disk_format, console, memory_mib, vcpus, kernel=None):
    if kernel:
        boot = (f"<kernel>{escape(kernel)}</kernel>"
                "<cmdline>console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1</cmdline>")
    else:
        boot = "<boot dev='hd'/>"
    disk_xml = f"""
    <disk type='file' device='disk'>
      <driver name='qemu' type={quoteattr(disk_format)}/>
      <source file={quoteattr(disk)}/>
      <target dev='vda' bus='virtio'/>
    </disk>""" if disk else ''
    return f"""<domain type={quoteattr(domain_type)}>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{int(memory_mib)}</memory>
  <vcpu>{int(vcpus)}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>
  <features><acpi/><apic/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>{disk_xml}
    <serial type='file'><source path={quoteattr(console)}/><target port='0'/></serial>
    <interface type='user'><model type='virtio'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='none'/>
  </devices>
</domain>"""


def connect():
    if not HAS_LIBVIRT:
        raise BootError('the libvirt Python library (libvirt-python) is required')
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as exc:
        raise BootError('cannot reach libvirtd at %s (%s); start it, for example with scripts/setup-host'
                        % (URI, exc)) from exc


def _boot_id():
    with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as f:
        return f.read().strip()


def probe_kvm(conn, kernel, timeout=15):
    """(use KVM?, why): KVM is used only when a real Linux kernel prints under it within ``timeout`` s.

    ``/dev/kvm`` existing proves nothing: a nested software hypervisor can expose one that runs a BIOS,
    a boot loader and even long-mode code, yet resets the machine when a normal kernel starts. So the
    probe direct-boots ``kernel`` (the kernel of the last built image) and waits for its first line.
    Without a probe kernel nothing proves KVM, and TCG is used. The answer is kept until the host reboots.
    """
    if not os.path.exists('/dev/kvm'):
        return False, 'no /dev/kvm'
    try:
        with open(PROBE_CACHE, encoding='utf-8') as f:
            cached = json.load(f)
        if cached.get('boot_id') == _boot_id():
            return cached['kvm'], cached['why']
    except (OSError, ValueError, KeyError):
        pass
    if not kernel or not os.path.isfile(kernel):
        return False, 'KVM unproven: no probe kernel yet (one is kept after the first build)'
    ok = False
    with tempfile.TemporaryDirectory(prefix='osimage-kvm-probe-') as tmp:
        console = os.path.join(tmp, 'console.log')
        try:
            dom = conn.createXML(domain_xml('osimage-kvm-probe-%d' % os.getpid(), 'kvm', None, None, console,
                                            256, 1, kernel=kernel), 0)
        except libvirt.libvirtError:
            dom = None
        if dom is not None:
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and not ok:
                    time.sleep(0.2)
                    ok = os.path.exists(console) and PROBE_TEXT in open(console, 'rb').read()
            finally:
                _destroy(dom)
    why = ('a Linux kernel ran under KVM' if ok else
           'KVM present but a Linux kernel did not start under it within %d s' % timeout)
    os.makedirs(os.path.dirname(PROBE_CACHE), exist_ok=True)
    with open(PROBE_CACHE, 'w', encoding='utf-8') as f:
        json.dump({'boot_id': _boot_id(), 'kvm': ok, 'why': why}, f)
    return ok, why


def _destroy(dom):
    try:
        dom.destroy()
    except libvirt.libvirtError:
        pass


def image_format(path):
    out = subprocess.run(['qemu-img', 'info', '--output=json', path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)['format']


def console_tail(path, lines=25):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    text = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', text).replace('\r', '')
    return '\n'.join(text.splitlines()[-lines:])


def boot(image, console, name, accel='auto', timeout=300, memory_mib=1024, vcpus=2, expect=r'login:\s*$',
         probe_kernel=None):
    """Boot ``image`` on a throwaway overlay until ``expect`` shows on the serial console.

    Returns a report dict; the domain is destroyed and the overlay removed whatever happens.
    """
    if not os.path.isfile(image):
        raise BootError("image '%s' does not exist" % image)
    fmt = image_format(image)
    conn = connect()
    try:
        if accel == 'auto':
            use_kvm, why = probe_kvm(conn, probe_kernel)
        else:
            use_kvm, why = accel == 'kvm', 'requested'
        report = {'image': os.path.abspath(image), 'format': fmt, 'accel': 'kvm' if use_kvm else 'tcg',
                  'accel_reason': why,
                  'firmware': 'bios', 'domain': name, 'console_log': os.path.abspath(console),
                  'timeout': timeout, 'expect': expect}
        pattern = re.compile(expect.encode('utf-8'), re.MULTILINE)
        with tempfile.TemporaryDirectory(prefix='osimage-boot-', dir=os.path.dirname(os.path.abspath(console))) as tmp:
            overlay = os.path.join(tmp, 'overlay.qcow2')
            subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', os.path.abspath(image), '-F', fmt,
                            overlay], check=True, capture_output=True)
            if os.path.exists(console):
                os.unlink(console)
            xml = domain_xml(name, 'kvm' if use_kvm else 'qemu', overlay, 'qcow2', os.path.abspath(console),
                             memory_mib, vcpus)
            started = time.monotonic()
            try:
                dom = conn.createXML(xml, 0)
            except libvirt.libvirtError as exc:
                raise BootError('libvirt could not start the domain: %s' % exc) from exc
            try:
                report.update(_watch(dom, console, pattern, started, timeout))
            finally:
                _destroy(dom)
        report['console_tail'] = console_tail(console)
        return report
    finally:
        conn.close()


def _watch(dom, console, pattern, started, timeout):
    while True:
        elapsed = time.monotonic() - started
        try:
            with open(console, 'rb') as f:
                if pattern.search(f.read().replace(b'\r', b'')):
                    return {'outcome': 'passed', 'seconds_to_login': round(elapsed, 1)}
        except FileNotFoundError:
            pass
        if not dom.isActive():
            return {'outcome': 'failed', 'message': 'the guest stopped after %.0f s before the console showed '
                                                    'the login prompt' % elapsed}
        if elapsed > timeout:
            return {'outcome': 'timeout', 'message': 'no login prompt on the console within %d s' % timeout}
        time.sleep(0.5)
