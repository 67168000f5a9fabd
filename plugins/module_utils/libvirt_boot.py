# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a disk image in a transient libvirt domain: start it, watch its console and SSH, stop it.

The image is never modified: the domain runs on a qcow2 overlay (or, for formats libvirt cannot name as a
backing file such as vhdx, a qcow2 copy converted back with qemu-img) in a run directory, which also holds
the throwaway SSH key of this boot. SSH is reached on 127.0.0.1 through a user-mode network port
forward (no bridge, no dnsmasq). The key reaches root through a systemd credential passed as an SMBIOS
OEM string (systemd >= 252 provisions ``ssh.authorized_keys.root``), so nothing is written into the image.

Firmware and machine come from the architecture's entry of the distro table (distros.ARCHES ``boot``): for
amd64 SeaBIOS (``bios``), OVMF (``uefi``) or OVMF with Secure Boot and the Microsoft keys enrolled
(``uefi_secure``, which needs SMM and so a q35 machine); for arm64 AAVMF (``uefi``) on a ``virt`` machine. The
UEFI variable store is copied from its template into the run directory for each boot, so no boot sees what
another one stored. KVM is never tried for an architecture the host does not run natively.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from xml.etree import ElementTree

from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import binfmt
from ansible_collections.osimage.builder.plugins.module_utils import distros

try:
    import libvirt
    HAS_LIBVIRT = True
except ImportError:
    HAS_LIBVIRT = False

URI = 'qemu:///system'
KVM_DEVICE = '/dev/kvm'
# The KVM probe's verdict is the host's, whatever the cache directory: kept in /run (gone when the host restarts)
# and trusted for this many seconds.
PROBE_VERDICT = '/run/osimage/kvm-verdict.json'
PROBE_LIFETIME = 3600
PROBE_TEXT = b'Linux version'
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
ElementTree.register_namespace('qemu', QEMU_NS)
# getty's '<hostname> login:' prompt; kernel messages may follow on the same line, so no end anchor.
LOGIN_PROMPT = r'^\S+ login:'
# Seconds a console that has printed may stay silent before the guest is taken for hung. A TCG guest was seen
# to stop for good in the kernel's early init (after "pnp: PnP ACPI: found 5 devices"); a healthy one prints
# every few seconds until its login prompt.
STALL = 120
# Guest CPUs when none are asked for, by accelerator. Under TCG each vCPU is a host thread: a second one does not
# shorten a boot (the default image reached login in 51 s with two, 40 s with one), while two firmwares' guests of
# one vCPU each boot side by side on two cores.
VCPUS = {'kvm': 2, 'tcg': 1}
# Formats libvirt names as a qcow2 overlay's backing file; others (vhdx) it opens as raw.
BACKING_FORMATS = ('raw', 'qcow2', 'vmdk', 'vdi', 'vpc')
# Machine type -> the PCI root bus, the target and bus of an extra CD-ROM (the NoCloud seed) and the model of
# the SCSI controller that bus needs, if any.
MACHINES = {'pc': {'root_bus': 'pci.0', 'cdrom': ('hdc', 'ide'), 'controller': None},
            'q35': {'root_bus': 'pcie.0', 'cdrom': ('sdc', 'sata'), 'controller': None},
            'virt': {'root_bus': 'pcie.0', 'cdrom': ('sdc', 'scsi'), 'controller': 'virtio-scsi'}}
# Every firmware name some architecture boots with.
FIRMWARES = sorted({f for a in distros.ARCHES.values() for f in a['boot']['firmware']})


class BootError(Exception):
    """The boot could not be set up (not: the guest did not come up)."""


def firmware_spec(firmware, arch='amd64'):
    """The architecture's boot data (distros.ARCHES) and its entry for ``firmware``; BootError when it has none."""
    boot = distros.ARCHES[arch]['boot']
    if firmware not in boot['firmware']:
        raise BootError("firmware '%s' does not boot %s; choose one of %s" % (firmware, arch, ', '.join(boot['firmware'])))
    return boot, boot['firmware'][firmware]


def firmware_files(firmware, run_dir, ovmf_dir=None, arch='amd64'):
    """(UEFI code, this boot's copy of the variable store) for ``firmware``; (None, None) for SeaBIOS."""
    boot, spec = firmware_spec(firmware, arch)
    if 'code' not in spec:
        return None, None
    ovmf_dir = ovmf_dir or boot['firmware_dir']
    code, template = os.path.join(ovmf_dir, spec['code']), os.path.join(ovmf_dir, spec['vars'])
    for path in (code, template):
        if not os.path.isfile(path):
            raise BootError("UEFI firmware file '%s' is missing; install the %s package"
                            % (path, boot['firmware_package']))
    nvram = os.path.join(run_dir, 'OVMF_VARS.fd')
    shutil.copyfile(template, nvram)
    return code, nvram


