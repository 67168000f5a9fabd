# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a file system at a byte range of a disk image, filled from a directory tree.

No partition scanning, no device-mapper and never a vfat mount: ext4 is made in place with
``mke2fs -d -E offset=``; vfat (mtools), btrfs (``--rootdir``) and swap are made as files and copied
to their offset. xfs (whose mkfs cannot fill a file system from a directory) and btrfs subvolumes are
filled through a loop mount of their file, which is unmounted and detached in every outcome.
A target is a dict with ``name``, ``offset`` and ``bytes`` (the range), ``filesystem``, ``uuid``,
optional ``label``, ``source`` (a directory) and ``subvolumes`` ([{name, source}], btrfs).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid

SEEK_DATA, SEEK_HOLE = getattr(os, 'SEEK_DATA', 3), getattr(os, 'SEEK_HOLE', 4)


# Namespace of the UUIDs drawn from a build id (uuid5), so that resolving the same build twice gives the same.
UUID_NAMESPACE = uuid.UUID('5b0d3c2e-8a4f-4f61-9a57-0f4f2b6f9c11')


def new_uuid(filesystem, seed=None):
    """A file system UUID in the form ``filesystem`` takes (vfat: a volume id such as 1A2B-3C4D), derived
    from ``seed`` (the build id and the item's name) or, without one, random."""
    value = uuid.uuid5(UUID_NAMESPACE, seed) if seed else uuid.uuid4()
    if filesystem == 'vfat':
        digits = value.hex[:8].upper()
        return '%s-%s' % (digits[:4], digits[4:])
    return str(value)


def copy_into(src, image, offset):
    """Copy the data of the (sparse) file ``src`` into ``image`` at ``offset``; holes stay holes."""
    size = os.path.getsize(src)
    with open(src, 'rb') as fin, open(image, 'r+b') as fout:
        pos = 0
        while pos < size:
            try:
                pos = os.lseek(fin.fileno(), pos, SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fin.fileno(), pos, SEEK_HOLE)
            fin.seek(pos)
            fout.seek(offset + pos)
            left = end - pos
            while left:
                chunk = fin.read(min(left, 8 * 1024 * 1024))
                fout.write(chunk)
                left -= len(chunk)
            pos = end


def attach_loop(runner, path, offset=0, size=None):
    """Attach a loop device over ``path`` (from ``offset``, ``size`` bytes long); return its name. The caller
    detaches it (:func:`loop_device` does, whatever happens)."""
    argv = ['losetup', '--show', '--find', '--offset', str(offset)]
    if size:
        argv += ['--sizelimit', str(size)]
    _rc, out, _err = runner.run(argv + [path], what='attaching a loop device to %s' % path)
    return out.strip()


@contextlib.contextmanager
def loop_device(runner, path, offset=0, size=None):
    """A loop device over ``path`` (from ``offset``, ``size`` bytes long), detached whatever happens."""
    dev = attach_loop(runner, path, offset, size)
    try:
        yield dev
    finally:
        runner.run(['losetup', '--detach', dev], check=False)


@contextlib.contextmanager
def mounted(runner, path, fstype, workdir):
    """``path`` (a file system image file) loop-mounted on a fresh directory, unmounted whatever happens."""
    mnt = tempfile.mkdtemp(prefix='mnt-', dir=workdir)
    try:
        with loop_device(runner, path) as dev, mounted_at(runner, dev, fstype, mnt):
            yield mnt
    finally:
        os.rmdir(mnt)


def mount(runner, dev, fstype, mnt, options=None):
    """Mount the block device ``dev`` on ``mnt``; the caller unmounts it (:func:`mounted_at` does)."""
    argv = ['mount', '-t', fstype] + (['-o', ','.join(options)] if options else []) + [dev, mnt]
    runner.run(argv, what='mounting the %s file system of %s on %s' % (fstype, dev, mnt))


@contextlib.contextmanager
def mounted_at(runner, dev, fstype, mnt, options=None):
    """The block device ``dev`` mounted on the directory ``mnt``, unmounted whatever happens."""
    mount(runner, dev, fstype, mnt, options)
    try:
        yield mnt
    finally:
        runner.run(['umount', mnt], what='unmounting %s' % mnt)


def fill(runner, source, dest):
    """Copy the content of ``source`` into the directory ``dest``, keeping owners, modes, links and xattrs."""
    runner.run(['cp', '-a', '--sparse=always', os.path.join(source, '.'), dest], what='copying %s' % source)


