# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The distributions osimage builds: the one table of what differs per family, distribution, release and
architecture.

A family (debian, el, suse) says how its images are made: the bootstrap backend, the package manager and
database, package name rules, which boot loaders it can install, the SSH unit, and the package names of
every neutral need (``grub-efi``, ``locales``, ``firewall``...). A distribution names its family, default
mirror and releases; a release may override anything of its distribution's. ``resolve`` merges the layers
into the build's ``os`` facts, which every later step reads instead of asking which distribution it is.
"""

from __future__ import annotations

import copy
import os

# The archive keys osimage ships (data/keys, with their fingerprints in its README).
KEYS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'data', 'keys')

# The machine architectures: how each family's package tools name them, and what booting one takes.
# machine: the kernel's name (uname -m), which also names qemu (qemu-system-MACHINE, qemu-user's binfmt.d file);
# oci: the architecture an OCI image config names (formats: [oci]);
# efi: the EFI file name suffix (BOOTX64.EFI, grubx64.efi); grub_efi: GRUB's EFI target; root_type: the GPT
# type of / (disk.TYPES); console: the first serial port; grub_serial: GRUB drives that port itself (else the
# firmware's console carries it); firmwares: the disk.firmware values it boots, firmware_default: by table;
# bootloaders and secure_boot: what it can be given; refused_formats: the formats it cannot be made in, with
# why;
# boot: how libvirt runs it (per firmware its machine type and UEFI files, their directory and package; the CPU
# model under TCG; the machine features).
ARCHES = {
    'amd64': {
        'debian': 'amd64', 'rpm': 'x86_64', 'machine': 'x86_64', 'oci': 'amd64',
        'efi': 'x64', 'grub_efi': 'x86_64-efi',
        'root_type': 'root_x86_64', 'console': 'ttyS0', 'grub_serial': True,
        'firmwares': ['bios', 'uefi', 'hybrid'], 'firmware_default': {'gpt': 'hybrid', 'mbr': 'bios'},
        'bootloaders': ['grub', 'systemd-boot', 'extlinux'], 'secure_boot': True, 'refused_formats': {},
        'boot': {
            'firmware_dir': '/usr/share/OVMF', 'firmware_package': 'ovmf', 'cpu': None, 'features': ['acpi', 'apic'],
            'firmware': {
                'bios': {'machine': 'pc'},
                'uefi': {'machine': 'pc', 'code': 'OVMF_CODE_4M.fd', 'vars': 'OVMF_VARS_4M.fd'},
                'uefi_secure': {'machine': 'q35', 'code': 'OVMF_CODE_4M.secboot.fd', 'vars': 'OVMF_VARS_4M.ms.fd',
                                'secure': True}}},
    },
    'arm64': {
        'debian': 'arm64', 'rpm': 'aarch64', 'machine': 'aarch64', 'oci': 'arm64',
        'efi': 'aa64', 'grub_efi': 'arm64-efi',
        'root_type': 'root_aarch64', 'console': 'ttyAMA0', 'grub_serial': False,
        'firmwares': ['uefi'], 'firmware_default': {'gpt': 'uefi', 'mbr': 'uefi'},
        'bootloaders': ['grub', 'systemd-boot'], 'secure_boot': False,
        'refused_formats': {'iso': 'the live ISO boots x86 firmware only (GRUB i386-pc and x86_64-efi)'},
        'boot': {
            'firmware_dir': '/usr/share/AAVMF', 'firmware_package': 'qemu-efi-aarch64', 'cpu': 'cortex-a57',
            'features': ['acpi'],
            'firmware': {'uefi': {'machine': 'virt', 'code': 'AAVMF_CODE.fd', 'vars': 'AAVMF_VARS.fd'}}},
    },
}


def _timer_switch(timer):
    """Automatic updates switched by enabling a timer: its probe and what it prints on and off."""
    return {'probe': ['systemctl', 'is-enabled', timer], 'on': 'enabled', 'off': 'disabled'}


def _rpm_repository_check(repository_file, probe, errors):
    """An rpm family's .repo files as the verify play looks for them: a priority is a key of the file itself, and
    ``probe`` lists the repositories, printing lines matching ``errors`` when it cannot read them."""
    return {'dir': repository_file['dir'], 'suffix': '.repo', 'uri': 'baseurl=', 'key': 'gpgkey=file://',
            'pin_dir': repository_file['dir'], 'pin_suffix': '.repo', 'pin': 'priority=', 'probe': probe,
            'errors': errors}


# How an rpm family's package manager reads a request's repository (rpm_repositories writes it): the directory
# of its .repo files and the keys every section has besides name, baseurl, gpgkey, gpgcheck, repo_gpgcheck and
# priority, which the request decides.
DNF_REPOSITORY_FILE = {'dir': '/etc/yum.repos.d', 'options': {'enabled': 1}}
ZYPPER_REPOSITORY_FILE = {'dir': '/etc/zypp/repos.d',
                          'options': {'type': 'rpm-md', 'enabled': 1, 'autorefresh': 1, 'pkg_gpgcheck': 1}}


# How the verify play reads, in the running guest, the DNS and NTP servers each mechanism of the location role
# (roles/location/tasks/dns_*.yml, ntp_*.yml) uses: 'probe' prints them, each match of 'servers' (one group, a
# multi-line regex) holds some, separated by blanks; 'source' names what was read in a failed check's message.
DNS_CHECKS = {
    'resolved': {'probe': ['resolvectl', 'dns'], 'servers': '^Global:(.*)$',
                 'source': "systemd-resolved's global DNS servers"},
    # NetworkManager's global DNS and wicked's netconfig both write the servers into resolv.conf.
    'networkmanager': {'probe': ['cat', '/etc/resolv.conf'], 'servers': r'^nameserver\s+(\S+)',
                       'source': 'the name servers in /etc/resolv.conf'},
    'netconfig': {'probe': ['cat', '/etc/resolv.conf'], 'servers': r'^nameserver\s+(\S+)',
                  'source': 'the name servers in /etc/resolv.conf'},
}
NTP_CHECKS = {
    'timesyncd': {'probe': ['timedatectl', 'show-timesync', '--property=SystemNTPServers', '--value'],
                  'servers': '^(.+)$', 'source': "systemd-timesyncd's NTP servers"},
    # chronyc -c (CSV) -N (the names as configured, not the addresses): one source a line, its name third.
    'chrony': {'probe': ['chronyc', '-c', '-N', 'sources'], 'servers': '^[^,]*,[^,]*,([^,]+),',
               'source': "chrony's sources"},
}

# What the rpm families (el, suse) share.
# slim (the request's key): what an image leaves out, as the minimal cloud images do: documentation but its copyright
# files, manual and info pages, and every translation but the request's language (%(language)s: de for de_DE.UTF-8).
# Globs over whole paths, as dpkg's path-exclude reads them ('*' spans '/'); all under SLIM_ROOT. Each family keeps
# them out of later package installs with its package manager's own setting (slim_config).
SLIM_ROOT = '/usr/share'
SLIM_EXCLUDE = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/groff/*',
                '/usr/share/lintian/*', '/usr/share/locale/*/LC_MESSAGES/*']
SLIM_INCLUDE = ['/usr/share/doc/*/copyright', '/usr/share/locale/%(language)s/*', '/usr/share/locale/%(language)s_*']


RPM_MECHANICS = {
    # Not one rpm image has been booted here (no mirror is reachable): preflight refuses whole builds.
    'builds_images': False,
    'package_db': 'rpm',
    'package_name': r'^[A-Za-z0-9][A-Za-z0-9_+.-]*$',
    'package_hint': 'an RPM package name (letters, digits, _, +, . and -)',
    # signed_metadata: repomd.xml is checked against its detached signature (repo_gpgcheck); priority: 1 wins.
    'repository_keys': ['priority', 'signed_metadata'],
    # What preflight fetches of a request's repository, relative to its uri: any one of the paths will do.
    'repository_index': ['repodata/repomd.xml'],
    # slim: rpm leaves out the files packages mark as documentation (their docs, manual and info pages) and
    # installs only the named languages' translations.
    'slim_config': {'path': '/etc/rpm/macros.osimage-slim', 'text': '%%_excludedocs 1\n%%_install_langs %(language)s\n'},
    'bootloaders': ['grub'],
    'initramfs': 'dracut',
    # The package manager's verbs (rpm_packages adds its root and configuration options before them).
    'package_verbs': {'install': ['install'], 'remove': ['remove']},
    # Rebuilds every installed kernel's initramfs (a retrofit that changed the kernel runs it in the image).
    'initramfs_update': ['dracut', '--regenerate-all', '--force'],
    # chrony serves time on both rpm families (roles/location/tasks/ntp_chrony.yml).
    'time_sync': 'chrony',
    'ssh_service': 'sshd.service',
    # rpm scripts start nothing in a chroot (systemctl runs offline there): no policy needed.
    'service_policy': '',
    # rpm_bootstrap passes the proxy through the environment: no file in the tree.
    'proxy_conf': '',
    # glibc-langpack-* and glibc-locale ship compiled locales: nothing to generate.
    'locale_gen': {},
    'locale_links': [],
    'timezone_file': '',
    'keyboard': {'file': '/etc/vconsole.conf', 'extra': []},
    # dracut's live module finds the squashfs on the ISO by its label (image_iso's default).
    'live_args': ['rd.live.image', 'root=live:CDLABEL=OSIMAGE_LIVE', 'rd.live.dir=live',
                  'rd.live.squashimg=filesystem.squashfs'],
}

FAMILIES = {
    'debian': {
        'package_manager': 'apt',
        'package_db': 'dpkg',
        # The index of each suite the bootstrap reads (the release and its extra suites), which preflight probes.
        'suite_probe': '%(mirror)s/dists/%(suite)s/Release',
        # The field of a probed index that says until when apt accepts it (testing, -updates and -security carry it).
        'probe_expiry': 'Valid-Until',
        # What makes the package manager read indexes past their probe_expiry, for a mirror that is a snapshot
        # (location.mirror_snapshot): the bootstrap passes it on (mmdebstrap's --aptopt, which debootstrap, not
        # checking expiry, does not need) and the family's role keeps it in proxy_conf while the image is built.
        # A family without it has no expiring indexes and refuses the key.
        'snapshot_config': 'Acquire::Check-Valid-Until "false";',
        # variants: the package selections a bootstrap may start from, the first by default.
        'bootstrap': {'module': 'debian_bootstrap', 'tools': ['mmdebstrap', 'debootstrap'],
                      'variants': ['apt', 'minbase', 'required', 'important', 'standard']},
        'package_name': r'^[a-z0-9][a-z0-9+.-]+$',
        'package_hint': 'a Debian package name (lower-case letters, digits, +, . and -)',
        'repository_keys': ['suites', 'components', 'priority', 'pin_packages'],
        # What preflight fetches of a request's repository, relative to its uri, for each of its suites: any one of
        # the paths will do (apt reads InRelease, else Release).
        'repository_index': ['dists/%(suite)s/InRelease', 'dists/%(suite)s/Release'],
        # slim: dpkg skips those paths of every package it unpacks from now on (the last matching rule wins).
        'slim_config': {'path': '/etc/dpkg/dpkg.cfg.d/osimage-slim',
                        'text': ''.join(['path-exclude=%s\n' % g for g in SLIM_EXCLUDE]
                                        + ['path-include=%s\n' % g for g in SLIM_INCLUDE])},
        # The priorities a request's repository may take (apt's pin priorities; rpm families: their tool's).
        'repository_priority': {'min': -1, 'max': 1000, 'hint': 'a pin priority from -1 to 1000 (990 prefers this '
                                                                'repository)'},
        'components': ['main'],
        'keyring_dir': '/etc/apt/keyrings',
        # Keys trusted for every source: where the key of location.mirror_key_file goes, since the sources the
        # bootstrap wrote into the image name that mirror.
        'trusted_keys_dir': '/etc/apt/trusted.gpg.d',
        'bootloaders': ['grub', 'systemd-boot', 'extlinux'],
        'initramfs': 'initramfs-tools',
        'initramfs_update': ['update-initramfs', '-u', '-k', 'all'],
        # The initramfs of kernel VERSION in /boot (name % VERSION).
        'initrd_name': 'initrd.img-%s',
        # GRUB in the image (roles/bootloader; the live ISO runs the tree's own grub-mkimage): its mkimage, the
        # directory of its platforms' module directories (i386-pc, x86_64-efi...), its directory in /boot, how
        # the menu is written (roles/bootloader/tasks/grub-config-CONFIG.yml: 'menu' entries in grub.cfg, or
        # 'bls' Boot Loader Specification entries that grub.cfg's blscfg reads), the ESP's EFI/VENDOR
        # directory, and the signed shim and GRUB that Secure Boot copies there.
        'grub': {'mkimage': 'grub-mkimage', 'lib': '/usr/lib/grub', 'dir': '/boot/grub', 'config': 'menu',
                 'efi_vendor': 'debian', 'shim_signed': '/usr/lib/shim/shim{efi}.efi.signed',
                 'grub_signed': '/usr/lib/grub/{grub_efi}-signed/grub{efi}.efi.signed'},
        # extlinux's MBR boot code (mbr.bin, gptmbr.bin) in the image.
        'extlinux_lib': '/usr/lib/EXTLINUX',
        # How the location role sets NTP and DNS servers (roles/location/tasks/ntp_*.yml and dns_*.yml).
        'time_sync': 'timesyncd',
        'resolver': 'resolved',
        'ssh_service': 'ssh.service',
        'network': 'systemd-networkd',
        # The network role writes DHCP for every Ethernet interface in 'network' terms (roles/network/templates)
        # to its file, and enables the units.
        'network_units': ['systemd-networkd.service', 'systemd-resolved.service'],
        'network_config': {'path': '/etc/systemd/network/80-osimage-dhcp.network', 'mode': '0644'},
        'mac': 'apparmor',
        'apparmor_service': 'apparmor.service',
        # How the tree gets its SELinux labels once every file is written (roles/hygiene/tasks/relabel_RELABEL.yml;
        # '' for none): 'setfiles' with the policy's file contexts, in the tree, as an installer does.
        'selinux': {'relabel': ''},
        # The rule set file nftables.service loads.
        'firewall_conf': '/etc/nftables.conf',
        # What package scripts run instead of starting services in the chroot (invoke-rc.d asks it; exit 101).
        'service_policy': '/usr/sbin/policy-rc.d',
        # The package manager's configuration file that holds the build's own settings, its proxy and snapshot_config
        # (the hygiene role removes it),
        # and the files in which a proxy left by the build would show.
        'proxy_conf': '/etc/apt/apt.conf.d/00osimage-build-proxy',
        'proxy_files': ['/etc/apt/apt.conf.d/*'],
        # Package caches and lists the hygiene role empties (their entries but 'keep'), and what the verify play
        # must not find in a booted image.
        'package_cache': {'dirs': ['/var/cache/apt', '/var/lib/apt/lists'], 'keep': ['lock', 'partial', 'auxfiles']},
        'package_leftovers': ['/var/cache/apt/archives/*.deb', '/var/lib/apt/lists/*_Packages*'],
        # Locale mechanics: the list of locales to compile and its compiler, and pam_env's file linked to
        # /etc/locale.conf; the tz name file; the keyboard file (XKB* variables) and its family-only lines.
        'locale_gen': {'file': '/etc/locale.gen', 'command': ['locale-gen']},
        'locale_links': ['/etc/default/locale'],
        'timezone_file': '/etc/timezone',
        'keyboard': {'file': '/etc/default/keyboard', 'extra': ['BACKSPACE="guess"']},
        # Automatic updates are switched through the package manager's tasks (roles/security/tasks/updates_apt.yml);
        # the verify play runs 'probe' in the guest, which prints 'on' or 'off'.
        'automatic_updates': {'probe': ['apt-config', 'dump', 'APT::Periodic::Unattended-Upgrade'],
                              'on': 'APT::Periodic::Unattended-Upgrade "1";',
                              'off': 'APT::Periodic::Unattended-Upgrade "0";'},
        # Where the request's repositories are written (dir/NAME suffix) and the line prefixes of their URI, key
        # and pin priority, which the verify play looks for; 'probe' prints on stderr lines matching 'errors' when
        # the package manager cannot read them.
        'repository_check': {'dir': '/etc/apt/sources.list.d', 'suffix': '.sources', 'uri': 'URIs: ',
                             'key': 'Signed-By: ', 'pin_dir': '/etc/apt/preferences.d', 'pin_suffix': '.pref',
                             'pin': 'Pin-Priority: ', 'probe': ['apt-cache', 'policy'], 'errors': '^[EW]:'},
        # The live ISO: the initramfs files in /boot and what the tree must hold to boot one (live-boot's hook).
        'initrd_glob': 'initrd.img-*',
        'live_needs': ['usr/share/initramfs-tools/scripts/live'],
        'live_args': ['boot=live'],
        # Groups every image of the family has (base-passwd, then systemd, openssh and the base packages).
        'system_groups': ('root', 'daemon', 'bin', 'sys', 'adm', 'tty', 'disk', 'lp', 'mail', 'news', 'uucp', 'man',
                          'proxy', 'kmem', 'dialout', 'fax', 'voice', 'cdrom', 'floppy', 'tape', 'sudo', 'audio',
                          'dip', 'www-data', 'backup', 'operator', 'list', 'irc', 'src', 'shadow', 'utmp', 'video',
                          'sasl', 'plugdev', 'staff', 'games', 'users', 'nogroup', 'input', 'kvm', 'render', 'sgx',
                          'systemd-journal', 'systemd-network', 'systemd-resolve', 'systemd-timesync', 'messagebus',
                          '_ssh', 'crontab', 'netdev'),
        'packages': {
            'base': ['initramfs-tools', 'zstd', 'systemd', 'systemd-sysv', 'udev', 'dbus', 'openssh-server', 'sudo',
                     'iproute2', 'python3', 'python3-apt', 'ca-certificates'],
            'kernel': ['linux-image-{arch}'],
            'network': ['systemd-resolved'],
            'grub-bios': ['grub-pc-bin'],
            'grub-efi': ['grub-efi-{arch}-bin'],
            'secure-boot': ['shim-signed', 'grub-efi-{arch}-signed'],
            'systemd-boot': ['systemd-boot-efi', 'systemd-ukify'],
            'extlinux': ['extlinux'],
            'growpart': ['cloud-guest-utils'],
            'xfs': ['xfsprogs'], 'btrfs': ['btrfs-progs'], 'vfat': ['dosfstools'], 'lvm': ['lvm2'],
            'locales': ['locales'],
            'tzdata': ['tzdata'],
            'keyboard': ['keyboard-configuration'],
            'firewall': ['nftables'],
            'automatic-updates': ['unattended-upgrades'],
            'mac': ['apparmor'],
            'cloud-init': ['cloud-init', 'cloud-guest-utils', 'e2fsprogs'],
            'ntp': ['systemd-timesyncd'],
            'live': ['live-boot', 'grub-efi-{arch}-bin'],
        },
    },
    'el': {
        'package_manager': 'dnf',
        'bootstrap': {'module': 'rpm_bootstrap', 'tools': ['dnf']},
        # grub2 reads Boot Loader Specification entries; shim-{efi} and grub2-efi-{efi} install their signed
        # binaries into the ESP's EFI/VENDOR themselves (each distribution names its VENDOR).
        'grub': {'mkimage': 'grub2-mkimage', 'lib': '/usr/lib/grub', 'dir': '/boot/grub2', 'config': 'bls',
                 'efi_vendor': None, 'shim_signed': '/boot/efi/EFI/{efi_vendor}/shim{efi}.efi',
                 'grub_signed': '/boot/efi/EFI/{efi_vendor}/grub{efi}.efi'},
        'initrd_name': 'initramfs-%s.img',
        'network': 'NetworkManager',
        'resolver': 'networkmanager',
        'mac': 'selinux',
        # mke2fs -d carries the labels (security.selinux extended attributes) into the file system.
        'selinux': {'relabel': 'setfiles', 'file_contexts': '/etc/selinux/targeted/contexts/files/file_contexts'},
        'network_units': ['NetworkManager.service'],
        'network_config': {'path': '/etc/NetworkManager/conf.d/80-osimage-dhcp.conf', 'mode': '0644'},
        'apparmor_service': '',
        'firewall_conf': '/etc/sysconfig/nftables.conf',
        **RPM_MECHANICS,
        'proxy_files': ['/etc/dnf/dnf.conf'],
        'package_cache': {'dirs': ['/var/cache/dnf'], 'keep': []},
        'package_leftovers': ['/var/cache/dnf/*/packages/*.rpm', '/var/cache/dnf/*/repodata/*'],
        'automatic_updates': _timer_switch('dnf-automatic-install.timer'),
        'keyring_dir': '/etc/pki/rpm-gpg',
        'repository_file': DNF_REPOSITORY_FILE,
        # dnf (and yum's priorities before it) documents 1 to 99, its default: the lower, the more preferred.
        'repository_priority': {'min': 1, 'max': 99, 'hint': "a dnf priority from 1 to 99 (dnf's default is 99; "
                                                             "1 prefers this repository)"},
        'repository_check': _rpm_repository_check(DNF_REPOSITORY_FILE, ['dnf', '-q', 'repolist'],
                                                  '^(Error|Warning):'),
        'initrd_glob': 'initramfs-*.img',
        'live_needs': ['usr/lib/dracut/modules.d/90dmsquash-live'],
        'system_groups': ('root', 'bin', 'daemon', 'sys', 'adm', 'tty', 'disk', 'lp', 'mem', 'kmem', 'wheel', 'cdrom',
                          'mail', 'man', 'dialout', 'floppy', 'games', 'tape', 'video', 'ftp', 'lock', 'audio',
                          'users', 'nobody', 'utmp', 'utempter', 'input', 'kvm', 'render', 'systemd-journal',
                          'systemd-coredump', 'dbus', 'ssh_keys', 'sshd', 'tss'),
        'rpm_dbpath': '/var/lib/rpm',
        'packages': {
            'base': ['dracut', 'systemd', 'openssh-server', 'sudo', 'iproute', 'python3', 'ca-certificates',
                     'rpm', 'dnf', 'passwd', 'selinux-policy-targeted'],
            'kernel': ['kernel-core'],
            'network': ['NetworkManager'],
            'grub-bios': ['grub2-pc'],
            'grub-efi': ['grub2-efi-{efi}', 'grub2-efi-{efi}-modules', 'efibootmgr'],
            'secure-boot': ['shim-{efi}', 'grub2-efi-{efi}'],
            'growpart': ['cloud-utils-growpart'],
            'xfs': ['xfsprogs'], 'btrfs': ['btrfs-progs'], 'vfat': ['dosfstools'], 'lvm': ['lvm2'],
            'locales': ['glibc-langpack-en'],
            'tzdata': ['tzdata'],
            'keyboard': ['kbd'],
            'firewall': ['nftables'],
            'automatic-updates': ['dnf-automatic'],
            'mac': ['selinux-policy-targeted'],
            'cloud-init': ['cloud-init', 'cloud-utils-growpart', 'e2fsprogs'],
            'ntp': ['chrony'],
            'live': ['dracut-live'],
        },
    },
    'suse': {
        'package_manager': 'zypper',
        'bootstrap': {'module': 'rpm_bootstrap', 'tools': ['zypper']},
        # SUSE's grub2 writes a menu; shim and grub2-{grub_efi} keep their signed binaries under /usr/share/efi.
        'grub': {'mkimage': 'grub2-mkimage', 'lib': '/usr/share/grub2', 'dir': '/boot/grub2', 'config': 'menu',
                 'efi_vendor': None, 'shim_signed': '/usr/share/efi/{arch}/shim.efi',
                 'grub_signed': '/usr/share/efi/{arch}/grub.efi'},
        'initrd_name': 'initrd-%s',
        'network': 'wicked',
        # wicked's netconfig writes resolv.conf from its static servers.
        'resolver': 'netconfig',
        'mac': 'apparmor',
        'selinux': {'relabel': ''},
        'network_units': ['wicked.service'],
        # wicked configures interfaces by name: eth0 (not proven here).
        'network_config': {'path': '/etc/sysconfig/network/ifcfg-eth0', 'mode': '0644'},
        'apparmor_service': 'apparmor.service',
        'firewall_conf': '/etc/nftables.conf',
        **RPM_MECHANICS,
        # /etc/sysconfig/proxy names 'proxy' even when unset; zypper takes the build's from the environment.
        'proxy_files': [],
        'package_cache': {'dirs': ['/var/cache/zypp/packages', '/var/cache/zypp/raw', '/var/cache/zypp/solv'], 'keep': []},
        'package_leftovers': ['/var/cache/zypp/packages/*/*/*.rpm', '/var/cache/zypp/raw/*'],
        'automatic_updates': _timer_switch('osimage-zypper-patch.timer'),
        # Where SUSE's own and added repository keys live (suse-build-key ships its keys there).
        'keyring_dir': '/usr/lib/rpm/gnupg/keys',
        'repository_file': ZYPPER_REPOSITORY_FILE,
        # zypper takes a positive priority (0 means its default, 99): the lower, the more preferred.
        'repository_priority': {'min': 1, 'max': 2 ** 31 - 1, 'hint': "a zypper priority of 1 or more (zypper's "
                                                                      "default is 99; 1 prefers this repository)"},
        'repository_check': _rpm_repository_check(ZYPPER_REPOSITORY_FILE, ['zypper', '--non-interactive', 'repos'],
                                                  '^(Error|Warning):'),
        'initrd_glob': 'initrd-*',
        'live_needs': ['usr/lib/dracut/modules.d/90kiwi-live'],
        'system_groups': ('root', 'bin', 'daemon', 'sys', 'tty', 'disk', 'lp', 'www', 'kmem', 'wheel', 'mail', 'news',
                          'uucp', 'shadow', 'dialout', 'audio', 'floppy', 'cdrom', 'console', 'utmp', 'public',
                          'video', 'games', 'trusted', 'modem', 'man', 'users', 'nobody', 'nogroup', 'maildrop',
                          'messagebus', 'systemd-journal', 'sshd', 'kvm', 'render', 'input'),
        'rpm_dbpath': '/usr/lib/sysimage/rpm',
        'package_verbs': {'install': ['install', '--no-recommends'], 'remove': ['remove', '--clean-deps']},
        'packages': {
            'base': ['dracut', 'systemd', 'openssh-server', 'sudo', 'iproute2', 'python3', 'ca-certificates',
                     'rpm', 'zypper', 'shadow'],
            'kernel': ['kernel-default'],
            'network': ['wicked'],
            'grub-bios': ['grub2-i386-pc'],
            'grub-efi': ['grub2-{grub_efi}'],
            'secure-boot': ['shim', 'grub2-{grub_efi}'],
            'growpart': ['growpart'],
            'xfs': ['xfsprogs'], 'btrfs': ['btrfsprogs'], 'vfat': ['dosfstools'], 'lvm': ['lvm2'],
            'locales': ['glibc-locale'],
            'tzdata': ['timezone'],
            'keyboard': ['kbd'],
            'firewall': ['nftables'],
            'automatic-updates': ['zypper-needs-restarting'],
            'mac': ['apparmor-parser', 'apparmor-profiles'],
            'cloud-init': ['cloud-init', 'growpart', 'e2fsprogs'],
            'ntp': ['chrony'],
            'live': ['dracut-kiwi-live'],
        },
    },
}


def _ovf(cim, vmware, name):
    """How an OVA's OperatingSystemSection names the distribution: the CIM_OperatingSystem OSType id (DMTF CIM
    schema; VirtualBox reads it), VMware's guest id (vSphere API VirtualMachineGuestOsIdentifier) and the text.
    Both arches osimage builds are 64-bit, so the 64-bit ids serve both."""
    return {'cim': str(cim), 'vmware': vmware, 'description': name + ' (64-bit)'}


def _el_repositories(release_dir, gpgkey):
    """The BaseOS and AppStream repositories of an Enterprise Linux mirror, under ``{mirror}/release_dir``."""
    return [{'name': name.lower(), 'baseurl': '{mirror}/%s/%s/{arch}/os/' % (release_dir, name), 'gpgkey': gpgkey}
            for name in ('BaseOS', 'AppStream')]


# The repository ids an Enterprise Linux rebuild's own .repo files use besides BaseOS and AppStream: a request's
# repository may not take them (distros.facts adds each distribution's own 'repositories' to its
# 'reserved_repositories').
EL_REPOSITORY_IDS = ['crb', 'extras', 'devel', 'plus', 'highavailability', 'resilientstorage', 'nfv', 'rt', 'sap',
                     'saphana']

# How each distribution is proven on a machine like the CI's: 'boot' (built, booted and verified by the
# default test run), 'local-repo' (its family's bootstrap is tested against repositories the tests make;
# booting it needs its mirror), 'unproven' (reachable here, but no test builds it yet).
DISTROS = {
    'debian': {
        'family': 'debian',
        'mirror': 'http://deb.debian.org/debian',
        'security_mirror': 'http://deb.debian.org/debian-security',
        # Suites besides the release itself, so the image starts with current packages.
        'suites': ['{release}-updates', 'security:{release}-security'],
        # debian12_64Guest is the newest Debian id vSphere 8 knows; later releases keep it.
        'ovf': _ovf(96, 'debian12_64Guest', 'Debian GNU/Linux {version}'),
        'releases': {
            'bookworm': {'version': '12', 'proof': 'boot'},
            'trixie': {'version': '13', 'proof': 'boot', 'ukify': True},
            'forky': {'version': '14', 'proof': 'unproven', 'ukify': True, 'suites': []},
        },
    },
    'ubuntu': {
        'family': 'debian',
        'mirror': 'http://archive.ubuntu.com/ubuntu',
        'security_mirror': 'http://security.ubuntu.com/ubuntu',
        'suites': ['{release}-updates', 'security:{release}-security'],
        'components': ['main', 'universe'],
        # Debian has no ubuntu-keyring package: the archive key ships with osimage.
        'keyring': 'ubuntu-archive-keyring-2018.gpg',
        # Ubuntu's signed GRUB looks for its grub.cfg in EFI/ubuntu.
        'grub': {'efi_vendor': 'ubuntu'},
        'network': 'netplan',
        'network_config': {'path': '/etc/netplan/80-osimage-dhcp.yaml', 'mode': '0600'},
        # Ubuntu's arm64 packages are on another mirror (ports), which the table does not name yet.
        'arches': ['amd64'],
        'packages': {'kernel': ['linux-image-virtual'], 'network': ['netplan.io', 'systemd-resolved']},
        'ovf': _ovf(94, 'ubuntu64Guest', 'Ubuntu {version}'),
        'releases': {
            'jammy': {'version': '22.04', 'proof': 'local-repo'},
            'noble': {'version': '24.04', 'proof': 'local-repo', 'ukify': True},
        },
    },
    'rocky': {
        'grub': {'efi_vendor': 'rocky'},
        'family': 'el',
        'mirror': 'https://dl.rockylinux.org/pub/rocky',
        'repositories': _el_repositories('{version}', '{mirror}/RPM-GPG-KEY-Rocky-{version}'),
        'ovf': _ovf(80, 'rockylinux_64Guest', 'Rocky Linux {version}'),
        'reserved_repositories': EL_REPOSITORY_IDS,
        'releases': {'9': {'version': '9', 'proof': 'local-repo'}},
    },
    'almalinux': {
        'grub': {'efi_vendor': 'almalinux'},
        'family': 'el',
        'mirror': 'https://repo.almalinux.org/almalinux',
        'repositories': _el_repositories('{version}', '{mirror}/RPM-GPG-KEY-AlmaLinux-{version}'),
        'ovf': _ovf(80, 'almalinux_64Guest', 'AlmaLinux {version}'),
        'reserved_repositories': EL_REPOSITORY_IDS,
        'releases': {'9': {'version': '9', 'proof': 'local-repo'}},
    },
    'centos-stream': {
        'grub': {'efi_vendor': 'centos'},
        'family': 'el',
        'mirror': 'https://mirror.stream.centos.org',
        'repositories': _el_repositories('{version}-stream',
                                         'https://www.centos.org/keys/RPM-GPG-KEY-CentOS-Official-SHA256'),
        'ovf': _ovf(107, 'centos9_64Guest', 'CentOS Stream {version}'),
        # vSphere 8 has no CentOS 10 id: the generic CentOS one.
        'reserved_repositories': ['crb', 'extras-common', 'highavailability', 'resilientstorage', 'nfv', 'rt'],
        'releases': {'9': {'version': '9', 'proof': 'local-repo'},
                     '10': {'version': '10', 'proof': 'local-repo', 'rpm_dbpath': '/usr/lib/sysimage/rpm',
                            'ovf': {'vmware': 'centos64Guest'}}},
    },
    'fedora': {
        'grub': {'efi_vendor': 'fedora'},
        'family': 'el',
        'mirror': 'https://dl.fedoraproject.org/pub/fedora/linux',
        'rpm_dbpath': '/usr/lib/sysimage/rpm',
        # CIM has no Fedora id: 101 is "Linux 64-Bit".
        'ovf': _ovf(101, 'fedora64Guest', 'Fedora Linux {version}'),
        'repositories': [
            {'name': 'fedora', 'baseurl': '{mirror}/releases/{version}/Everything/{arch}/os/',
             'gpgkey': '{mirror}/releases/{version}/Everything/{arch}/os/RPM-GPG-KEY-fedora-{version}-primary'},
            {'name': 'updates', 'baseurl': '{mirror}/updates/{version}/Everything/{arch}/',
             'gpgkey': '{mirror}/releases/{version}/Everything/{arch}/os/RPM-GPG-KEY-fedora-{version}-primary'},
        ],
        'reserved_repositories': ['updates-testing', 'fedora-cisco-openh264'],
        'releases': {'44': {'version': '44', 'proof': 'local-repo'}, '45': {'version': '45', 'proof': 'local-repo'}},
    },
    'opensuse-leap': {
        'grub': {'efi_vendor': 'opensuse'},
        'family': 'suse',
        'mirror': 'http://download.opensuse.org',
        'ovf': _ovf(83, 'opensuse64Guest', 'openSUSE Leap {version}'),
        'repositories': [
            {'name': 'oss', 'baseurl': '{mirror}/distribution/leap/{version}/repo/oss/',
             'gpgkey': '{mirror}/distribution/leap/{version}/repo/oss/repodata/repomd.xml.key'},
            {'name': 'update', 'baseurl': '{mirror}/update/leap/{version}/oss/',
             'gpgkey': '{mirror}/distribution/leap/{version}/repo/oss/repodata/repomd.xml.key'},
        ],
        'reserved_repositories': ['repo-oss', 'repo-non-oss', 'repo-update', 'repo-update-non-oss',
                                  'repo-backports-update', 'repo-sle-update', 'repo-openh264'],
        'releases': {'15.6': {'version': '15.6', 'proof': 'local-repo'}},
    },
    'sles': {
        'grub': {'efi_vendor': 'sles'},
        'family': 'suse',
        # No public mirror: installation media or an RMT server that the user names (registration stays theirs).
        'mirror': None,
        'ovf': _ovf(85, 'sles15_64Guest', 'SUSE Linux Enterprise Server {version}'),
        'repositories': [
            {'name': 'basesystem', 'baseurl': '{mirror}/Products/SLE-Module-Basesystem/{version}/{arch}/product/',
             'gpgkey': '{mirror}/Products/SLE-Module-Basesystem/{version}/{arch}/product/repodata/repomd.xml.key'},
        ],
        'releases': {'15-SP6': {'version': '15.6', 'proof': 'local-repo'}},
    },
}


class DistroError(ValueError):
    """A distribution, release or architecture osimage does not build; ``key`` is the request key."""

    def __init__(self, key, message):
        self.key = key
        super().__init__(message)


def _merge(base, over):
    """``over`` merged into a copy of ``base``: mappings key by key, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def family_of(distro):
    """The family of a known distribution; None for an unknown one."""
    return DISTROS[distro]['family'] if distro in DISTROS else None


