"""A retrofit request: the keys an existing image decides are refused by name, the rest come from the image."""

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import RETROFIT_REFUSED

IMAGE = {'distro': 'debian', 'release': 'trixie', 'arch': 'amd64', 'table': 'mbr', 'firmware': 'bios',
         'bytes': 2 * 1024 ** 3, 'mounts': [{'mountpoint': '/', 'filesystem': 'ext4', 'uuid': 'u-1', 'partition': 1}]}


def refused(request):
    with pytest.raises(req.RequestError) as err:
        req.resolve(request, cwd='/tmp', retrofit={})
    return err.value.errors


@pytest.mark.parametrize('request_,key', [
    ({'distro': 'ubuntu'}, 'distro'),
    ({'release': 'trixie'}, 'release'),
    ({'arch': 'arm64'}, 'arch'),
    ({'disk': {'size': '8GiB'}}, 'disk.size'),
    ({'disk': {'bootloader': 'extlinux'}}, 'disk.bootloader'),
    ({'disk': {'firmware': 'uefi'}}, 'disk.firmware'),
    ({'disk': {'partitions': [{'size': 'rest', 'filesystem': 'ext4', 'mountpoint': '/'}]}}, 'disk.partitions'),
    ({'kernel_cmdline': ['quiet']}, 'kernel_cmdline'),
    ({'formats': ['qcow2', 'iso']}, 'formats'),
    ({'formats': ['qcow2', 'oci']}, 'formats'),
    ({'location': {'security_mirror': 'http://mirror.example/debian-security'}}, 'location.security_mirror'),
])
def test_keys_an_image_decides_are_refused_by_name(request_, key):
    errors = refused(request_)
    assert [k for k, _msg in errors] == [key]
    assert 'remove' in errors[0][1]
    assert set(request_.get('formats', [])) - {'qcow2'} <= set(errors[0][1].split()), 'the format is named'


def test_every_refused_key_is_named_at_once_before_other_checks():
    errors = refused({'distro': 'debian', 'disk': {'size': '4GiB', 'table': 'gpt'}, 'hostname': 'not valid!'})
    assert {k for k, _msg in errors} == {'distro', 'disk.size', 'disk.table'}


def test_the_refused_keys_are_request_keys():
    for key in RETROFIT_REFUSED:
        top = key.split('.')[0].split('[')[0]
        assert top in req.KEYS, key


def test_a_build_still_takes_them():
    assert req.resolve({'release': 'trixie', 'disk': {'size': '4GiB'}}, cwd='/tmp')['release'] == 'trixie'


def test_the_image_gives_distro_release_arch_and_disk():
    resolved = req.resolve({'packages': {'install': ['tree']}, 'users': [{'name': 'ops'}]}, cwd='/tmp',
                           build_id='abcd1234', retrofit=IMAGE)
    assert (resolved['distro'], resolved['release'], resolved['arch']) == ('debian', 'trixie', 'amd64')
    assert resolved['disk']['firmware'] == 'bios' and resolved['disk']['table'] == 'mbr'
    assert resolved['disk']['packages'] == [] and resolved['disk']['grow'] is False
    assert resolved['disk']['mounts'] == [{'mountpoint': '/', 'filesystem': 'ext4', 'uuid': 'u-1'}]
    assert resolved['boot_test']['firmwares'] == ['bios']
    assert resolved['retrofit']['release'] == 'trixie' and 'mounts' not in resolved['retrofit']
    assert 'tree' in resolved['packages']['install']


def test_what_fsck_found_is_kept_for_the_manifest():
    fsck = [{'partition': 1, 'filesystem': 'ext4', 'dirty': True, 'repaired': True}]
    resolved = req.resolve({}, cwd='/tmp', build_id='abcd1234', retrofit=dict(IMAGE, fsck=fsck))
    assert resolved['retrofit']['fsck'] == fsck
