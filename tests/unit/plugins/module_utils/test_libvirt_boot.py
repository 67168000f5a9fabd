"""The console match that decides when a guest is up, the KVM probe, and the domain XML libvirt is given."""

import json
import os
import time

from xml.etree import ElementTree

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot

# Recorded in CI: kernel messages printed after the prompt, on the same line.
PROMPT_THEN_KERNEL = (b'Debian GNU/Linux 12 parallel-0 ttyS0\r\n\r\n'
                      b'parallel-0 login: [   45.775595] powernow_k8: Power state transitions not supported\r\n')


@pytest.mark.parametrize('console', [
    PROMPT_THEN_KERNEL,
    b'Debian GNU/Linux 13 osimage ttyS0\r\n\r\nosimage login: ',
    b'osimage login:',
])
def test_login_prompt_is_seen(console):
    assert libvirt_boot.console_shows(console, libvirt_boot.LOGIN_PROMPT)


@pytest.mark.parametrize('console', [
    b'[  OK  ] Started systemd-logind.service - User Login Management.\r\n',
    b'[    1.0] Run /init as init process\r\n  with arguments: login:\r\n',
    b'',
])
def test_boot_messages_are_not_a_login_prompt(console):
    assert not libvirt_boot.console_shows(console, libvirt_boot.LOGIN_PROMPT)


QEMU = '{%s}' % libvirt_boot.QEMU_NS


def parsed(**kwargs):
    """The domain XML of a guest on an overlay disk, parsed."""
    args = dict(disk='/run/o.qcow2', disk_format='qcow2')
    args.update(kwargs)
    return ElementTree.fromstring(libvirt_boot.domain_xml('osimage-t', 'qemu', '/run/c.log', 512, 1, **args))


def test_the_domain_is_a_headless_qemu_guest_on_its_overlay_with_a_serial_console_and_user_networking():
    root = parsed(ssh_port=2222, forwards={80: 8080}, oem_strings=['io.systemd.credential:k=v & <x>'])
    assert root.tag == 'domain' and root.get('type') == 'qemu' and root.findtext('name') == 'osimage-t'
    assert root.find('memory').get('unit') == 'MiB' and root.findtext('memory') == '512' and root.findtext('vcpu') == '1'
    (disk,) = root.iter('disk')
    assert disk.get('device') == 'disk' and disk.find('source').get('file') == '/run/o.qcow2'
    assert disk.find('driver').get('type') == 'qcow2' and disk.find('target').attrib == {'dev': 'vda', 'bus': 'virtio'}
    serial = root.find('devices/serial')
    assert serial.get('type') == 'file' and serial.find('source').get('path') == '/run/c.log'
    assert serial.find('target').get('port') == '0'
    assert root.find('devices/graphics') is None and root.find('devices/video') is None
    assert root.find('devices/interface') is None, 'the network is QEMU user mode, on its command line'
    args = [a.get('value') for a in root.find(QEMU + 'commandline').iter(QEMU + 'arg')]
    assert args == ['-netdev', 'user,id=osnet0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80',
                    '-device', 'virtio-net-pci,netdev=osnet0,bus=pci.0,addr=0x1e']
    assert [e.text for e in root.iter('entry')] == ['io.systemd.credential:k=v & <x>']
    assert root.find('os/smbios').get('mode') == 'sysinfo'
    assert root.find('devices/memballoon').get('model') == 'none'


def test_the_kvm_probe_guest_is_a_kvm_domain_booting_its_kernel_directly():
    root = ElementTree.fromstring(libvirt_boot.domain_xml('p', 'kvm', '/c.log', 256, 1, kernel='/k/vmlinuz'))
    assert root.get('type') == 'kvm' and root.findtext('os/kernel') == '/k/vmlinuz'
    assert 'console=ttyS0' in root.findtext('os/cmdline') and root.find('devices/disk') is None


def test_bios_guest_boots_seabios_on_pc():
    root = parsed()
    assert root.find('os/type').get('machine') == 'pc' and root.find('os/type').text == 'hvm'
    assert root.find('os/bios').get('useserial') == 'yes' and root.find('os/loader') is None
    assert [b.get('dev') for b in root.iter('boot')] == ['hd']


def test_uefi_guest_gets_ovmf_and_its_own_variable_store(tmp_path):
    loader, nvram = libvirt_boot.firmware_files('uefi', str(tmp_path))
    assert loader == '/usr/share/OVMF/OVMF_CODE_4M.fd'
    assert nvram == str(tmp_path / 'OVMF_VARS.fd') and (tmp_path / 'OVMF_VARS.fd').stat().st_size > 0
    root = parsed(firmware='uefi', loader=loader, nvram=nvram)
    assert root.find('os/type').get('machine') == 'pc'
    assert root.find('os/loader').attrib == {'readonly': 'yes', 'secure': 'no', 'type': 'pflash'}
    assert root.findtext('os/loader') == loader and root.findtext('os/nvram') == nvram
    assert root.find('os/bios') is None and root.find('features/smm') is None


