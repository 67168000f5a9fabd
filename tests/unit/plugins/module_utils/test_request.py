"""The request schema: defaults, resolution and an error that names every bad key."""

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import request as req


def errors_of(request):
    with pytest.raises(req.RequestError) as info:
        req.validate(request)
    return dict(info.value.errors)


def test_empty_request_is_the_default_image():
    resolved = req.resolve({}, cwd='/srv', build_id='abc123')
    assert (resolved['distro'], resolved['release'], resolved['arch']) == ('debian', 'bookworm', 'amd64')
    assert resolved['formats'] == ['qcow2']
    assert resolved['output_dir'] == '/srv/output/debian-bookworm'
    assert resolved['build_dir'] == '/var/tmp/osimage/abc123'
    assert resolved['disk']['size_bytes'] == 3 * 1024 ** 3
    root = [p for p in resolved['disk']['partitions'] if p.get('mountpoint') == '/']
    assert len(root) == 1 and len(root[0]['uuid']) == 36
    # No vcpus: the boot test gives its guests libvirt_boot.VCPUS by accelerator unless the request names them.
    assert resolved['boot_test'] == {'enabled': True, 'timeout': 300, 'accel': 'auto', 'memory_mib': 1024,
                                     'verify': True, 'firmware': 'auto', 'firmwares': ['bios', 'uefi']}


def test_mbr_layout_has_no_bios_boot_partition():
    parts = req.resolve({'disk': {'table': 'mbr'}})['disk']['partitions']
    assert [p['type'] for p in parts] == ['linux'] and parts[0]['bootable']


@pytest.mark.parametrize('request_,key,words', [
    ({'colour': 'red'}, 'colour', 'unknown key'),
    ({'disk': {'sizee': '4G'}}, 'disk.sizee', 'unknown key'),
    ({'distro': 'gentoo'}, 'distro', 'choose one of: debian'),
    ({'release': 'sid'}, 'release', 'bookworm, trixie'),
    ({'formats': ['iso9660']}, 'formats[0]', 'choose one of'),
    ({'formats': []}, 'formats', 'not valid'),
    ({'hostname': 'bad_host!'}, 'hostname', 'host name'),
    ({'users': [{'name': 'Bad User'}]}, 'users[0].name', 'user name'),
    ({'users': [{'shell': '/bin/sh'}]}, 'users[0]', 'required'),
    ({'users': [{'name': 'root'}]}, 'users[0].name', 'root'),
    ({'packages': {'install': ['vim; rm -rf /']}}, 'packages.install[0]', 'package names'),
    ({'disk': {'size': 'huge'}}, 'disk.size', 'not a size'),
    ({'disk': {'size': '100MiB'}}, 'disk.size', 'out of range'),
    ({'kernel_cmdline': ['quiet; reboot']}, 'kernel_cmdline[0]', 'without spaces'),
    ({'boot_test': {'timeout': 1}}, 'boot_test.timeout', 'seconds from 10'),
    ({'output_dir': '/'}, 'output_dir', 'system directory'),
    ({'root_password': 'x', 'root_password_hash': '$6$x$y'}, 'root_password', 'not both'),
    ({'mirror': 'ftp://example.org/debian'}, 'mirror', 'URL'),
    ({'boot_test': {'verify_tasks': 'checks.yml'}}, 'boot_test.verify_tasks', 'absolute path'),
    ({'boot_test': {'verify_tasks': '/nonexistent/checks.yml'}}, 'boot_test.verify_tasks', 'does not exist'),
])
def test_bad_keys_are_named_with_the_fix(request_, key, words):
    errors = errors_of(request_)
    assert key in errors, errors
    assert words in errors[key]


def test_every_error_is_reported_at_once():
    errors = errors_of({'colour': 'red', 'formats': ['iso9660'], 'hostname': '-x-'})
    assert set(errors) == {'colour', 'formats[0]', 'hostname'}


def test_a_request_must_be_a_mapping():
    assert 'mapping' in errors_of(['debian'])['(top level)']


def test_passwords_are_hashed_and_never_kept_in_plain_text():
    resolved = req.resolve({'root_password': 'hunter2', 'users': [{'name': 'ada', 'password': 's3cret'}]})
    assert 'root_password' not in resolved and resolved['root_password_hash'].startswith('$6$')
    assert 'password' not in resolved['users'][0] and resolved['users'][0]['password_hash'].startswith('$6$')
    public = req.redact(resolved)
    assert 'hunter2' not in repr(public) and resolved['root_password_hash'] not in repr(public)


def test_secret_values_are_not_echoed_in_errors():
    errors = errors_of({'root_password': 12345})
    assert '12345' not in errors['root_password']


def test_unknown_extra_vars_ignore_internal_ones():
    assert req.unknown_keys({'distro': 'debian', 'ansible_python_interpreter': 'x', 'awx_job_id': 1,
                             'osimage_build_id': 'x', 'flavour': 1}) == ['flavour']


def test_schema_and_semantic_errors_come_together():
    errors = errors_of({'colour': 'red', 'release': 'sid', 'disk': {'size': 'huge'}})
    assert set(errors) == {'colour', 'release', 'disk.size'}


def test_boot_test_firmware_must_fit_the_disk():
    assert 'boot_test.firmware' in errors_of({'disk': {'firmware': 'bios'}, 'boot_test': {'firmware': 'uefi'}})
    assert req.resolve({'disk': {'secure_boot': True}})['boot_test']['firmwares'] == ['bios', 'uefi_secure']
    assert 'choose one of' in errors_of({'boot_test': {'firmware': 'coreboot'}})['boot_test.firmware']
    assert req.resolve({'boot_test': {'firmware': 'bios'}})['boot_test']['firmwares'] == ['bios']
