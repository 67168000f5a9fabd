"""Preflight: a build stops early, with the numbers, when its directories lack the space it needs, and naming the
key to change when a mirror or repository does not serve an index the build reads or serves an expired one."""

import functools
import http.server
import os
import threading

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import bootstrap, build_stamp, preflight, release_index
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.request_schema import RequestError
from ansible_collections.osimage.builder.plugins.modules import debian_bootstrap

GIB = 1024 ** 3
KEY_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))), 'data',
                        'repo-key.asc')


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


def test_a_file_mirror_that_lacks_a_suite_is_named(tmp_path):
    (tmp_path / 'dists' / 'bookworm-updates').mkdir(parents=True)
    (tmp_path / 'dists' / 'bookworm-updates' / 'Release').write_text('Suite: oldstable-updates\n')
    request = resolved(tmp_path, mirror='file://%s' % tmp_path, location={'security_mirror': 'file://%s' % tmp_path})
    assert preflight.mirror_errors(request) == [
        ('location.mirror', 'file://%s/dists/bookworm/Release does not exist' % tmp_path),
        ('location.security_mirror', 'file://%s/dists/bookworm-security/Release does not exist' % tmp_path)]


def test_an_rpm_mirror_is_probed_for_each_repository_of_the_release(tmp_path):
    (tmp_path / '9' / 'BaseOS' / 'x86_64' / 'os' / 'repodata').mkdir(parents=True)
    (tmp_path / '9' / 'BaseOS' / 'x86_64' / 'os' / 'repodata' / 'repomd.xml').write_text('<repomd/>')
    request = resolved(tmp_path, distro='rocky', release='9', mirror='file://%s' % tmp_path)
    [(key, message)] = preflight.mirror_errors(request)
    assert key == 'location.mirror'
    assert message == 'file://%s/9/AppStream/x86_64/os/repodata/repomd.xml does not exist' % tmp_path


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
    errors = preflight.mirror_errors(request, timeout=5)
    assert [key for key, message in errors] == ['location.mirror', 'location.mirror', 'location.security_mirror']
    assert all(message.startswith('cannot fetch http://deb.debian.org/') for key, message in errors)


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
    assert key == 'location.mirror'
    assert message == ('file://%s/dists/forky/Release expired on Fri, 06 Nov 2026 08:08:01 UTC (its Valid-Until): apt '
                       'refuses it, so this mirror is stale or a snapshot; point location.mirror at a current mirror, '
                       'or set location.mirror_snapshot: true to build from a snapshot' % tmp_path)
    (suite / 'Release').write_text('Suite: testing\nValid-Until: Sat, 06 Nov 2100 08:08:01 UTC\n')
    assert preflight.mirror_errors(request) == []
    (suite / 'Release').write_text('Suite: stable\n')  # stable suites carry no Valid-Until
    assert preflight.mirror_errors(request) == []


PAST, FUTURE = 'Fri, 06 Nov 2026 08:08:01 UTC', 'Sat, 13 Dec 2100 02:54:29 UTC'