def facts(distro, release, arch='amd64'):
    """Family, distribution and release data merged (templates not yet filled); DistroError when unknown."""
    if distro not in DISTROS:
        raise DistroError('distro', "'%s' is not a distribution osimage builds; choose one of: %s"
                          % (distro, ', '.join(DISTROS)))
    entry = DISTROS[distro]
    if release not in entry['releases']:
        raise DistroError('release', "'%s' is not a release of %s; choose one of: %s"
                          % (release, distro, ', '.join(entry['releases'])))
    layers = {k: v for k, v in entry.items() if k != 'releases'}
    merged = _merge(_merge(FAMILIES[entry['family']], layers), entry['releases'][release])
    if arch not in merged.get('arches', list(ARCHES)):
        raise DistroError('arch', "%s %s is not built for '%s'; choose one of: %s"
                          % (distro, release, arch, ', '.join(merged.get('arches', ARCHES))))
    merged['reserved_repositories'] = merged.get('reserved_repositories', []) + [
        r['name'] for r in merged.get('repositories', [])]
    merged.update(distro=distro, release=release, arch=arch, arches=merged.get('arches', list(ARCHES)),
                  machine=copy.deepcopy(ARCHES[arch]), dns_check=copy.deepcopy(DNS_CHECKS[merged['resolver']]),
                  ntp_check=copy.deepcopy(NTP_CHECKS[merged['time_sync']]))
    return merged


