# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVF 1.0 descriptors and OVA packages: write one for a streamOptimized vmdk, and read one back to check it.

An OVA is a ustar archive whose first member is the descriptor (.ovf), followed by the manifest (.mf,
one ``SHA256(file)= hex`` line per file), then the disk, as the OVF 1.0 specification (DSP0243) requires.
The virtual hardware is what both VMware and VirtualBox import: an LSI Logic SCSI controller, an E1000 NIC.
The guest operating system comes from the distro table (distros.py, ``ovf``): a CIM OSType id and VMware's guest id.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from xml.etree import ElementTree

OVF = 'http://schemas.dmtf.org/ovf/envelope/1'
RASD = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData'
VSSD = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData'
VMW = 'http://www.vmware.com/schema/ovf'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized'
# The OperatingSystemSection of a descriptor for which no distribution is named: CIM OSType 101 "Linux 64-Bit".
GENERIC_OS = {'cim': '101', 'vmware': 'otherLinux64Guest', 'description': 'Linux (64-bit)'}
MF_LINE = re.compile(r'^SHA256\((?P<name>[^)]+)\)= (?P<hex>[0-9a-f]{64})$')
CHUNK = 4 * 1024 * 1024
USTAR_MAGIC = b'ustar\x0000'

for _prefix, _uri in (('ovf', OVF), ('rasd', RASD), ('vssd', VSSD), ('vmw', VMW), ('xsi', XSI)):
    ElementTree.register_namespace(_prefix, _uri)


def _q(ns, tag):
    return '{%s}%s' % (ns, tag)


def _sub(parent, ns, tag, text=None, **attrs):
    node = ElementTree.SubElement(parent, _q(ns, tag), {_q(OVF, k): str(v) for k, v in attrs.items()})
    if text is not None:
        node.text = str(text)
    return node


def _item(hardware, **fields):
    item = _sub(hardware, OVF, 'Item')
    for key in sorted(fields):  # rasd elements in alphabetical order, as the CIM schema's sequence has them
        _sub(item, RASD, key, fields[key])
    return item


def descriptor(name, disk_file, disk_bytes, capacity, memory_mib=1024, vcpus=2, os_type=None):
    """The OVF 1.0 descriptor (bytes) of one virtual machine with one streamOptimized disk; ``os_type`` is the
    distribution's {cim, vmware, description} (default GENERIC_OS)."""
    os_type = os_type or GENERIC_OS
    env = ElementTree.Element(_q(OVF, 'Envelope'), {_q(OVF, 'version'): '1.0'})
    refs = _sub(env, OVF, 'References')
    _sub(refs, OVF, 'File', href=disk_file, id='file1', size=disk_bytes)
    disks = _sub(env, OVF, 'DiskSection')
    _sub(disks, OVF, 'Info', 'Virtual disks')
    _sub(disks, OVF, 'Disk', capacity=capacity, capacityAllocationUnits='byte', diskId='vmdisk1',
         fileRef='file1', format=STREAM_OPTIMIZED)
    nets = _sub(env, OVF, 'NetworkSection')
    _sub(nets, OVF, 'Info', 'Logical networks')
    net = _sub(nets, OVF, 'Network', name='nat')
    _sub(net, OVF, 'Description', 'The network of the first adapter')
    system = _sub(env, OVF, 'VirtualSystem', id=name)
    _sub(system, OVF, 'Info', 'A virtual machine built by osimage')
    _sub(system, OVF, 'Name', name)
    os_section = _sub(system, OVF, 'OperatingSystemSection', id=os_type['cim'])
    os_section.set(_q(VMW, 'osType'), os_type['vmware'])
    _sub(os_section, OVF, 'Info', 'The guest operating system')
    _sub(os_section, OVF, 'Description', os_type['description'])
    hardware = _sub(system, OVF, 'VirtualHardwareSection')
    _sub(hardware, OVF, 'Info', 'Virtual hardware requirements')
    vsys = _sub(hardware, OVF, 'System')
    for key, value in (('ElementName', 'Virtual Hardware Family'), ('InstanceID', '0'),
                       ('VirtualSystemIdentifier', name), ('VirtualSystemType', 'vmx-10')):
        _sub(vsys, VSSD, key, value)
    _item(hardware, AllocationUnits='hertz * 10^6', Description='Number of virtual CPUs',
          ElementName='%d virtual CPU(s)' % vcpus, InstanceID='1', ResourceType='3', VirtualQuantity=vcpus)
    _item(hardware, AllocationUnits='byte * 2^20', Description='Memory size', ElementName='%d MB of memory' % memory_mib,
          InstanceID='2', ResourceType='4', VirtualQuantity=memory_mib)
    _item(hardware, Address='0', Description='SCSI controller', ElementName='SCSI controller 0', InstanceID='3',
          ResourceSubType='lsilogic', ResourceType='6')
    _item(hardware, AddressOnParent='0', ElementName='disk0', HostResource='ovf:/disk/vmdisk1', InstanceID='4',
          Parent='3', ResourceType='17')
    _item(hardware, AddressOnParent='0', AutomaticAllocation='true', Connection='nat', Description='E1000 ethernet adapter',
          ElementName='ethernet0', InstanceID='5', ResourceSubType='E1000', ResourceType='10')
    ElementTree.indent(env)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(env, encoding='utf-8') + b'\n'


