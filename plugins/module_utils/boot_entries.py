# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot Loader Specification type 1 entries (``/boot/loader/entries/*.conf``) kept in step with the kernels in
/boot after a retrofit changed them: each kernel gets one entry made from the image's own entry (its title,
options and paths, the kernel version replaced), and the entries of removed kernels go. An entry a kernel
package's hook wrote in the chroot is replaced: its options came from the build host's /proc/cmdline.
"""

from __future__ import annotations

import glob
import os

KERNEL_PREFIX = 'vmlinuz-'


def parse(text):
    """{key: value} of an entry's lines (the first of each key; comments and blank lines skipped)."""
    found = {}
    for line in text.splitlines():
        key, _sep, value = line.strip().partition(' ')
        if key and not key.startswith('#'):
            found.setdefault(key, value.strip())
    return found


def version_of(entry):
    """The kernel version an entry boots: its ``version`` key, else its ``linux`` file's name."""
    if entry.get('version'):
        return entry['version']
    kernel = os.path.basename(entry.get('linux', ''))
    return kernel[len(KERNEL_PREFIX):] if kernel.startswith(KERNEL_PREFIX) else None


def read(entries_dir):
    """[(file name, text, version)] of the entries in ``entries_dir``, sorted by file name."""
    found = []
    for path in sorted(glob.glob(os.path.join(glob.escape(entries_dir), '*.conf'))):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        found.append((os.path.basename(path), text, version_of(parse(text))))
    return found


def plan(entries, versions_before, versions_now):
    """What to write ({file name: text}) and remove ([file name]) so that each of ``versions_now`` has one entry
    made from the image's own (an entry of a kernel it had before, the newest such), and no entry boots a kernel
    that is gone (an entry that names no kernel version is left alone). Nothing when the image has no entry of its
    own (it boots from a menu, not from entries)."""
    own = sorted((e for e in entries if e[2] in versions_before), key=lambda e: e[2])
    if not own:
        return {}, []
    name, text, old = own[-1]
    write, remove = {}, []
    new = [v for v in versions_now if v not in versions_before]
    for version in new:
        new_name = name.replace(old, version) if old in name else '%s-%s.conf' % (name[:-len('.conf')], version)
        write[new_name] = text.replace(old, version)
    for entry_name, _text, version in entries:
        gone = version is not None and version not in versions_now
        if gone or (version in new and entry_name not in write):
            remove.append(entry_name)
    return write, remove


def versions(boot_dir):
    """The kernel versions in ``boot_dir`` (from its vmlinuz-VERSION files), sorted."""
    return sorted(os.path.basename(p)[len(KERNEL_PREFIX):]
                  for p in glob.glob(os.path.join(glob.escape(boot_dir), KERNEL_PREFIX + '*')))
