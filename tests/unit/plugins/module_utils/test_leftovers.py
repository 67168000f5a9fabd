"""Which builds a work directory may release: only its own, never another work directory's."""

from ansible_collections.osimage.builder.plugins.module_utils import leftovers


class Domain:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


class Conn:
    def listAllDomains(self):  # noqa: N802 (libvirt's name)
        return [Domain('osimage-aaaa1111'), Domain('osimage-bbbb2222')]

    def close(self):
        pass


def test_builds_of_another_work_directory_are_not_ours(tmp_path, monkeypatch):
    mine, theirs = tmp_path / 'mine', tmp_path / 'theirs'
    (mine / 'boot-osimage-aaaa1111').mkdir(parents=True)
    (theirs / 'boot-osimage-bbbb2222').mkdir(parents=True)
    monkeypatch.setattr(leftovers.chroot, 'mounts', lambda: [
        (str(mine / 'cccc3333' / 'root' / 'proc'), 'osimage-cccc3333', 'proc'),
        (str(theirs / 'dddd4444' / 'root' / 'proc'), 'osimage-dddd4444', 'proc')])
    monkeypatch.setattr(leftovers.libvirt_boot, 'HAS_LIBVIRT', True)
    monkeypatch.setattr(leftovers.libvirt_boot, 'connect', Conn)
    assert leftovers.build_ids(str(mine)) == ['aaaa1111', 'cccc3333']
    assert leftovers.build_ids(str(theirs)) == ['bbbb2222', 'dddd4444']
