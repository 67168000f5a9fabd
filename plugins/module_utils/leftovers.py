# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find and release what a build left on the host, by the build id recorded on each resource.

Mounts carry the source name ``osimage-<id>``, boot tests run the domain ``osimage-<id>`` with the run
directory ``<work_dir>/boot-osimage-<id>`` (another firmware's side boot ``osimage-<id>-<firmware>`` with
``<work_dir>/boot-osimage-<id>-<firmware>``), a foreign architecture's binfmt_misc entry is ``osimage-<id>``, and
the build directory is ``<work_dir>/<id>`` (a retrofit's loop devices are over its copy of the image in it).
Each id has an owner record (``<work_dir>/owners/<id>``) naming the process that runs it; only ids whose owner is gone
are released, and nothing that does not carry the osimage tag is ever touched.

A killed build also leaves, in the cache directory, temporary files (``NAME.tmp-PID``) and half-made entries
(``ENTRY.partial``, a tree without its stamp) with their lock files (``ENTRY.lock``), and private temporary
directories (``osimage-KIND-PID-*``, and Ansible's ``ansible-local-PID*`` in ANSIBLE_LOCAL_DIR). Those are
released only when their process is gone, and an entry's only while its lock is free (taken here while releasing
it): never a running build's.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.osimage.builder.plugins.module_utils import atomic
from ansible_collections.osimage.builder.plugins.module_utils import binfmt
from ansible_collections.osimage.builder.plugins.module_utils import cachelock
from ansible_collections.osimage.builder.plugins.module_utils import chroot
from ansible_collections.osimage.builder.plugins.module_utils import customized_tree
from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot

OWNER_NAMES = ('ansible-playbook', 'osimage', 'ansible-runner', 'molecule')
ID_RE = re.compile(r'^[a-z0-9][a-z0-9-]{3,40}$')
TEMP_RE = re.compile(r'\.tmp-([0-9]+)$')  # atomic.temp_name
TEMP_DIR_RE = re.compile(r'^osimage-[a-z-]+?-([0-9]+)-[^/]+$')  # atomic.temp_dir_prefix
# The driver's ANSIBLE_LOCAL_TEMP (driver/osimage/__init__.py), in the temporary directory: Ansible makes its own
# temporary directory there in each process that loads its configuration, ansible-local-PID and 8 characters.
ANSIBLE_LOCAL_DIR = 'osimage-ansible-local'
ANSIBLE_LOCAL_RE = re.compile(r'^ansible-local-([0-9]+).{8}$')


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except OSError:
        return ''


def owner_pid():
    """The ansible-playbook process this code runs under: the build's owner.

    Ansible's workers are forks of the main process with the same command line, so the owner is the
    topmost ancestor that is ansible-playbook, not the first one found.
    """
    found, pid = os.getppid(), os.getpid()
    while pid > 1:
        if OWNER_NAMES[0] in _cmdline(pid):
            found = pid
        pid = chroot.parent_of(pid)
    return found


def claim(work_dir, build_id, output_dir=None, pid=None):
    """Record that ``pid`` (default: this build's ansible-playbook) owns ``build_id``, writing to ``output_dir``."""
    owners = os.path.join(work_dir, 'owners')
    os.makedirs(owners, mode=0o700, exist_ok=True)
    # Atomically: a build killed while claiming leaves a temporary file (released as such), never half a record.
    atomic.write_text(os.path.join(owners, build_id), json.dumps({'pid': pid or owner_pid(), 'output_dir': output_dir}))


def _owner(work_dir, build_id):
    try:
        with open(os.path.join(work_dir, 'owners', build_id), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def alive(work_dir, build_id):
    """True while the owner of ``build_id`` still runs."""
    owner = _owner(work_dir, build_id)
    return bool(owner) and any(name in _cmdline(int(owner['pid'])) for name in OWNER_NAMES)


def build_ids(work_dir):
    """Every build id of ``work_dir`` that has something on this host: mounts, domains, directories or owner
    records. Builds of other work directories are not ours to judge: their owner records are elsewhere."""
    inside = os.path.join(os.path.abspath(work_dir), '')
    ids = {src[len(chroot.TAG):] for mnt, src, _t in chroot.mounts()
           if src.startswith(chroot.TAG) and mnt.startswith(inside)}
    if libvirt_boot.HAS_LIBVIRT:
        try:
            conn = libvirt_boot.connect()
            try:
                # A domain belongs to this work directory through its boot run directory (made before it starts).
                ids.update(libvirt_boot.main_name(d.name())[len(chroot.TAG):] for d in conn.listAllDomains()
                           if d.name().startswith(chroot.TAG) and os.path.isdir(os.path.join(work_dir, 'boot-' + d.name())))
            finally:
                conn.close()
        except libvirt_boot.BootError:
            pass
    if os.path.isdir(work_dir):
        # A directory is ours only through its owner record or the boot run directory's prefix.
        ids.update(libvirt_boot.main_name(e)[len('boot-' + chroot.TAG):] for e in os.listdir(work_dir)
                   if e.startswith('boot-' + chroot.TAG))
        if os.path.isdir(os.path.join(work_dir, 'owners')):
            ids.update(os.listdir(os.path.join(work_dir, 'owners')))
    return sorted(i for i in ids if ID_RE.match(i))


def release(build_id, work_dir):
    """Release every resource of build ``build_id``, newest first; return a list of what was released."""
    tag = chroot.TAG + build_id
    build_dir = os.path.join(work_dir, build_id)
    owner = _owner(work_dir, build_id)
    released = []
    if libvirt_boot.HAS_LIBVIRT:
        # The boot test's domain and those of its side boots (other firmwares at the same time).
        for name in [tag] + [libvirt_boot.side_name(tag, firmware) for firmware in libvirt_boot.FIRMWARES]:
            try:
                if libvirt_boot.stop(name, os.path.join(work_dir, 'boot-' + name)):
                    released.append('domain ' + name)
            except libvirt_boot.BootError:
                pass
    # Our tagged mounts, and (for an owned build) any mount in its directory, such as mmdebstrap's own.
    # Processes may still hold them or mount again while they die, so repeat until nothing is left.
    for _attempt in range(5):
        ours = {mnt for mnt, source, _type in chroot.mounts() if source == tag}
        roots = {os.path.dirname(m) for m in ours if os.path.basename(m) in ('proc', 'sys', 'dev', 'run')}
        if owner:
            ours.update(chroot.mounts_under(build_dir))
            roots.add(build_dir)
        for root in roots:
            chroot.kill_processes(root)
        if not ours:
            break
        for mnt in sorted(ours, key=lambda m: (m.count('/'), m), reverse=True):
            if subprocess.run(['umount', mnt], capture_output=True, check=False).returncode != 0:
                subprocess.run(['umount', '--lazy', mnt], capture_output=True, check=False)
            released.append('mount ' + mnt)
    # A retrofit's loop devices over its copy of the image, once nothing is mounted from them.
    if owner:
        for dev in loops_under(build_dir):
            subprocess.run(['losetup', '--detach', dev], capture_output=True, check=False)
            released.append('loop device ' + dev)
    # After its processes are gone: nothing of the build runs through qemu-user any more.
    if binfmt.unregister(tag):
        released.append('binfmt entry ' + tag)
    if owner and owner.get('output_dir'):
        for partial in glob.glob(os.path.join(glob.escape(owner['output_dir']), '*.tmp-[0-9]*')):
            os.unlink(partial)
            released.append('partial file ' + partial)
    if owner and os.path.isdir(build_dir):
        busy = chroot.mounts_under(build_dir)
        if busy:
            released.append('directory %s kept: %s still mounted' % (build_dir, ', '.join(busy)))
        else:
            shutil.rmtree(build_dir)
            released.append('directory ' + build_dir)
    if owner:
        os.unlink(os.path.join(work_dir, 'owners', build_id))
    return released


def loops_under(directory):
    """Loop devices whose backing file lies inside ``directory``."""
    out = subprocess.run(['losetup', '--list', '--noheadings', '--output', 'NAME,BACK-FILE'], capture_output=True,
                         text=True, check=False).stdout
    inside = os.path.join(os.path.abspath(directory), '')
    return [name for name, _sep, back in (line.strip().partition(' ') for line in out.splitlines())
            if back.strip().startswith(inside)]


def release_stale(work_dir):
    """Release what every build whose owner is gone left behind; return {build id: [released]}."""
    stale = {i: r for i in build_ids(work_dir) if not alive(work_dir, i) for r in [release(i, work_dir)] if r}
    for path in release_temp_files(os.path.join(work_dir, 'owners')):  # a claim killed half way
        stale.setdefault(TEMP_RE.sub('', os.path.basename(path)), []).append('unfinished owner record ' + path)
    return stale


def gone(pid):
    """True when process ``pid`` has ended (a zombie has: nothing of it runs)."""
    try:
        with open('/proc/%s/stat' % pid, encoding='utf-8', errors='replace') as f:
            return f.read().rpartition(')')[2].split()[0] == 'Z'
    except (OSError, IndexError):
        return True


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def release_temp_files(directory):
    """Remove the temporary files (NAME.tmp-PID) in ``directory`` whose process is gone; return their paths."""
    released = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        match = TEMP_RE.search(name)
        if match and gone(match.group(1)):
            _remove(os.path.join(directory, name))
            released.append(os.path.join(directory, name))
    return released


def release_temp_dirs(tmp_dir=None):
    """Remove the private temporary directories of processes that are gone: osimage-KIND-PID-*, and Ansible's
    ansible-local-PID* in ANSIBLE_LOCAL_DIR."""
    tmp_dir = tmp_dir or tempfile.gettempdir()
    ansible_local = os.path.join(tmp_dir, ANSIBLE_LOCAL_DIR)
    released = []
    for directory, pattern in ((tmp_dir, TEMP_DIR_RE), (ansible_local, ANSIBLE_LOCAL_RE)):
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            match = pattern.match(name)
            path = os.path.join(directory, name)
            if match and gone(match.group(1)) and os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                released.append('temporary directory ' + path)
    return released


def _release_entry(entry, stamp_path):
    """Release the half-made cache ``entry`` if its lock is free: its .partial copy, the entry itself when its
    stamp is missing (``stamp_path``; None for entries without one), and its lock file when no entry is left."""
    fd = cachelock.try_lock(entry + '.lock')
    if fd is None:
        return []  # a running build holds it (or there is no lock file: nothing was made under it)
    released = []
    try:
        if os.path.lexists(entry + '.partial'):
            _remove(entry + '.partial')
            released.append('partial cache entry %s.partial' % entry)
        if stamp_path and os.path.lexists(entry) and not os.path.exists(stamp_path):
            _remove(entry)
            released.append('cache entry %s without its stamp' % entry)
        if not os.path.lexists(entry):
            os.unlink(entry + '.lock')  # while holding it: a build waiting on it takes the lock again (cachelock)
            released.append('lock file %s.lock' % entry)
    finally:
        os.close(fd)
    return released


# The cache's kinds whose entries are root trees with a stamp KEY.json beside them (an entry without it is half made).
STAMPED_KINDS = ('trees', customized_tree.KIND)


def release_cache(cache_dir):
    """Release what killed builds left in ``cache_dir`` (its kinds, trees/, customized/, debs/SUITE-ARCH/, rpms/...:
    temporary files of gone processes, half-made entries whose lock is free); return what went. Entries' contents
    (a root tree) are never looked into."""
    released = []
    kinds = [os.path.join(cache_dir, k) for k in sorted(os.listdir(cache_dir))] if os.path.isdir(cache_dir) else []
    for kind in [k for k in kinds if os.path.isdir(k) and not os.path.islink(k)]:
        names = sorted(os.listdir(kind))
        entries = {n.rsplit('.', 1)[0] for n in names if n.endswith(('.lock', '.partial'))}
        plain = [os.path.join(kind, n) for n in names if n not in entries and not n.endswith('.partial')
                 and os.path.isdir(os.path.join(kind, n)) and not os.path.islink(os.path.join(kind, n))]
        for directory in [kind] + plain:  # debs/SUITE-ARCH: directories of files, not entries
            released += ['temporary file ' + path for path in release_temp_files(directory)]
        for entry in sorted(entries):
            stamp_path = os.path.join(kind, entry) + '.json' if os.path.basename(kind) in STAMPED_KINDS else None
            released += _release_entry(os.path.join(kind, entry), stamp_path)
    return released
