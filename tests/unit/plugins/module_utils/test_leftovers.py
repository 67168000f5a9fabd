"""Which builds a work directory may release: only its own, never another work directory's; in the cache and the
temporary directory, only what a gone process left, and a cache entry only while its lock is free."""

import os
import subprocess

from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils.cachelock import CacheLock


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


def test_a_side_boots_domain_belongs_to_its_build_and_is_released_with_it(tmp_path, monkeypatch):
    """Another firmware's boot beside the boot test (osimage-ID-uefi_secure, boot-osimage-ID-uefi) is build ID's,
    not a build of its own, and releasing ID stops it and removes its run directory."""
    (tmp_path / 'boot-osimage-aaaa1111-uefi').mkdir()
    (tmp_path / 'boot-osimage-bbbb2222-uefi_secure').mkdir()
    monkeypatch.setattr(leftovers.chroot, 'mounts', lambda: [])
    monkeypatch.setattr(leftovers.libvirt_boot, 'HAS_LIBVIRT', True)
    monkeypatch.setattr(leftovers.libvirt_boot, 'connect', Conn)
    assert leftovers.build_ids(str(tmp_path)) == ['aaaa1111', 'bbbb2222']
    stopped = []
    monkeypatch.setattr(leftovers.libvirt_boot, 'stop',
                        lambda name, run_dir: stopped.append(name) or os.path.isdir(run_dir))
    assert leftovers.release('aaaa1111', str(tmp_path)) == ['domain osimage-aaaa1111-uefi']
    assert {'osimage-aaaa1111', 'osimage-aaaa1111-bios', 'osimage-aaaa1111-uefi',
            'osimage-aaaa1111-uefi_secure'} == set(stopped)


def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def touch(path, text=''):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_killed_builds_cache_leftovers_are_released_and_a_running_builds_are_not(tmp_path):
    cache, dead, live = tmp_path / 'cache', dead_pid(), os.getpid()
    trees = cache / 'trees'
    done = [touch(trees / 'aaaa' / 'etc' / 'x.partial'), touch(trees / 'aaaa.json', '{}'), touch(trees / 'aaaa.lock'),
            touch(trees / 'aaaa' / ('y.tmp-%d' % dead))]  # a complete entry (its tree's own files are not looked into)
    killed = [touch(trees / 'bbbb.partial' / 'usr' / 'f'), touch(trees / 'bbbb.lock'),
              touch(trees / ('bbbb.json.tmp-%d' % dead))]
    unstamped = [touch(trees / 'dddd' / 'usr' / 'f'), touch(trees / 'dddd.lock')]  # killed between rename and stamp
    running = [touch(trees / 'cccc.partial' / 'usr' / 'f'), touch(trees / 'cccc.lock'),
               touch(trees / ('cccc.json.tmp-%d' % live))]
    debs = [touch(cache / 'debs' / 'bookworm-amd64' / 'a.deb'), touch(cache / 'debs' / 'bookworm-amd64' / ('b.deb.tmp-%d' % live))]
    half_deb = touch(cache / 'debs' / 'bookworm-amd64' / ('c.deb.tmp-%d' % dead))
    rpms = [touch(cache / 'rpms' / 'dnf-9-x86_64.partial' / 'p.rpm'), touch(cache / 'rpms' / 'dnf-9-x86_64.lock')]
    with CacheLock(str(trees / 'cccc.lock')):
        released = leftovers.release_cache(str(cache))
        assert leftovers.release_cache(str(cache)) == []
    assert sorted(released) == sorted([
        'temporary file %s' % killed[2], 'partial cache entry %s' % (trees / 'bbbb.partial'),
        'lock file %s' % killed[1], 'cache entry %s without its stamp' % (trees / 'dddd'), 'lock file %s' % unstamped[1],
        'temporary file %s' % half_deb, 'partial cache entry %s' % (cache / 'rpms' / 'dnf-9-x86_64.partial'),
        'lock file %s' % rpms[1]])
    assert all(p.exists() for p in done + running + debs)
    assert not any(os.path.lexists(p) for p in killed + unstamped + rpms + [half_deb])
    assert leftovers.release_cache(str(tmp_path / 'none')) == []


def test_temporary_directories_and_owner_records_of_gone_processes_are_released(tmp_path):
    dead, live = dead_pid(), os.getpid()
    ansible_local = tmp_path / leftovers.ANSIBLE_LOCAL_DIR
    gone = [tmp_path / ('osimage-runner-%d-abc_1' % dead), tmp_path / ('osimage-kvm-probe-%d-xyz' % dead),
            ansible_local / ('ansible-local-%d1a2b3c4d' % dead)]
    kept = [tmp_path / ('osimage-runner-%d-abc_2' % live), tmp_path / 'osimage-runner-abc', tmp_path / 'other-1-x',
            ansible_local / ('ansible-local-%dabcd_efg' % live), ansible_local / 'ansible-local-x']
    ansible_local.mkdir()
    for path in gone + kept:
        path.mkdir()
    released = sorted(leftovers.release_temp_dirs(str(tmp_path)))
    assert released == ['temporary directory %s' % p for p in sorted(map(str, gone))]
    assert all(p.exists() for p in kept)
    work = tmp_path / 'work'
    half = touch(work / 'owners' / ('abcd1234.tmp-%d' % dead), '{"pi')
    leftovers.claim(str(work), 'efgh5678', pid=dead)  # written whole, without a temporary file left
    assert sorted(os.listdir(work / 'owners')) == sorted([half.name, 'efgh5678'])
    assert leftovers.release_stale(str(work)) == {'abcd1234': ['unfinished owner record %s' % half]}
    assert os.listdir(work / 'owners') == []