def _sub(parent, tag, text=None, **attrs):
    """Append the element ``tag`` with ``attrs`` (and ``text``) to ``parent``; return it."""
    element = ElementTree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def _file_disk(devices, device, path, fmt, dev, bus, readonly=False):
    disk = _sub(devices, 'disk', type='file', device=device)
    _sub(disk, 'driver', name='qemu', type=fmt)
    _sub(disk, 'source', file=path)
    _sub(disk, 'target', dev=dev, bus=bus)
    if readonly:
        _sub(disk, 'readonly')


def _os_element(domain, arch, machine, secure, kernel, loader, nvram, boot_cdrom, smbios):
    """The <os> element: direct kernel boot, UEFI (pflash loader and this boot's variable store) or SeaBIOS."""
    os_el = _sub(domain, 'os')
    _sub(os_el, 'type', 'hvm', arch=distros.ARCHES[arch]['machine'], machine=machine)
    if kernel:
        _sub(os_el, 'kernel', kernel)
        _sub(os_el, 'cmdline', 'console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1')
    else:
        if loader:
            _sub(os_el, 'loader', loader, readonly='yes', secure='yes' if secure else 'no', type='pflash')
            _sub(os_el, 'nvram', nvram)
        _sub(os_el, 'boot', dev='cdrom' if boot_cdrom else 'hd')
        if not loader:
            _sub(os_el, 'bios', useserial='yes')
    if smbios:
        _sub(os_el, 'smbios', mode='sysinfo')


def _netdev(ssh_port, forwards):
    """QEMU's user-mode network with the SSH port and ``forwards`` (guest port -> host port) on 127.0.0.1."""
    netdev = 'user,id=osnet0'
    if ssh_port:
        netdev += ',hostfwd=tcp:127.0.0.1:%d-:22' % ssh_port
    for guest, host in sorted((forwards or {}).items()):
        netdev += ',hostfwd=tcp:127.0.0.1:%d-:%d' % (host, guest)
    return netdev


def domain_xml(name, domain_type, console, memory_mib, vcpus, disk=None, disk_format=None, kernel=None,
               ssh_port=None, oem_strings=(), firmware='bios', loader=None, nvram=None, cdrom=None, forwards=None,
               boot_cdrom=False, arch='amd64', interactive=False):
    """Libvirt XML of a transient guest with its serial console written to ``console`` (``interactive``: also on a
    pty, for ``virsh console``), built as an element tree.

    ``firmware`` is one of ``arch``'s (distros.ARCHES); for UEFI, ``loader`` and ``nvram`` come from
    :func:`firmware_files`.
    ``cdrom`` is an ISO attached read-only (a NoCloud seed); ``forwards`` maps guest TCP ports to ports of
    127.0.0.1. With ``boot_cdrom``, ``disk`` is a read-only CD-ROM on SATA and the guest boots from it.
    """
    boot_data, spec = firmware_spec(firmware, arch)
    bus = MACHINES[spec['machine']]
    domain = ElementTree.Element('domain', type=domain_type)
    _sub(domain, 'name', name)
    _sub(domain, 'memory', int(memory_mib), unit='MiB')
    _sub(domain, 'vcpu', int(vcpus))
    if oem_strings:
        strings = _sub(_sub(domain, 'sysinfo', type='smbios'), 'oemStrings')
        for entry in oem_strings:
            _sub(strings, 'entry', entry)
    secure = spec.get('secure', False)
    _os_element(domain, arch, spec['machine'], secure, kernel, loader, nvram, bool(disk and boot_cdrom),
                bool(oem_strings))
    features = _sub(domain, 'features')
    for feature in boot_data['features']:
        _sub(features, feature)
    if secure:
        _sub(features, 'smm', state='on')
    if boot_data['cpu']:
        _sub(_sub(domain, 'cpu', mode='custom', match='exact'), 'model', boot_data['cpu'], fallback='allow')
    _sub(domain, 'clock', offset='utc')
    for event, action in (('on_poweroff', 'destroy'), ('on_reboot', 'restart'), ('on_crash', 'destroy')):
        _sub(domain, event, action)
    devices = _sub(domain, 'devices')
    if disk and boot_cdrom:
        _file_disk(devices, 'cdrom', disk, 'raw', 'sda', 'sata', readonly=True)
    elif disk:
        _file_disk(devices, 'disk', disk, disk_format, 'vda', 'virtio')
    if cdrom:
        if bus['controller']:
            _sub(devices, 'controller', type='scsi', model=bus['controller'])
        _file_disk(devices, 'cdrom', cdrom, 'raw', bus['cdrom'][0], bus['cdrom'][1], readonly=True)
    if interactive:
        serial = _sub(devices, 'serial', type='pty')
        _sub(serial, 'log', file=console, append='off')
    else:
        serial = _sub(devices, 'serial', type='file')
        _sub(serial, 'source', path=console)
    _sub(serial, 'target', port=0)
    _sub(_sub(devices, 'rng', model='virtio'), 'backend', '/dev/urandom', model='random')
    _sub(devices, 'memballoon', model='none')
    # The user-mode network is QEMU's own netdev on its command line: it forwards ports of 127.0.0.1.
    commandline = _sub(domain, '{%s}commandline' % QEMU_NS)
    for value in ('-netdev', _netdev(ssh_port, forwards), '-device',
                  'virtio-net-pci,netdev=osnet0,bus=%s,addr=0x1e' % bus['root_bus']):
        _sub(commandline, '{%s}arg' % QEMU_NS, value=value)
    return ElementTree.tostring(domain, encoding='unicode')