def test_secure_boot_guest_is_q35_with_smm_and_microsoft_keys(tmp_path):
    loader, nvram = libvirt_boot.firmware_files('uefi_secure', str(tmp_path))
    assert loader.endswith('OVMF_CODE_4M.secboot.fd')
    assert (tmp_path / 'OVMF_VARS.fd').read_bytes() == open('/usr/share/OVMF/OVMF_VARS_4M.ms.fd', 'rb').read()
    root = parsed(firmware='uefi_secure', loader=loader, nvram=nvram)
    assert root.find('os/type').get('machine') == 'q35' and root.find('os/loader').get('secure') == 'yes'
    assert root.find('features/smm').get('state') == 'on'
    assert 'bus=pcie.0' in root.find(QEMU + 'commandline')[3].get('value')


def test_an_interactive_console_is_a_pty_logged_to_the_file():
    serial = parsed(interactive=True).find('devices/serial')
    assert serial.get('type') == 'pty' and serial.find('log').attrib == {'file': '/run/c.log', 'append': 'off'}


def test_missing_ovmf_is_a_clear_error(tmp_path):
    with pytest.raises(libvirt_boot.BootError, match='install the ovmf package'):
        libvirt_boot.firmware_files('uefi', str(tmp_path), ovmf_dir=str(tmp_path / 'none'))


def test_an_iso_is_a_read_only_cdrom_the_guest_boots_from():
    for firmware, loader in (('bios', None), ('uefi', '/usr/share/OVMF/OVMF_CODE_4M.fd')):
        xml = libvirt_boot.domain_xml('osimage-x', 'qemu', '/tmp/console.log', 1024, 2, disk='/srv/live.iso',
                                      disk_format='qcow2', firmware=firmware, loader=loader, nvram='/tmp/vars.fd',
                                      boot_cdrom=True)
        root = ElementTree.fromstring(xml)
        (disk,) = root.iter('disk')
        assert disk.get('device') == 'cdrom' and disk.find('readonly') is not None
        assert disk.find('target').get('bus') == 'sata' and disk.find('driver').get('type') == 'raw'
        assert [b.get('dev') for b in root.iter('boot')] == ['cdrom']


class ProbeConnection:
    """libvirt's connection as the KVM probe uses it: every probe guest it is asked for fails to start."""

    def __init__(self, qemu_version):
        self.qemu_version, self.probes = qemu_version, 0

    def getVersion(self):  # pylint: disable=invalid-name
        return self.qemu_version

    def createXML(self, _xml, _flags):  # pylint: disable=invalid-name
        self.probes += 1
        raise libvirt_boot.libvirt.libvirtError('no KVM here')


@pytest.fixture(name='probe_kernel')
def fixture_probe_kernel(tmp_path, monkeypatch):
    device = tmp_path / 'kvm'
    device.write_text('')
    monkeypatch.setattr(libvirt_boot, 'KVM_DEVICE', str(device))
    monkeypatch.setattr(libvirt_boot, 'PROBE_VERDICT', str(tmp_path / 'run' / 'kvm-verdict.json'))
    (tmp_path / 'kvm-probe').mkdir()
    kernel = tmp_path / 'kvm-probe' / 'vmlinuz-amd64'
    kernel.write_bytes(b'kernel')
    return str(kernel)


@pytest.mark.skipif(not libvirt_boot.HAS_LIBVIRT, reason='libvirt-python is not installed')
def test_the_second_kvm_probe_reads_the_cached_verdict(probe_kernel):
    conn = ProbeConnection(8002002)
    first = libvirt_boot.probe_kvm(conn, probe_kernel, timeout=1)
    assert first == (False, 'KVM present but a Linux kernel did not start under it within 1 s') and conn.probes == 1
    assert libvirt_boot.probe_kvm(conn, probe_kernel, timeout=1) == first and conn.probes == 1
    with open(libvirt_boot.PROBE_VERDICT, encoding='utf-8') as f:
        verdict = json.load(f)
    assert verdict['host']['kernel'] == os.uname().release and verdict['host']['qemu'] == 8002002
    # The host's verdict: a build from another cache directory, without a probe kernel yet, reads it too.
    assert libvirt_boot.probe_kvm(conn, '/nonexistent/kvm-probe/vmlinuz-amd64', timeout=1) == first
    assert conn.probes == 1


@pytest.mark.skipif(not libvirt_boot.HAS_LIBVIRT, reason='libvirt-python is not installed')
def test_the_kvm_verdict_is_probed_again_for_another_qemu_or_when_it_is_old(probe_kernel, monkeypatch):
    conn = ProbeConnection(8002002)
    libvirt_boot.probe_kvm(conn, probe_kernel, timeout=1)
    conn.qemu_version = 9000000
    libvirt_boot.probe_kvm(conn, probe_kernel, timeout=1)
    assert conn.probes == 2
    now = time.time()
    monkeypatch.setattr(libvirt_boot.time, 'time', lambda: now + libvirt_boot.PROBE_LIFETIME + 1)
    libvirt_boot.probe_kvm(conn, probe_kernel, timeout=1)
    assert conn.probes == 3
