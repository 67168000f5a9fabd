"""atomic: a destination is either its previous content or the new one, never half of it or a leftover."""

import fnmatch
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import atomic


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
    dest = tmp_path / 'manifest.json'
    dest.write_text('old')
    atomic.write_text(str(dest), '{"new": true}\n')
    assert dest.read_text() == '{"new": true}\n' and os.listdir(tmp_path) == ['manifest.json']


def test_a_failed_write_keeps_the_previous_file_and_removes_the_temporary(tmp_path):
    dest = tmp_path / 'disk.qcow2'
    dest.write_text('previous image')
    with pytest.raises(OSError):
        with atomic.replacing(str(dest)) as tmp:
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write('half an ima')
            raise OSError('No space left on device')
    assert dest.read_text() == 'previous image' and os.listdir(tmp_path) == ['disk.qcow2']


def test_the_temporary_name_is_beside_the_destination_where_leftovers_looks_for_it(tmp_path):
    tmp = atomic.temp_name(str(tmp_path / 'img.raw'))
    assert os.path.dirname(tmp) == str(tmp_path) and tmp.endswith('.tmp-%d' % os.getpid())
    assert fnmatch.fnmatch(os.path.basename(tmp), '*.tmp-[0-9]*')  # the pattern leftovers.release removes