def _quiet(_ctx, _err):
    """libvirt's errors arrive as exceptions; do not also print them on stderr."""


def connect():
    if not HAS_LIBVIRT:
        raise BootError('the libvirt Python library (libvirt-python) is required')
    libvirt.registerErrorHandler(_quiet, None)
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as exc:
        raise BootError('cannot reach libvirtd at %s (%s); start it, for example with scripts/setup-host'
                        % (URI, exc)) from exc


def probe_host(conn):
    """What a KVM verdict holds for: the running kernel, the /dev/kvm node (a reloaded module or another
    device is another node) and the QEMU version libvirt drives."""
    st = os.stat(KVM_DEVICE)
    return {'kernel': os.uname().release, 'kvm_device': [st.st_rdev, st.st_ino, st.st_ctime_ns],
            'qemu': conn.getVersion()}


def _cached_verdict(path, host):
    try:
        with open(path, encoding='utf-8') as f:
            cached = json.load(f)
        if cached['host'] == host and 0 <= time.time() - cached['time'] < PROBE_LIFETIME:
            return cached['kvm'], cached['why']
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def probe_kvm(conn, kernel, timeout=15, arch='amd64'):
    """(use KVM?, why): KVM is used only when a real Linux kernel prints under it within ``timeout`` s.

    ``/dev/kvm`` existing proves nothing: a nested software hypervisor can expose one that runs a BIOS,
    a boot loader and even long-mode code, yet resets the machine when a normal kernel starts. So the
    probe direct-boots ``kernel`` (the kernel of the last built image) and waits for its first line.
    Without a probe kernel nothing proves KVM, and TCG is used. The verdict is the host's (PROBE_VERDICT, any
    cache directory's builds read it) for PROBE_LIFETIME seconds, for this host kernel, /dev/kvm node and QEMU
    version. A foreign architecture (``arch`` not the host's) is never accelerated.
    """
    machine = distros.ARCHES[arch]['machine']
    if binfmt.foreign(machine):
        return False, 'KVM cannot run %s guests on this %s host' % (machine, os.uname().machine)
    if not os.path.exists(KVM_DEVICE):
        return False, 'no /dev/kvm'
    host = probe_host(conn)
    cached = _cached_verdict(PROBE_VERDICT, host)
    if cached:
        return cached
    if not kernel or not os.path.isfile(kernel):
        return False, 'KVM unproven: no probe kernel yet (one is kept after the first build)'
    ok = False
    with tempfile.TemporaryDirectory(prefix=atomic.temp_dir_prefix('kvm-probe')) as tmp:
        console = os.path.join(tmp, 'console.log')
        try:
            dom = conn.createXML(domain_xml('osimage-kvm-probe-%d' % os.getpid(), 'kvm', console, 256, 1,
                                            kernel=kernel), 0)
        except libvirt.libvirtError:
            dom = None
        if dom is not None:
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and not ok:
                    time.sleep(0.2)
                    ok = PROBE_TEXT in _read(console)
            finally:
                _destroy(dom)
    why = ('a Linux kernel ran under KVM' if ok else
           'KVM present but a Linux kernel did not start under it within %d s' % timeout)
    os.makedirs(os.path.dirname(PROBE_VERDICT), exist_ok=True)
    atomic.write_text(PROBE_VERDICT, json.dumps({'host': host, 'time': time.time(), 'kvm': ok, 'why': why}))
    return ok, why


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return b''


