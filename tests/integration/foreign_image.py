"""A disk image osimage did not build, made the way a person would with the host's tools: a plain mmdebstrap tree
(packages from osimage's .deb cache when it has them), an MBR, ext4 written at its offset with ``mke2fs -d``, a
hand-written grub.cfg and GRUB's BIOS boot code from the host's grub-mkimage, put in place with plain writes.
No osimage module, role or marker is involved. With ``separate_boot`` /boot is a partition of its own (by LABEL
in fstab, / by PARTUUID). Made images are kept between runs (KEPT) for a week: making one is a cold bootstrap
(85 s in the suite), and retrofit only reads its input."""

import fcntl
import glob
import hashlib
import os
import shutil
import struct
import subprocess
import time
import uuid

MIRROR = 'http://deb.debian.org/debian'
KEPT = '/var/cache/osimage/test-archives/golden'
KEPT_SECONDS = 7 * 24 * 3600
DEB_CACHE = '/var/cache/osimage/debs/bookworm-amd64'
PACKAGES = ['linux-image-amd64', 'initramfs-tools', 'systemd-sysv', 'udev', 'dbus', 'openssh-server', 'python3',
            'iproute2', 'sudo']
GRUB = '/usr/lib/grub/i386-pc'
GRUB_MODULES = ['biosdisk', 'part_msdos', 'ext2', 'normal', 'linux', 'serial', 'terminal', 'search', 'echo', 'test',
                'configfile', 'gzio', 'boot']