def manifest(digests):
    """The .mf text for {file name: sha256 hex}, in the given order."""
    return ''.join('SHA256(%s)= %s\n' % (name, hexd) for name, hexd in digests.items()).encode('ascii')


def _sha256(fileobj):
    digest = hashlib.sha256()
    for block in iter(lambda: fileobj.read(CHUNK), b''):
        digest.update(block)
    return digest.hexdigest()


def read_back(path):
    """Check an OVA: member order, descriptor, manifest hashes, referenced files and sizes.

    Returns {'members': [...], 'capacity': int, 'disk': name, 'os_type': {cim, vmware, description}}; raises
    ValueError naming what is wrong.
    """
    with open(path, 'rb') as f:
        if f.read(512)[257:265] != USTAR_MAGIC:
            raise ValueError('the archive is not in ustar format')
    with tarfile.open(path, 'r:') as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        if len(names) < 3 or not names[0].endswith('.ovf') or not names[1].endswith('.mf'):
            raise ValueError('members are %s; the .ovf must come first and the .mf second' % names)
        if not all(m.isreg() for m in members):
            raise ValueError('every member must be a regular file')
        root = ElementTree.fromstring(tar.extractfile(members[0]).read())
        listed = {}
        for line in tar.extractfile(members[1]).read().decode('ascii').splitlines():
            match = MF_LINE.match(line)
            if not match:
                raise ValueError('manifest line %r is not SHA256(file)= hex' % line)
            listed[match['name']] = match['hex']
        actual = {m.name: _sha256(tar.extractfile(m)) for m in members if m.name != names[1]}
        sizes = {m.name: m.size for m in members}
    if root.tag != _q(OVF, 'Envelope') or root.get(_q(OVF, 'version')) != '1.0':
        raise ValueError('the descriptor is not an OVF 1.0 Envelope')
    if listed != actual:
        raise ValueError('manifest hashes %s do not match the members %s' % (listed, actual))
    files = {f.get(_q(OVF, 'id')): f for f in root.iter(_q(OVF, 'File'))}
    for ref in files.values():
        href, size = ref.get(_q(OVF, 'href')), int(ref.get(_q(OVF, 'size')))
        if sizes.get(href) != size:
            raise ValueError('%s is referenced with %d bytes but the archive holds %s' % (href, size, sizes.get(href)))
    disks = list(root.iter(_q(OVF, 'Disk')))
    if len(disks) != 1 or disks[0].get(_q(OVF, 'format')) != STREAM_OPTIMIZED \
            or disks[0].get(_q(OVF, 'fileRef')) not in files:
        raise ValueError('the descriptor must have one streamOptimized disk referencing a file of the archive')
    disk_file = files[disks[0].get(_q(OVF, 'fileRef'))].get(_q(OVF, 'href'))
    os_sections = list(root.iter(_q(OVF, 'OperatingSystemSection')))
    if len(os_sections) != 1:
        raise ValueError('the descriptor must have one OperatingSystemSection, not %d' % len(os_sections))
    os_type = {'cim': os_sections[0].get(_q(OVF, 'id')), 'vmware': os_sections[0].get(_q(VMW, 'osType')),
               'description': os_sections[0].findtext(_q(OVF, 'Description'))}
    return {'members': names, 'capacity': int(disks[0].get(_q(OVF, 'capacity'))), 'disk': disk_file,
            'os_type': os_type}
