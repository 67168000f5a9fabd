"""Boot Loader Specification entries after a retrofit changed the kernels: a new kernel gets an entry made from the
image's own (its options kept, not the build host's), a removed kernel's entry goes, and a menu image is left
alone. The trees are Debian-like /boot directories made here."""

import os

from ansible_collections.osimage.builder.plugins.module_utils import boot_entries

OLD, NEW = '6.1.0-17-amd64', '6.1.0-18-amd64'
OWN = ('title Debian GNU/Linux 12 (bookworm)\nversion %s\nlinux /vmlinuz-%s\ninitrd /initrd.img-%s\n'
       'options root=UUID=5e1f0000-0000-4000-8000-00000000c0de ro console=ttyS0,115200n8\n' % ((OLD,) * 3))
HOOK = ('title Debian GNU/Linux 12 (bookworm)\nversion %s\nlinux /vmlinuz-%s\ninitrd /initrd.img-%s\n'
        'options BOOT_IMAGE=/boot/vmlinuz-host root=/dev/sda1 ro quiet\n' % ((NEW,) * 3))


def boot(tmp_path, kernels, entries):
    """A /boot with ``kernels`` (versions) and loader/entries holding ``entries`` ({file name: text})."""
    directory = tmp_path / 'boot'
    (directory / 'loader' / 'entries').mkdir(parents=True)
    for version in kernels:
        (directory / ('vmlinuz-' + version)).write_bytes(b'kernel')
    for name, text in entries.items():
        (directory / 'loader' / 'entries' / name).write_text(text)
    return str(directory)


def planned(directory, before):
    return boot_entries.plan(boot_entries.read(os.path.join(directory, 'loader', 'entries')), before,
                             boot_entries.versions(directory))


def test_a_new_kernel_gets_the_images_entry_and_the_hooks_entry_goes(tmp_path):
    directory = boot(tmp_path, [OLD, NEW], {'abc-%s.conf' % OLD: OWN, 'machine-%s.conf' % NEW: HOOK})
    write, remove = planned(directory, [OLD])
    assert list(write) == ['abc-%s.conf' % NEW] and remove == ['machine-%s.conf' % NEW]
    entry = boot_entries.parse(write['abc-%s.conf' % NEW])
    assert entry['version'] == NEW and entry['linux'] == '/vmlinuz-' + NEW and entry['initrd'] == '/initrd.img-' + NEW
    assert entry['options'] == boot_entries.parse(OWN)['options']


def test_a_removed_kernels_entry_goes_and_an_entry_without_a_version_stays(tmp_path):
    memtest = 'title Memory test\nlinux /memtest86+x64.bin\n'
    directory = boot(tmp_path, [NEW], {'osimage-%s.conf' % OLD: OWN, 'memtest.conf': memtest})
    assert boot_entries.version_of(boot_entries.parse(memtest)) is None
    write, remove = planned(directory, [OLD])
    assert list(write) == ['osimage-%s.conf' % NEW] and remove == ['osimage-%s.conf' % OLD]


def test_unchanged_kernels_and_a_menu_image_plan_nothing(tmp_path):
    assert planned(boot(tmp_path / 'same', [OLD], {'osimage-%s.conf' % OLD: OWN}), [OLD]) == ({}, [])
    assert planned(boot(tmp_path / 'menu', [OLD, NEW], {}), [OLD]) == ({}, [])
    # Only the hook's entry, none of the image's own: the image boots from a menu; its entries are not osimage's.
    assert planned(boot(tmp_path / 'hook', [OLD, NEW], {'machine-%s.conf' % NEW: HOOK}), [OLD]) == ({}, [])