def make_ext4(runner, image, target, _workdir):
    argv = ['mke2fs', '-q', '-F', '-t', 'ext4', '-U', target['uuid'], '-E', 'offset=%d' % target['offset']]
    if target.get('label'):
        argv += ['-L', target['label']]
    if target.get('source'):
        argv += ['-d', target['source']]
    runner.run(argv + [image, '%dk' % (target['bytes'] // 1024)],
               what='making the ext4 file system of %s' % target['name'])


def _as_file(make):
    """Wrap a maker of a file system in a file of the target's size: make it there, then copy it in."""
    def maker(runner, image, target, workdir):
        fd, tmp = tempfile.mkstemp(prefix='%s-' % target['name'], suffix='.fs', dir=workdir)
        try:
            os.ftruncate(fd, target['bytes'])
            os.close(fd)
            make(runner, tmp, target, workdir)
            copy_into(tmp, image, target['offset'])
        finally:
            os.unlink(tmp)
    maker.__doc__ = make.__doc__
    return maker


@_as_file
def make_vfat(runner, path, target, _workdir):
    """FAT32 with mkfs.vfat on a file, filled with mcopy: no vfat driver or mount needed."""
    argv = ['mkfs.vfat', '-F', '32', '-i', target['uuid'].replace('-', '')]
    if target.get('label'):
        argv += ['-n', target['label'].upper()]
    runner.run(argv + [path], what='making the vfat file system of %s' % target['name'])
    entries = sorted(os.listdir(target['source'])) if target.get('source') else []
    if entries:
        runner.run(['mcopy', '-s', '-p', '-Q', '-m', '-i', path]
                   + [os.path.join(target['source'], e) for e in entries] + ['::/'],
                   environ_update={'MTOOLS_SKIP_CHECK': '1'}, what='copying %s into the vfat file system'
                   % target['source'])


@_as_file
def make_btrfs(runner, path, target, workdir):
    """btrfs with --rootdir; subvolumes are made and filled through a loop mount of the file."""
    argv = ['mkfs.btrfs', '-q', '-f', '-U', target['uuid']]
    if target.get('label'):
        argv += ['-L', target['label']]
    if target.get('source'):
        argv += ['--rootdir', target['source']]
    runner.run(argv + [path], what='making the btrfs file system of %s' % target['name'])
    if target.get('subvolumes'):
        with mounted(runner, path, 'btrfs', workdir) as mnt:
            for sub in target['subvolumes']:
                dest = os.path.join(mnt, sub['name'])
                if os.path.isdir(dest) and not os.listdir(dest):
                    os.rmdir(dest)
                runner.run(['btrfs', 'subvolume', 'create', dest], what='creating subvolume %s' % sub['name'])
                if sub.get('source'):
                    fill(runner, sub['source'], dest)


@_as_file
def make_xfs(runner, path, target, workdir):
    """xfs with mkfs.xfs on a file, filled through a loop mount (this mkfs.xfs cannot fill from a tree)."""
    argv = ['mkfs.xfs', '-q', '-f', '-m', 'uuid=%s' % target['uuid']]
    if target.get('label'):
        argv += ['-L', target['label'][:12]]
    runner.run(argv + [path], what='making the xfs file system of %s' % target['name'])
    if target.get('source') and os.listdir(target['source']):
        with mounted(runner, path, 'xfs', workdir) as mnt:
            fill(runner, target['source'], mnt)


@_as_file
def make_swap(runner, path, target, _workdir):
    argv = ['mkswap', '-U', target['uuid']]
    if target.get('label'):
        argv += ['-L', target['label']]
    runner.run(argv + [path], what='making the swap area of %s' % target['name'])


MAKERS = {'ext4': make_ext4, 'vfat': make_vfat, 'btrfs': make_btrfs, 'xfs': make_xfs, 'swap': make_swap}


def make(runner, image, target, workdir):
    """Make ``target``'s file system in ``image``."""
    MAKERS[target['filesystem']](runner, image, target, workdir)


@contextlib.contextmanager
def split_tree(root, mountpoints, stage):
    """Move each nested mount point's subtree of ``root`` aside into ``stage``, leaving an empty directory.

    Yields {mountpoint: directory holding its content}; everything is moved back whatever happens.
    Renames within one file system: nothing is copied.
    """
    moved = []
    sources = {'/': root}
    os.makedirs(stage, exist_ok=True)
    try:
        for mnt in sorted((m for m in mountpoints if m != '/'), key=lambda m: m.count('/'), reverse=True):
            inside = os.path.join(root, mnt.lstrip('/'))
            aside = os.path.join(stage, mnt.strip('/').replace('/', '-'))
            if os.path.islink(inside):
                raise ValueError("mount point %s is a symbolic link in the image tree" % mnt)
            if os.path.isdir(inside):
                os.rename(inside, aside)
            else:
                os.makedirs(aside)
            os.makedirs(inside)
            moved.append((inside, aside))
            sources[mnt] = aside
        yield sources
    finally:
        for inside, aside in reversed(moved):
            if os.path.isdir(inside) and not os.listdir(inside):
                os.rmdir(inside)
            if os.path.isdir(aside):
                os.rename(aside, inside)
        if os.path.isdir(stage) and not os.listdir(stage):
            os.rmdir(stage)
