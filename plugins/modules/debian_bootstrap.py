#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bootstrap a Debian-family root tree with mmdebstrap or debootstrap."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: debian_bootstrap
short_description: Bootstrap a Debian or Ubuntu root tree with mmdebstrap or debootstrap
version_added: 0.1.0
description:
  - Creates a root file system tree for a Debian-family release in O(path), ready to be customized in a chroot.
  - The tree is built next to O(path) and renamed into place only when complete, so a failed run never leaves
    a half-made tree at O(path).
  - The packages' maintainer scripts run in the build sandbox (the tool's C(chroot) is
    C(plugins/module_utils/sandbox.py)), so they cannot see, signal or write to the host.
  - A stamp of the inputs is kept beside the tree; running again with the same inputs changes nothing.
  - With O(cache_dir), downloaded packages are kept between builds and the finished tree is cached, so the
    next build with the same inputs copies the tree instead of installing it again.
  - Files that the tools copy from the build host (C(/etc/resolv.conf), C(/etc/hostname)) are removed from the tree.
author: osimage developers (@osimage)
options:
  path:
    description: Directory of the root tree to create. Missing parent directories are created.
    type: path
    required: true
  suite:
    description: Release code name, for example V(bookworm) or V(trixie).
    type: str
    required: true
  mirror:
    description: Package mirror URL.
    type: str
    default: http://deb.debian.org/debian
  architecture:
    description: Debian architecture of the tree.
    type: str
    default: amd64
  variant:
    description:
      - Package selection to start from.
      - V(apt) is the essential set plus apt. With O(tool=debootstrap), V(apt) and V(minbase) both map to
        debootstrap's C(minbase), and the others to its default.
    type: str
    choices: [apt, minbase, required, important, standard]
    default: apt
  tool:
    description: Bootstrap tool.
    type: str
    choices: [mmdebstrap, debootstrap]
    default: mmdebstrap
  include:
    description: Extra packages installed while bootstrapping.
    type: list
    elements: str
    default: []
  extra_sources:
    description:
      - More one-line apt sources the bootstrap installs from, for example the release's updates and
        security suites, so the tree is current. mmdebstrap only; debootstrap takes one mirror.
    type: list
    elements: str
    default: []
  components:
    description: Archive components.
    type: list
    elements: str
    default: [main]
  keyring:
    description: Keyring file or directory used to verify the mirror. The host's keyrings are used when omitted.
    type: path
  cache_dir:
    description:
      - Directory for downloaded packages (C(debs/)) and finished trees (C(trees/)). No caching when omitted.
    type: path
  proxy:
    description:
      - HTTP proxy the bootstrap downloads through (C(http_proxy) and C(https_proxy) of the tool's
        environment). Not written into the tree and not part of the inputs that identify it.
    type: str
  tree_cache_max_age:
    description: Seconds a cached tree is reused before it is built afresh. V(0) turns the tree cache off.
    type: int
    default: 86400
  apt_options:
    description:
      - More apt settings for the bootstrap, such as V(Acquire::Check-Valid-Until "false";) for a snapshot mirror
        whose indexes are past their C(Valid-Until) (mmdebstrap's C(--aptopt); debootstrap does not check it).
      - Like O(retries), they are the build's, not the image's (removed from the tree with the file mmdebstrap
        keeps them in), and not part of the inputs that identify the tree.
    type: list
    elements: str
    default: []
    version_added: 0.6.0
  retries:
    description:
      - How many times apt retries a download that failed (mmdebstrap's C(Acquire::Retries), passed with
        C(--aptopt); the file mmdebstrap keeps it in, C(/etc/apt/apt.conf.d/99mmdebstrap), is removed from the
        tree). mmdebstrap runs C(--verbose), so each retry shows in the output as an C(Ign:) line before the next
        C(Get:) of the same file.
      - debootstrap has no such setting; it retries a corrupt download up to ten times by itself.
      - When a download fails in the end, the error names the mirror, what happened and the retries.
    type: int
    default: 3
    version_added: 0.3.0
notes:
  - Runs as root on the build host.
requirements:
  - mmdebstrap or debootstrap on the build host
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
extends_documentation_fragment:
  - osimage.builder.attributes
  - osimage.builder.progress
'''

EXAMPLES = r'''
- name: Bootstrap Debian 12 with a kernel and SSH
  osimage.builder.debian_bootstrap:
    path: /var/tmp/osimage/build1/root
    suite: bookworm
    include: [linux-image-amd64, systemd-sysv, openssh-server]
    cache_dir: /var/cache/osimage
'''

RETURN = r'''
path:
  description: The root tree.
  returned: always
  type: str
  sample: /var/tmp/osimage/build1/root
cached:
  description: Whether the tree was copied from the tree cache instead of being bootstrapped.
  returned: success
  type: bool
  sample: false
fingerprint:
  description: sha256 of the inputs that made the tree.
  returned: always
  type: str
cmd:
  description: The bootstrap command that ran, when one ran.
  returned: when a bootstrap ran
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osimage.builder.plugins.module_utils import bootstrap
from ansible_collections.osimage.builder.plugins.module_utils import progress
from ansible_collections.osimage.builder.plugins.module_utils import sandbox
from ansible_collections.osimage.builder.plugins.module_utils.runner import Runner

DEBOOTSTRAP_VARIANTS = {'apt': 'minbase', 'minbase': 'minbase'}
# Copy cached .debs in before the download, and new ones out after it. Paths come through the
# environment, never through the hook's shell text; files appear in the cache by atomic rename.
HOOK_IN = ('mkdir -p "$1/var/cache/apt/archives" && '
           'find "$OSIMAGE_DEB_CACHE" -maxdepth 1 -name "*.deb" -exec cp -t "$1/var/cache/apt/archives/" {} +')
# A full cache leaves no partial .deb: the copy is removed and the build goes on (named NAME.tmp-PID, the hook
# shell's, as osimage clean expects of a killed build's temporary files).
HOOK_OUT = ('for f in "$1"/var/cache/apt/archives/*.deb; do [ -e "$f" ] || continue; b=${f##*/}; '
            't="$OSIMAGE_DEB_CACHE/$b.tmp-$$"; [ -e "$OSIMAGE_DEB_CACHE/$b" ] || '
            '{ cp "$f" "$t" && mv "$t" "$OSIMAGE_DEB_CACHE/$b" || rm -f "$t"; }; done')
# The initramfs is made once, when every package is in: the kernel's postinst makes it, and packages configured
# before the kernel (udev, zstd...) leave initramfs-tools' trigger pending, which makes it again at the end - each
# 16 s of the default bootstrap's 60 here. So update-initramfs is diverted to a no-op once the essential packages are
# in (dpkg's own diversion: the package's file goes to the diverted name), and when every package is in, the diversion
# is removed and the initramfs of every installed kernel made, as the kernel's postinst would ('-c -k all').
INITRAMFS_OFF = ('chroot "$1" dpkg-divert --quiet --local --rename --divert %(diverted)s --add %(path)s && '
                 'printf "#!/bin/sh\\nexit 0\\n" > "$1%(path)s" && chmod 0755 "$1%(path)s"')
INITRAMFS_ON = ('rm -f "$1%(path)s" && '
                'chroot "$1" dpkg-divert --quiet --local --rename --divert %(diverted)s --remove %(path)s && '
                'if [ -x "$1%(path)s" ]; then chroot "$1" %(path)s -c -k all; fi')
INITRAMFS_PATHS = {'path': '/usr/sbin/update-initramfs', 'diverted': '/usr/sbin/update-initramfs.osimage-bootstrap'}
HOST_COPIES = ('etc/resolv.conf', 'etc/hostname')
# Where mmdebstrap writes the --aptopt settings in the tree (the build's own, not the image's).
APTOPT_FILE = 'etc/apt/apt.conf.d/99mmdebstrap'


def bootstrap_argv(params, target, deb_cache):
    """The mmdebstrap or debootstrap command line that builds ``target``."""
    include = ','.join(sorted(set(params['include'])))
    if params['tool'] == 'mmdebstrap':
        # --verbose: apt's own lines, so that a failed bootstrap's output shows each retry (Ign:) and failure (Err:).
        argv = ['mmdebstrap', '--mode=root', '--verbose', '--format=directory', '--variant=%s' % params['variant'],
                '--architectures=%s' % params['architecture'],
                '--components=%s' % ','.join(params['components']),
                '--aptopt=Acquire::Retries "%d"' % params['retries']]
        argv += ['--aptopt=' + option for option in params['apt_options']]
        if include:
            argv.append('--include=%s' % include)
        if params['keyring']:
            argv.append('--keyring=%s' % params['keyring'])
        argv += ['--essential-hook=' + INITRAMFS_OFF % INITRAMFS_PATHS,
                 '--customize-hook=' + INITRAMFS_ON % INITRAMFS_PATHS]
        if deb_cache:
            argv += ['--skip=essential/unlink', '--setup-hook=' + HOOK_IN, '--customize-hook=' + HOOK_OUT]
        return argv + [params['suite'], target, params['mirror']] + params['extra_sources']
    argv = ['debootstrap', '--arch=%s' % params['architecture'], '--components=%s' % ','.join(params['components'])]
    if params['variant'] in DEBOOTSTRAP_VARIANTS:
        argv.append('--variant=%s' % DEBOOTSTRAP_VARIANTS[params['variant']])
    if include:
        argv.append('--include=%s' % include)
    if params['keyring']:
        argv.append('--keyring=%s' % params['keyring'])
    if deb_cache:
        argv.append('--cache-dir=%s' % deb_cache)
    return argv + [params['suite'], target, params['mirror']]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            suite=dict(type='str', required=True),
            mirror=dict(type='str', default='http://deb.debian.org/debian'),
            architecture=dict(type='str', default='amd64'),
            variant=dict(type='str', default='apt', choices=['apt', 'minbase', 'required', 'important', 'standard']),
            tool=dict(type='str', default='mmdebstrap', choices=['mmdebstrap', 'debootstrap']),
            include=dict(type='list', elements='str', default=[]),
            extra_sources=dict(type='list', elements='str', default=[]),
            components=dict(type='list', elements='str', default=['main']),
            keyring=dict(type='path'),
            cache_dir=dict(type='path'),
            proxy=dict(type='str', no_log=True),
            tree_cache_max_age=dict(type='int', default=bootstrap.TREE_CACHE_MAX_AGE),
            retries=dict(type='int', default=3),
            apt_options=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    runner = Runner(module)
    path = os.path.abspath(params['path'])
    inputs = bootstrap.debian_inputs(params)
    result = bootstrap.start(module, path, inputs, 'debian_bootstrap')
    runner.which(params['tool'])
    cache = params['cache_dir']
    deb_cache = os.path.join(cache, 'debs', '%s-%s' % (params['suite'], params['architecture'])) if cache else None
    if deb_cache:
        os.makedirs(deb_cache, exist_ok=True)

    def make(partial):
        argv = bootstrap_argv(params, partial, deb_cache)
        # The tool runs maintainer scripts with the first chroot in PATH: the build sandbox.
        shim = os.path.dirname(sandbox.install(os.path.join(module.tmpdir, 'sandbox')))
        env = {'PATH': shim + os.pathsep + os.environ.get('PATH', os.defpath)}
        if deb_cache:
            env['OSIMAGE_DEB_CACHE'] = deb_cache
        if params['proxy']:
            env.update(http_proxy=params['proxy'], https_proxy=params['proxy'])
        counter = None
        if params['tool'] == 'mmdebstrap' and progress.enabled():  # only its verbose output names each package
            argv.insert(1, '--verbose')
            counter = progress.AptLines(progress.Reporter('fetched', 'packages'),
                                        progress.Reporter('installed', 'packages'))
        runner.run(argv, environ_update=env, what=params['tool'], lines=counter)
        if counter:
            counter.finish()
        result['cmd'] = argv
        bootstrap.remove_host_copies(partial, HOST_COPIES)
        if os.path.lexists(os.path.join(partial, APTOPT_FILE)):
            os.unlink(os.path.join(partial, APTOPT_FILE))

    bootstrap.build(runner, path, inputs, result, cache, params['tree_cache_max_age'], make)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