def _destroy(dom):
    try:
        dom.destroy()
    except libvirt.libvirtError:
        pass


def image_format(path):
    out = subprocess.run(['qemu-img', 'info', '--output=json', path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)['format']


def console_tail(path, lines=25):
    text = _read(path).decode('utf-8', 'replace')
    text = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', text).replace('\r', '')
    return '\n'.join(text.splitlines()[-lines:])


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_key(run_dir):
    """A throwaway ed25519 key pair for this boot only: (private key path, public key text)."""
    key = os.path.join(run_dir, 'id_ed25519')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'osimage-boot-test', '-f', key],
                   check=True, capture_output=True)
    with open(key + '.pub', encoding='ascii') as f:
        return key, f.read().strip()


def nocloud_seed(run_dir, instance_id):
    """A cloud-init NoCloud seed (an ISO 9660 volume labelled CIDATA, made with xorriso) in ``run_dir``.

    It only names the instance: cloud-init finds its datasource and finishes, and the boot test's own
    root key (the systemd credential) stays the way in.
    """
    seed = os.path.join(run_dir, 'seed')
    os.makedirs(seed, exist_ok=True)
    with open(os.path.join(seed, 'meta-data'), 'w', encoding='utf-8') as f:
        f.write('instance-id: %s\n' % instance_id)
    with open(os.path.join(seed, 'user-data'), 'w', encoding='utf-8') as f:
        f.write('#cloud-config\n{}\n')
    iso = os.path.join(run_dir, 'seed.iso')
    try:
        subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-volid', 'CIDATA', '-joliet', '-rock',
                        '-output', iso, seed], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BootError('cannot make the NoCloud seed with xorriso: %s' % getattr(exc, 'stderr', exc)) from exc
    return iso


def accelerator(accel, probe_kernel=None, arch='amd64', conn=None):
    """(use KVM?, why) for the requested ``accel``: ``auto`` asks probe_kvm."""
    if accel != 'auto':
        return accel == 'kvm', 'requested'
    own = conn is None
    conn = conn or connect()
    try:
        return probe_kvm(conn, probe_kernel, arch=arch)
    finally:
        if own:
            conn.close()


def start(image, console, name, run_dir, accel='auto', memory_mib=1024, vcpus=None, probe_kernel=None, ssh=False,
          firmware='bios', ovmf_dir=None, grow=0, nocloud=False, forward_ports=(), arch='amd64', interactive=False,
          verdict=None):
    """Start ``image`` on an overlay in ``run_dir`` with ``firmware``; return the facts of the running domain.
    ``interactive`` puts the serial console on a pty too (``virsh console``), still logged to ``console``.
    ``verdict`` is the accelerator() answer when it was already asked; ``vcpus`` defaults to VCPUS by accelerator.

    ``nocloud`` attaches a NoCloud seed for cloud-init; ``forward_ports`` are guest TCP ports reached on
    free ports of 127.0.0.1 (facts ``forwarded_ports``).
    """
    if not os.path.isfile(image):
        raise BootError("image '%s' does not exist" % image)
    fmt = image_format(image)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    # An ISO is a read-only CD-ROM, which needs no overlay to stay unmodified.
    cdrom = image.endswith('.iso')
    overlay = os.path.abspath(image) if cdrom else os.path.join(run_dir, 'overlay.qcow2')
    if not cdrom and fmt in BACKING_FORMATS:
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', os.path.abspath(image), '-F', fmt, overlay],
                       check=True, capture_output=True)
    elif not cdrom:
        # libvirt would open such a backing file as raw: boot a copy qemu-img converted back instead.
        subprocess.run(['qemu-img', 'convert', '-f', fmt, '-O', 'qcow2', os.path.abspath(image), overlay],
                       check=True, capture_output=True)
    if grow and not cdrom:
        subprocess.run(['qemu-img', 'resize', '-q', overlay, '+%d' % grow], check=True, capture_output=True)
    loader, nvram = firmware_files(firmware, run_dir, ovmf_dir, arch)
    if os.path.exists(console):
        os.unlink(console)
    facts = {'image': os.path.abspath(image), 'format': fmt, 'domain': name, 'run_dir': run_dir,
             'console_log': os.path.abspath(console), 'firmware': firmware, 'device': 'cdrom' if cdrom else 'disk'}
    oem = []
    seed = nocloud_seed(run_dir, name) if nocloud else None
    facts['forwarded_ports'] = {int(p): free_port() for p in forward_ports}
    if ssh:
        facts['ssh_private_key'], public = make_key(run_dir)
        facts['ssh_port'] = free_port()
        facts['ssh_user'] = 'root'
        oem.append('io.systemd.credential:ssh.authorized_keys.root=%s' % public)
    conn = connect()
    try:
        use_kvm, why = verdict or accelerator(accel, probe_kernel, arch, conn)
        facts.update(accel='kvm' if use_kvm else 'tcg', accel_reason=why)
        facts['vcpus'] = vcpus or VCPUS[facts['accel']]
        for attempt in range(3):
            xml = domain_xml(name, 'kvm' if use_kvm else 'qemu', os.path.abspath(console), memory_mib, facts['vcpus'],
                             disk=overlay, disk_format='qcow2', ssh_port=facts.get('ssh_port'), oem_strings=oem,
                             firmware=firmware, loader=loader, nvram=nvram, cdrom=seed,
                             forwards=facts['forwarded_ports'], boot_cdrom=cdrom, arch=arch, interactive=interactive)
            facts['started'] = time.time()
            try:
                conn.createXML(xml, 0)
                break
            except libvirt.libvirtError as exc:
                # Another boot test may have taken the free port between our check and qemu's bind.
                if ssh and 'host forwarding' in str(exc) and attempt < 2:
                    facts['ssh_port'] = free_port()
                    facts['forwarded_ports'] = {p: free_port() for p in facts['forwarded_ports']}
                    continue
                raise BootError('libvirt could not start the domain: %s' % exc) from exc
    finally:
        conn.close()
    return facts


