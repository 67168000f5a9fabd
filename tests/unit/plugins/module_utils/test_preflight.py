"""Preflight: a build stops early, with the numbers, when its directories lack the space it needs."""

from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import request as req

GIB = 1024 ** 3


def resolved(tmp_path, formats=('qcow2',), **keys):
    return req.resolve(dict({'work_dir': str(tmp_path / 'work'), 'cache_dir': str(tmp_path / 'cache'),
                             'output_dir': str(tmp_path / 'out'), 'formats': list(formats)}, **keys))


def test_enough_space_passes(tmp_path):
    assert preflight.space_errors(resolved(tmp_path), free=lambda path: 100 * GIB) == []


def test_too_little_space_names_the_keys_and_the_numbers(tmp_path):
    errors = preflight.space_errors(resolved(tmp_path, ('qcow2', 'vmdk')), free=lambda path: GIB)
    assert len(errors) == 1
    key, message = errors[0]
    assert key == 'work_dir'
    assert 'with cache_dir, output_dir on the same file system' in message
    assert 'has 1.0 GiB free' in message and 'needs about 6.5 GiB' in message
    assert 'work_dir 3.0 GiB, cache_dir 1.5 GiB, output_dir 2.0 GiB' in message


def test_the_estimate_follows_the_disk_size_and_the_formats(tmp_path):
    assert preflight.needs(resolved(tmp_path)) == {'work_dir': 3 * GIB, 'cache_dir': 1.5 * GIB, 'output_dir': GIB}
    request = resolved(tmp_path, packages={'install': ['pkg%d' % i for i in range(100)]},
                       formats=['qcow2', 'raw', 'ova', 'iso'])
    tree = GIB + len(request['packages']['install']) * preflight.PACKAGE  # 100 and what the defaults add
    big = preflight.needs(request)
    # each package adds to the tree; the ISO's staging and the OVA's vmdk take work_dir space too
    assert big == {'work_dir': 5 * tree, 'cache_dir': 1.5 * GIB, 'output_dir': 4 * tree}
    capped = preflight.needs(resolved(tmp_path, packages={'install': ['pkg%d' % i for i in range(100)]},
                                      disk={'size': '1GiB'}))
    assert capped['output_dir'] == GIB, 'the tree never outgrows the disk'


def test_a_file_mirror_that_lacks_the_release_is_named(tmp_path):
    request = resolved(tmp_path, mirror='file://%s' % tmp_path)
    [(key, message)] = preflight.mirror_errors(request)
    assert key == 'mirror' and 'dists/bookworm/Release does not exist' in message


def test_an_rpm_mirror_is_probed_for_each_repository_of_the_release(tmp_path):
    (tmp_path / '9' / 'BaseOS' / 'x86_64' / 'os' / 'repodata').mkdir(parents=True)
    (tmp_path / '9' / 'BaseOS' / 'x86_64' / 'os' / 'repodata' / 'repomd.xml').write_text('<repomd/>')
    request = resolved(tmp_path, distro='rocky', release='9', mirror='file://%s' % tmp_path)
    [(key, message)] = preflight.mirror_errors(request)
    assert key == 'mirror' and message == 'file://%s/9/AppStream/x86_64/os/repodata/repomd.xml does not exist' % tmp_path


def test_a_family_that_cannot_make_a_whole_image_is_refused_before_the_build(tmp_path):
    assert preflight.family_errors(resolved(tmp_path)) == []
    [(key, message)] = preflight.family_errors(resolved(tmp_path, distro='opensuse-leap', release='15.6'))
    assert key == 'distro' and 'suse family' in message and 'rpm_bootstrap' in message


def test_a_repository_that_does_not_serve_its_suite_is_named(tmp_path):
    (tmp_path / 'repo' / 'dists' / 'stable').mkdir(parents=True)
    (tmp_path / 'repo' / 'dists' / 'stable' / 'InRelease').write_text('signed')
    repos = [{'name': 'good', 'uri': 'file://%s/repo' % tmp_path, 'suites': ['stable']},
             {'name': 'bad', 'uri': 'file://%s/repo' % tmp_path, 'suites': ['stable', 'unstable']}]
    request = dict(resolved(tmp_path), repositories=repos)
    [(key, message)] = preflight.repository_errors(request)
    assert key == 'repositories[1].uri' and 'dists/unstable/InRelease' in message


def test_the_mirror_is_checked_through_the_proxy(tmp_path):
    request = dict(resolved(tmp_path), location={'proxy': 'http://127.0.0.1:9'})
    [(key, message)] = preflight.mirror_errors(request, timeout=5)
    assert key == 'mirror' and 'cannot fetch' in message


def test_an_rpm_repository_without_its_repomd_is_named(tmp_path):
    (tmp_path / 'good' / 'repodata').mkdir(parents=True)
    (tmp_path / 'good' / 'repodata' / 'repomd.xml').write_text('<repomd/>')
    repos = [{'name': 'good', 'uri': 'file://%s/good/' % tmp_path}, {'name': 'bad', 'uri': 'file://%s/bad' % tmp_path}]
    request = dict(resolved(tmp_path, distro='rocky', release='9'), repositories=repos)
    [(key, message)] = preflight.repository_errors(request)
    assert key == 'repositories[1].uri' and 'file://%s/bad/repodata/repomd.xml' % tmp_path in message
    assert 'the suite' not in message


def test_a_mirror_whose_release_expired_is_named_before_the_build(tmp_path):
    """apt refuses a Release past its Valid-Until (a stale mirror or a snapshot): named by validate, not mmdebstrap."""
    suite = tmp_path / 'dists' / 'forky'
    suite.mkdir(parents=True)
    (suite / 'Release').write_text('Origin: Debian\nSuite: testing\nDate: Fri, 30 Oct 2026 08:08:01 UTC\n'
                                   'Valid-Until: Fri, 06 Nov 2026 08:08:01 UTC\n')
    request = resolved(tmp_path, release='forky', mirror='file://%s' % tmp_path)
    [(key, message)] = preflight.mirror_errors(request)
    assert key == 'mirror'
    assert message == ('file://%s/dists/forky/Release expired on Fri, 06 Nov 2026 08:08:01 UTC (its Valid-Until): apt '
                       'refuses it, so this mirror is stale or a snapshot; point location.mirror at a current mirror'
                       % tmp_path)
    (suite / 'Release').write_text('Suite: testing\nValid-Until: Sat, 06 Nov 2100 08:08:01 UTC\n')
    assert preflight.mirror_errors(request) == []
    (suite / 'Release').write_text('Suite: stable\n')  # stable suites carry no Valid-Until
    assert preflight.mirror_errors(request) == []
