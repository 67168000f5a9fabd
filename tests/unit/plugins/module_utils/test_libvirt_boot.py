"""The console match that decides when a guest is up."""

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


def test_bios_guest_boots_seabios_on_pc():
    xml = libvirt_boot.domain_xml('d', 'qemu', '/c.log', 512, 1, disk='/o.qcow2', disk_format='qcow2')
    assert 'machine="pc"' in xml and "<bios useserial='yes'/>" in xml and '<loader' not in xml


def test_uefi_guest_gets_ovmf_and_its_own_variable_store(tmp_path):
    loader, nvram = libvirt_boot.firmware_files('uefi', str(tmp_path))
    assert loader == '/usr/share/OVMF/OVMF_CODE_4M.fd'
    assert nvram == str(tmp_path / 'OVMF_VARS.fd') and (tmp_path / 'OVMF_VARS.fd').stat().st_size > 0
    xml = libvirt_boot.domain_xml('d', 'qemu', '/c.log', 512, 1, disk='/o.qcow2', disk_format='qcow2',
                                  firmware='uefi', loader=loader, nvram=nvram)
    assert 'machine="pc"' in xml and 'secure="no"' in xml and '<nvram>%s</nvram>' % nvram in xml
    assert '<bios' not in xml and '<smm' not in xml


def test_secure_boot_guest_is_q35_with_smm_and_microsoft_keys(tmp_path):
    loader, nvram = libvirt_boot.firmware_files('uefi_secure', str(tmp_path))
    assert loader.endswith('OVMF_CODE_4M.secboot.fd')
    assert (tmp_path / 'OVMF_VARS.fd').read_bytes() == open('/usr/share/OVMF/OVMF_VARS_4M.ms.fd', 'rb').read()
    xml = libvirt_boot.domain_xml('d', 'qemu', '/c.log', 512, 1, disk='/o.qcow2', disk_format='qcow2',
                                  firmware='uefi_secure', loader=loader, nvram=nvram)
    assert 'machine="q35"' in xml and 'secure="yes"' in xml and "<smm state='on'/>" in xml
    assert 'bus=pcie.0' in xml


def test_missing_ovmf_is_a_clear_error(tmp_path):
    with pytest.raises(libvirt_boot.BootError, match='install the ovmf package'):
        libvirt_boot.firmware_files('uefi', str(tmp_path), ovmf_dir=str(tmp_path / 'none'))


def test_an_iso_is_a_read_only_cdrom_the_guest_boots_from():
    from xml.etree import ElementTree  # pylint: disable=import-outside-toplevel
    for firmware, loader in (('bios', None), ('uefi', '/usr/share/OVMF/OVMF_CODE_4M.fd')):
        xml = libvirt_boot.domain_xml('osimage-x', 'qemu', '/tmp/console.log', 1024, 2, disk='/srv/live.iso',
                                      disk_format='qcow2', firmware=firmware, loader=loader, nvram='/tmp/vars.fd',
                                      boot_cdrom=True)
        root = ElementTree.fromstring(xml)
        (disk,) = root.iter('disk')
        assert disk.get('device') == 'cdrom' and disk.find('readonly') is not None
        assert disk.find('target').get('bus') == 'sata' and disk.find('driver').get('type') == 'raw'
        assert [b.get('dev') for b in root.iter('boot')] == ['cdrom']