def side_name(name, firmware):
    """The domain (or run directory) of the boot with ``firmware`` beside the boot ``name``, at the same time."""
    return '%s-%s' % (name, firmware)


def main_name(name):
    """The boot a side boot's domain or run directory (side_name) belongs to; any other name is its own."""
    for firmware in FIRMWARES:
        if name.endswith('-' + firmware):
            return name[:-len(firmware) - 1]
    return name


def _active(conn, name):
    try:
        return conn.lookupByName(name).isActive()
    except libvirt.libvirtError:
        return False


def console_shows(console, expect):
    """True when the console bytes match ``expect`` (multi-line, carriage returns dropped)."""
    return re.search(expect.encode('utf-8'), console.replace(b'\r', b''), re.MULTILINE) is not None


class Stalled(TimeoutError):
    """The console, once it had printed, stayed silent too long: the guest hung (seen under TCG, rarely)."""


def wait_console(facts, expect, timeout, stall=0):
    """Seconds from start until ``expect`` shows on the console; raises TimeoutError, Stalled (the console that
    had printed stayed silent for ``stall`` seconds; 0 never) or RuntimeError."""
    conn = connect()
    size, heard = 0, facts['started']
    try:
        while True:
            now = time.time()
            elapsed = now - facts['started']
            console = _read(facts['console_log'])
            if console_shows(console, expect):
                return round(elapsed, 1)
            if not _active(conn, facts['domain']):
                raise RuntimeError('the guest stopped after %.0f s before the console showed /%s/' % (elapsed, expect))
            if elapsed > timeout:
                raise TimeoutError('the console did not show /%s/ within %d s' % (expect, timeout))
            if len(console) != size:
                size, heard = len(console), now
            elif stall and size and now - heard > stall:
                since = heard - facts['started']
                raise Stalled('the console stayed silent for %d s from %.0f s after the start' % (stall, since))
            time.sleep(0.5)
    finally:
        conn.close()


def wait_ssh(facts, timeout):
    """Seconds from start until the guest's SSH server answers with its banner on the forwarded port."""
    while True:
        elapsed = time.time() - facts['started']
        try:
            with socket.create_connection(('127.0.0.1', facts['ssh_port']), timeout=3) as sock:
                if sock.recv(64).startswith(b'SSH-'):
                    return round(elapsed, 1)
        except OSError:
            pass
        if elapsed > timeout:
            raise TimeoutError('SSH did not answer on 127.0.0.1:%d within %d s' % (facts['ssh_port'], timeout))
        time.sleep(1)


def stop(name, run_dir):
    """Destroy the domain and remove its run directory; True when anything was there."""
    found = False
    conn = connect()
    try:
        try:
            conn.lookupByName(name).destroy()
            found = True
        except libvirt.libvirtError:
            pass
    finally:
        conn.close()
    if run_dir and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
        found = True
    return found
