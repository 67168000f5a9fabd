"""write_files: a file is replaced whole (a symlink at its path too), keeps its owner; missing parents are made."""

import os

from ansible_collections.osimage.builder.plugins.modules import write_files


def test_a_symlink_at_the_path_is_replaced_and_its_target_untouched(tmp_path):
    target = tmp_path / 'target'
    target.write_text('host\n')
    link = tmp_path / 'link'
    link.symlink_to(target)
    assert write_files.current(str(link)) == (None, None)
    write_files.write(str(link), b'tree\n', 0o640, None)
    assert not link.is_symlink() and link.read_text() == 'tree\n' and target.read_text() == 'host\n'
    assert oct(link.stat().st_mode & 0o777) == '0o640'
    assert sorted(os.listdir(tmp_path)) == ['link', 'target']


def test_a_rewritten_file_keeps_its_owner_and_a_new_one_is_the_writers(tmp_path):
    path = tmp_path / 'f'
    path.write_text('old\n')
    os.chown(path, 1234, 4321)
    info, content = write_files.current(str(path))
    assert content == b'old\n'
    write_files.write(str(path), b'new\n', 0o644, info)
    assert (path.stat().st_uid, path.stat().st_gid, path.read_bytes()) == (1234, 4321, b'new\n')
    write_files.write(str(tmp_path / 'g'), b'', 0o444, None)
    assert (tmp_path / 'g').stat().st_uid == os.geteuid() and sorted(os.listdir(tmp_path)) == ['f', 'g']


def test_missing_parents_are_made_0755_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        write_files.make_parents(str(tmp_path / 'a' / 'b' / 'f'))
    finally:
        os.umask(old)
    assert oct((tmp_path / 'a').stat().st_mode & 0o777) == oct((tmp_path / 'a' / 'b').stat().st_mode & 0o777) == '0o755'