MIB = 1024 * 1024
DISK_BYTES = 2048 * MIB
BOOT_BYTES = 256 * MIB
SECTOR = 512
HOOK_IN = ('mkdir -p "$1/var/cache/apt/archives" && '
           'find "$DEB_CACHE" -maxdepth 1 -name "*.deb" -exec cp -t "$1/var/cache/apt/archives/" {} +')


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def _write(root, path, text, mode=0o644):
    full = os.path.join(root, path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w', encoding='utf-8') as f:
        f.write(text)
    os.chmod(full, mode)


def bootstrap(tree):
    env = dict(os.environ, DEB_CACHE=DEB_CACHE)
    hooks = ['--skip=essential/unlink', '--setup-hook=' + HOOK_IN] if os.path.isdir(DEB_CACHE) else []
    _run(['mmdebstrap', '--mode=root', '--variant=apt', '--include=' + ','.join(PACKAGES), *hooks,
          'bookworm', tree, MIRROR], env=env, timeout=1800)


def configure(tree, root_spec, boot_spec, kernel_args):
    """What a person sets up by hand: fstab, host name, DHCP with networkd, a hand-written grub.cfg."""
    fstab = '# hand-made\n%s / ext4 errors=remount-ro 0 1\n' % root_spec
    if boot_spec:
        fstab += '%s /boot ext4 defaults 0 2\n' % boot_spec
    _write(tree, '/etc/fstab', fstab + 'tmpfs /tmp tmpfs defaults,nosuid 0 0\n')
    _write(tree, '/etc/hostname', 'golden\n')
    # The vendor's name server, not the host's that mmdebstrap copied in (osimage's checks look for the host's).
    os.unlink(os.path.join(tree, 'etc/resolv.conf'))
    _write(tree, '/etc/resolv.conf', 'nameserver 192.0.2.53\n')
    _write(tree, '/etc/systemd/network/20-wired.network', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n')
    wants = os.path.join(tree, 'etc/systemd/system/multi-user.target.wants')
    os.makedirs(wants, exist_ok=True)
    link = os.path.join(wants, 'systemd-networkd.service')
    if not os.path.lexists(link):
        os.symlink('/lib/systemd/system/systemd-networkd.service', link)
    kernel = sorted(os.path.basename(k) for k in glob.glob(os.path.join(tree, 'boot/vmlinuz-*')))[-1]
    prefix = '' if boot_spec else '/boot'
    shutil.copytree(GRUB, os.path.join(tree, 'boot/grub/i386-pc'), dirs_exist_ok=True)
    _write(tree, '/boot/grub/grub.cfg',
           'serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\n'
           'set timeout=1\nmenuentry "Golden Debian" {\n  linux %s/%s %s ro console=tty0 console=ttyS0,115200\n'
           '  initrd %s/%s\n}\n' % (prefix, kernel, kernel_args, prefix, kernel.replace('vmlinuz-', 'initrd.img-')))


def install_grub(image, core_dir, prefix):
    """GRUB for BIOS as grub-bios-setup would lay it out: core.img after the MBR, boot.img's code in sector 0."""
    core_path = os.path.join(core_dir, 'core.img')
    _run(['grub-mkimage', '-O', 'i386-pc', '-o', core_path, '-p', prefix, *GRUB_MODULES])
    with open(core_path, 'rb') as f:
        core = bytearray(f.read())
    sectors = -(-len(core) // SECTOR)
    core = core.ljust(sectors * SECTOR, b'\0')
    struct.pack_into('<QH', core, SECTOR - 12, 2, sectors - 1)  # diskboot's block list: the rest follows it
    with open(os.path.join(GRUB, 'boot.img'), 'rb') as f:
        boot = bytearray(f.read())
    with open(image, 'r+b') as f:
        mbr = f.read(SECTOR)
        boot[0x3:0x5a] = mbr[0x3:0x5a]
        boot[0x66:0x68] = b'\x90\x90'
        boot[0x1b8:] = mbr[0x1b8:]
        struct.pack_into('<Q', boot, 0x5c, 1)
        f.seek(SECTOR)
        f.write(core)
        f.seek(0)
        f.write(boot)


def make(dest_dir, separate_boot=False):
    """``dest_dir``/golden.qcow2, a copy of the kept image made by this code (made now when there is none younger
    than KEPT_SECONDS); return its path. Needs root (mmdebstrap --mode=root)."""
    with open(__file__, 'rb') as f:
        code = hashlib.sha256(f.read() + bytes([separate_boot])).hexdigest()
    kept = os.path.join(KEPT, 'golden-%s.qcow2' % code[:16])
    image = os.path.join(dest_dir, 'golden.qcow2')
    os.makedirs(KEPT, exist_ok=True)
    with open(os.path.join(KEPT, 'lock'), 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for old in glob.glob(os.path.join(KEPT, 'golden-*.qcow2')):
            if os.path.getmtime(old) < time.time() - KEPT_SECONDS:
                os.unlink(old)
        if os.path.exists(kept):
            shutil.copyfile(kept, image)
        else:
            _make(dest_dir, image, separate_boot)
            shutil.copyfile(image, kept + '.tmp')
            os.replace(kept + '.tmp', kept)
    return image


def _make(dest_dir, qcow2, separate_boot):
    """Make the image ``qcow2`` in ``dest_dir``."""
    work = os.path.join(dest_dir, 'work')
    tree = os.path.join(work, 'tree')
    os.makedirs(work, exist_ok=True)
    bootstrap(tree)
    root_uuid, boot_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    root_partuuid = '0c0ffee0-0%d' % (2 if separate_boot else 1)
    if separate_boot:
        configure(tree, 'PARTUUID=' + root_partuuid, 'LABEL=BOOT', 'root=PARTUUID=' + root_partuuid)
    else:
        configure(tree, 'UUID=' + root_uuid, None, 'root=UUID=' + root_uuid)
    image = os.path.join(work, 'golden.raw')
    with open(image, 'wb') as f:
        f.truncate(DISK_BYTES)
    first = MIB // SECTOR
    if separate_boot:
        script = ('label: dos\nlabel-id: 0x0c0ffee0\nstart=%d, size=%d, type=83, bootable\nstart=%d, type=83\n'
                  % (first, BOOT_BYTES // SECTOR, first + BOOT_BYTES // SECTOR))
    else:
        script = 'label: dos\nlabel-id: 0x0c0ffee0\nstart=%d, type=83, bootable\n' % first
    _run(['sfdisk', '--quiet', image], input=script)
    if separate_boot:
        boot_tree = os.path.join(work, 'boot')
        shutil.move(os.path.join(tree, 'boot'), boot_tree)
        os.mkdir(os.path.join(tree, 'boot'))
        _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'BOOT', '-U', boot_uuid, '-d', boot_tree,
              '-E', 'offset=%d' % MIB, image, '%dk' % (BOOT_BYTES // 1024)])
        root_offset = MIB + BOOT_BYTES
    else:
        root_offset = MIB
    _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-U', root_uuid, '-d', tree, '-E', 'offset=%d' % root_offset,
          image, '%dk' % ((DISK_BYTES - root_offset) // 1024)])
    install_grub(image, work, '(hd0,msdos1)/grub' if separate_boot else '(hd0,msdos1)/boot/grub')
    _run(['qemu-img', 'convert', '-O', 'qcow2', image, qcow2])
    shutil.rmtree(work)