def _fill(value, fields):
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, list):
        return [_fill(v, fields) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, fields) for k, v in value.items()}
    return value


def resolve(distro, release, arch, mirror, security_mirror=None, mirror_key=None):
    """The build's ``os`` facts: the merged table with its templates filled for this release, arch and mirror.

    ``security_mirror`` replaces the distro's security mirror, ``mirror_key`` (a key file) the archive key that
    signs the mirror: the shipped keyring of an apt distribution, the gpgkey of each rpm repository.
    """
    merged = facts(distro, release, arch)
    if security_mirror:
        merged['security_mirror'] = security_mirror.rstrip('/')
    machine = ARCHES[arch]
    fields = {'release': release, 'version': merged['version'], 'mirror': mirror.rstrip('/'),
              'arch': machine['rpm' if merged['package_db'] == 'rpm' else 'debian'],
              'efi': machine['efi'], 'grub_efi': machine['grub_efi'], 'efi_vendor': merged['grub']['efi_vendor']}
    out = _fill({k: v for k, v in merged.items() if k != 'suites'}, fields)
    out['mirror'] = mirror
    if out.get('keyring'):
        out['keyring'] = os.path.join(KEYS_DIR, out['keyring'])
    if mirror_key:
        out['keyring'] = mirror_key
        for repo in out.get('repositories', []):
            repo['gpgkey'] = mirror_key
    out['arch_name'] = fields['arch']
    out['efi_arch'] = machine['efi']
    out['grub_efi_target'] = machine['grub_efi']
    # An apt distribution's extra suites as one-line sources; preflight probes ({key: the request key of its
    # mirror, url}) each suite's index, or each repository's of an rpm distribution.
    suites = [_suite(s, fields, merged) for s in merged.get('suites', [])]
    out['sources'] = ['deb %s %s %s' % (base, suite, ' '.join(merged['components'])) for key, base, suite in suites]
    if 'repositories' in out:
        out['probes'] = [{'key': 'mirror', 'url': r['baseurl'].rstrip('/') + '/repodata/repomd.xml'}
                         for r in out['repositories']]
    else:
        out['probes'] = [{'key': key, 'url': merged['suite_probe'] % {'mirror': base, 'suite': suite}}
                         for key, base, suite in [('mirror', fields['mirror'], release)] + suites]
    return out


