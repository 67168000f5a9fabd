"""apt_fetch: a failed download in apt's, mmdebstrap's or debootstrap's output becomes one line naming the mirror,
what happened and what to do. The samples are real output (apt 2.6.1, mmdebstrap 1.3.5, debootstrap 1.0.128)."""

import pytest

from ansible_collections.osimage.builder.plugins.filter.apt_fetch import apt_fetch as task_filter
from ansible_collections.osimage.builder.plugins.module_utils import apt_fetch
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

# apt-get install against the test mirror dying mid-download, with Acquire::Retries "2".
DIED = '''Get:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0 [666 B]
Ign:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0
Get:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0 [666 B]
Ign:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0
Get:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0 [666 B]
Err:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0
  Undetermined Error [IP: 127.0.0.1 43677]
E: Failed to fetch http://127.0.0.1:43677/pool/osimage-hello_1.0_all.deb  Undetermined Error [IP: 127.0.0.1 43677]
E: Some files failed to download
'''
CORRUPT = '''Get:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0 [666 B]
Err:1 http://127.0.0.1:43677 osimage/main amd64 osimage-hello all 1.0
  Hash Sum mismatch
E: Failed to fetch http://127.0.0.1:43677/pool/osimage-hello_1.0_all.deb  Hash Sum mismatch
   Hashes of expected file:
    - SHA256:578418ab76f22c23f37828dedc757a2fe2af8816da18e5eb60c2806ace262693
    - Filesize:666 [weak]
   Hashes of received file:
    - SHA256:79757ab71f467c73d79bbbf16a12e5e9931374a77e970d7396f8c2b6b3d74ff8
    - Filesize:666 [weak]
E: Some files failed to download
'''
SAMPLES = [
    (DIED, 'http://127.0.0.1:43677/', 'broke off the download (Undetermined Error) fetching '
     'pool/osimage-hello_1.0_all.deb after 2 retries'),
    (CORRUPT, 'http://127.0.0.1:43677/', 'served a corrupted file (Hash Sum mismatch)'),
    ('E: Failed to fetch http://deb.debian.org/debian/pool/main/a/apt/apt_2.6.1_amd64.deb  File has unexpected size '
     '(1397760 != 1400528). Mirror sync in progress? [IP: 151.101.2.132 80]\n',
     'http://deb.debian.org/debian/', 'served a file of the wrong size (File has unexpected size (1397760 != '
     '1400528). Mirror sync in progress?) fetching pool/main/a/apt/apt_2.6.1_amd64.deb'),
    ('Err:3 http://mirror.example:8080/debian bookworm/main amd64 zstd amd64 1.5.4+dfsg2-5\n  404  Not Found '
     '[IP: 10.0.0.1 8080]\nE: Failed to fetch http://mirror.example:8080/debian/pool/main/libz/libzstd/'
     'zstd_1.5.4+dfsg2-5_amd64.deb  404  Not Found [IP: 10.0.0.1 8080]\n',
     'http://mirror.example:8080/debian/', 'does not have the file (404  Not Found)'),
    ('W: Failed to fetch http://127.0.0.1:9/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1). '
     '- connect (111: Connection refused)\n', 'http://127.0.0.1:9/', 'could not be reached'),
    ('E: Failed to fetch https://deb.example.org/ubuntu/pool/main/s/systemd/systemd_255_amd64.deb  Connection failed '
     '[IP: 10.1.2.3 443]\n', 'https://deb.example.org/ubuntu/', 'broke off the download (Connection failed)'),
    # debootstrap: a download that failed, and one that stayed corrupt after its own retries.
    ("W: Couldn't download package zstd (ver 1.5.4+dfsg2-5 arch amd64) at "
     "http://127.0.0.1:41000/pool/zstd_1.5.4+dfsg2-5_amd64.deb\nE: Couldn't download packages: zstd\n",
     'http://127.0.0.1:41000/', "broke off the download (Couldn't download) fetching pool/zstd_1.5.4+dfsg2-5_amd64.deb"),
    ('W: Retrying failed download of http://127.0.0.1:41000/pool/zstd_1.5.4+dfsg2-5_amd64.deb\n'
     'W: Retrying failed download of http://127.0.0.1:41000/pool/zstd_1.5.4+dfsg2-5_amd64.deb\n'
     'W: http://127.0.0.1:41000/pool/zstd_1.5.4+dfsg2-5_amd64.deb was corrupt\n',
     'http://127.0.0.1:41000/', 'served a corrupted file (was corrupt) fetching pool/zstd_1.5.4+dfsg2-5_amd64.deb '
     'after 2 retries'),
    ('E: Failed getting release file http://127.0.0.1:41000/dists/bookworm/Release\n',
     'http://127.0.0.1:41000/', 'fetching dists/bookworm/Release'),
]


@pytest.mark.parametrize('text,mirror,said', SAMPLES)
def test_a_failed_download_names_the_mirror_what_happened_and_what_to_do(text, mirror, said):
    line = apt_fetch.explain(text)
    assert line.startswith('the mirror %s ' % mirror) and said in line, line
    assert line.endswith('check that the mirror is up and complete (or use another), then build again')
    assert '\n' not in line and '[IP:' not in line


def test_output_without_a_failed_download_is_not_explained():
    assert apt_fetch.explain('E: Unable to locate package nosuch\n') is None
    assert apt_fetch.explain('') is None


def test_an_ignored_index_is_not_counted_as_a_retry():
    text = 'Ign:2 http://127.0.0.1:43677 osimage/main Translation-en\n' + CORRUPT
    assert 'retr' not in apt_fetch.explain(text)


def test_the_retries_are_those_of_one_file_not_the_sum():
    second = DIED.replace(':1 ', ':2 ').replace('osimage-hello', 'osimage-bye')
    assert apt_fetch.explain(DIED + second).endswith(
        'osimage-hello_1.0_all.deb after 2 retries; check that the mirror is up and complete (or use another), then '
        'build again')


class FailedModule:
    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs['msg'])


def test_every_module_s_failed_command_explains_a_failed_download():
    with pytest.raises(RuntimeError) as failed:
        Runner(FailedModule()).fail(['/usr/bin/mmdebstrap', 'bookworm'], 1, '', DIED)
    first = str(failed.value).splitlines()[0]
    assert first.startswith('mmdebstrap failed (exit 1): the mirror http://127.0.0.1:43677/ broke off the download')
    assert 'after 2 retries' in first


def test_python_apt_s_one_line_cache_update_error_is_explained():
    # ansible.builtin.apt's update_cache failure: python-apt joins apt's messages on one line.
    line = apt_fetch.explain('Failed to update apt cache: W:Failed to fetch http://127.0.0.1:40001/dists/osimage/'
                             'InRelease  Could not connect to 127.0.0.1:40001 (127.0.0.1). - connect (111: Connection '
                             'refused), W:Some index files failed to download. They have been ignored, or old ones '
                             'used instead.')
    assert line.startswith('the mirror http://127.0.0.1:40001/ could not be reached (Could not connect to ')
    assert 'W:' not in line and 'fetching dists/osimage/InRelease;' in line


def test_the_filter_tells_a_failed_apt_task_or_keeps_its_message():
    said = task_filter({'msg': "'/usr/bin/apt-get -y install osimage-hello' failed: " + CORRUPT.splitlines()[3],
                        'stderr': CORRUPT, 'stdout': ''})
    assert said.startswith('the mirror http://127.0.0.1:43677/ served a corrupted file (Hash Sum mismatch)')
    assert task_filter({'msg': 'No package matching nosuch'}) == 'No package matching nosuch'