class _Recording(http.server.SimpleHTTPRequestHandler):
    """Serves the whole file even when asked for a range (as the mirrors these machines reach do)."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.seen.append((self.command, self.path, self.headers.get('Range')))

    def copyfile(self, source, outputfile):
        try:
            super().copyfile(source, outputfile)
        except ConnectionError:
            pass  # the client read what it needed and hung up


@pytest.fixture
def mirror(tmp_path):
    """A Debian mirror and security mirror on 127.0.0.1 (one server, /debian and /debian-security) with bookworm's
    three suites, each Release valid until 2100 but bookworm-security's, which expired on PAST; and an extra
    repository (/extra, suite stable, valid until 2100). The server records (method, path, Range) of each request."""
    for path, until in (('debian/dists/bookworm', FUTURE), ('debian/dists/bookworm-updates', FUTURE),
                        ('debian-security/dists/bookworm-security', PAST), ('extra/dists/stable', FUTURE)):
        (tmp_path / 'www' / path).mkdir(parents=True)
        # Valid-Until among the first lines, then the index list that makes a Release long
        (tmp_path / 'www' / path / 'Release').write_text('Suite: %s\nValid-Until: %s\nSHA256:\n%s' % (
            path.rsplit('/', 1)[1], until, ' %s 1234 main/binary-amd64/Packages\n' % ('0' * 64) * 2000))
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_Recording, directory=str(tmp_path / 'www')))
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = 'http://127.0.0.1:%d' % server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()


def http_request(tmp_path, mirror, **location):
    return resolved(tmp_path, location=dict({'mirror': mirror.url + '/debian',
                                             'security_mirror': mirror.url + '/debian-security'}, **location),
                    repositories=[{'name': 'extra', 'uri': mirror.url + '/extra', 'suites': ['stable'],
                                   'key_file': KEY_FILE}])


def test_every_suite_the_bootstrap_reads_is_checked_for_expiry_with_one_small_read_each(tmp_path, mirror):
    request = http_request(tmp_path, mirror)
    assert preflight.mirror_errors(request) == [(
        'location.security_mirror',
        '%s/debian-security/dists/bookworm-security/Release expired on %s (its Valid-Until): apt refuses it, so this '
        'mirror is stale or a snapshot; point location.security_mirror at a current mirror, or set '
        'location.mirror_snapshot: true to build from a snapshot' % (mirror.url, PAST))]
    # one GET of each suite's Release, asking for its head only (its Valid-Until), not the whole index list
    assert sorted(mirror.seen) == [('GET', '/debian-security/dists/bookworm-security/Release', 'bytes=0-8191'),
                                   ('GET', '/debian/dists/bookworm-updates/Release', 'bytes=0-8191'),
                                   ('GET', '/debian/dists/bookworm/Release', 'bytes=0-8191')]
    with pytest.raises(RequestError) as err:
        preflight.check(dict(request, work_dir=str(tmp_path), cache_dir=str(tmp_path), output_dir=str(tmp_path)))
    assert "request key 'location.security_mirror'" in str(err.value) and PAST in str(err.value)


def test_a_snapshot_mirror_is_not_refused_for_its_expired_suites(tmp_path, mirror):
    request = http_request(tmp_path, mirror, mirror_snapshot=True)
    assert preflight.mirror_errors(request) == []
    # apt reads it with expiry checks off while the image is built, the bootstrap too (mmdebstrap's --aptopt)
    assert request['os']['snapshot_config'] == 'Acquire::Check-Valid-Until "false";'
    args = request['bootstrap']['args']
    assert args['apt_options'] == ['Acquire::Check-Valid-Until "false";']
    assert '--aptopt=Acquire::Check-Valid-Until "false";' in debian_bootstrap.bootstrap_argv(
        dict(args, retries=3), '/target', None)
    assert http_request(tmp_path, mirror)['bootstrap']['args']['apt_options'] == []


def test_the_snapshot_setting_does_not_change_the_bootstrap_cache_entry(tmp_path, mirror):
    assert bootstrap.request_fingerprint(http_request(tmp_path, mirror, mirror_snapshot=True)) == \
        bootstrap.request_fingerprint(http_request(tmp_path, mirror))


def test_an_expired_repository_is_named_and_its_index_read_once_for_preflight_and_fingerprint(tmp_path, mirror):
    request = http_request(tmp_path, mirror)
    indexes = release_index.repositories(request)
    assert preflight.repository_errors(request, indexes) == []
    assert build_stamp.repository_indexes(request, indexes) == build_stamp.repository_indexes(request)
    (tmp_path / 'www' / 'extra' / 'dists' / 'stable' / 'Release').write_text('Valid-Until: %s\n' % PAST)
    # the snapshot setting is the mirror's: a repository of the request's own is checked all the same
    request = http_request(tmp_path, mirror, mirror_snapshot=True)
    assert preflight.repository_errors(request) == [(
        'repositories[0].uri', '%s/extra/dists/stable/Release expired on %s (its Valid-Until): apt refuses it; ask '
                               'for a current copy of the repository or remove it' % (mirror.url, PAST))]