def slim(os_entry, locale):
    """What a slim image's customization does for ``locale``: its package manager's setting ({path, text}) and the
    argv that removes what the bootstrap already installed of the same paths, printing a dot per file."""
    language = {'language': locale.split('_')[0].split('.')[0]}
    include = [g % language for g in SLIM_INCLUDE]

    def any_of(globs):
        return ['('] + [w for i, g in enumerate(globs) for w in ['-o'] * bool(i) + ['-path', g]] + [')']
    return {'config': {'path': os_entry['slim_config']['path'], 'text': os_entry['slim_config']['text'] % language},
            'prune': ['find', SLIM_ROOT, *any_of(SLIM_EXCLUDE), '!', *any_of(include), '!', '-type', 'd',
                      '-printf', '.', '-delete']}


def repository_index_urls(os_entry, repo):
    """The index URLs of a request's repository ``repo`` on the resolved ``os_entry``: one list of alternatives per
    suite (one list for a family whose repositories have none), the family's ``repository_index`` paths."""
    base = repo['uri'].rstrip('/')
    return [[base + '/' + path % {'suite': suite} for path in os_entry['repository_index']]
            for suite in repo.get('suites') or [None]]


def _suite(suite, fields, merged):
    """(the request key of its mirror, the mirror, the suite) of an extra suite ('security:' names the security
    mirror)."""
    if suite.startswith('security:'):
        return 'security_mirror', merged['security_mirror'], suite[len('security:'):].format(**fields)
    return 'mirror', fields['mirror'], suite.format(**fields)


def packages(os_facts, needs):
    """The family's package names for the neutral ``needs`` (such as grub-efi, locales), in order, once each."""
    names = []
    for need in needs:
        names.extend(p for p in os_facts['packages'].get(need, []) if p not in names)
    return names


def by_family(value):
    """A data file's package or unit list per family: a mapping names each family's own (a family it does not
    name has none), a plain list is every family's."""
    if isinstance(value, dict):
        return {family: list(value.get(family) or []) for family in FAMILIES}
    return {family: list(value or []) for family in FAMILIES}


def catalogue():
    """Every distribution and release: distro, release, version, family, arches, default mirror, proof."""
    rows = []
    for distro, entry in DISTROS.items():
        for release in entry['releases']:
            merged = facts(distro, release)
            rows.append({'distro': distro, 'release': release, 'version': merged['version'],
                         'family': entry['family'], 'arches': merged['arches'], 'mirror': entry['mirror'],
                         'bootstrap': merged['bootstrap']['tools'][0], 'proof': merged['proof']})
    return rows
