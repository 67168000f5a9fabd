"""A signed rpm-md repository, made and served by the test process on 127.0.0.1.

Tiny noarch packages are built with rpmbuild from spec files written here, signed with rpmsign and a throwaway
gpg key (all but one), indexed with createrepo_c, each directory's repomd.xml signed (repomd.xml.asc, its key
beside it as repomd.xml.key, as zypper looks for it) unless ``metadata`` says otherwise, and served over HTTP by a
thread.
"""

import functools
import os
import shutil
import subprocess
import tempfile

from local_apt import LocalRepository, _Quiet, _run, _serve

BUSYBOX = '/usr/bin/busybox'
# name: (version, spec body after the header). osimage-sh gives the tree the /bin/sh its scriptlets run with.
PACKAGES = {
    'osimage-sh': ('1.0', 'AutoReqProv: no\n\n%%description\nbusybox as /bin/sh\n\n%%install\n'
                          'mkdir -p %%{buildroot}/usr/bin %%{buildroot}/bin\ncp %s %%{buildroot}/usr/bin/busybox\n'
                          'ln -s /usr/bin/busybox %%{buildroot}/bin/sh\n\n%%files\n/usr/bin/busybox\n/bin/sh\n'
                   % BUSYBOX),
    'osimage-base': ('2.1', 'Requires: osimage-sh\n\n%description\na file\n\n%install\n'
                            'mkdir -p %{buildroot}/usr/share/osimage-base\n'
                            'echo base > %{buildroot}/usr/share/osimage-base/base.txt\n\n'
                            '%files\n/usr/share/osimage-base\n'),
    'osimage-hello': ('1.3', 'Requires: osimage-base\n\n%description\na %post that leaves a file\n\n%install\n'
                             'mkdir -p %{buildroot}/var/lib/osimage-hello\n\n'
                             '%post\necho "post ran" > /var/lib/osimage-hello/post-ran\n\n'
                             '%files\n/var/lib/osimage-hello\n'),
    'osimage-unsigned': ('0.1', '%description\nnot signed\n\n%files\n'),
    'osimage-stranger': ('0.1', '%description\nsigned with a key the repository does not publish\n\n%files\n'),
}
UNSIGNED = ('osimage-unsigned',)
# Signed by a second key, which key_file does not hold.
STRANGER = ('osimage-stranger',)
REPO_UID = 'osimage test rpm repository <rpm@osimage.invalid>'
STRANGER_UID = 'someone else <stranger@osimage.invalid>'
KEY_NAME = 'RPM-GPG-KEY-osimage-test'


def spec_text(name, version, body):
    """An rpm spec file: the header every package shares, then ``body``."""
    return ('Name: %s\nVersion: %s\nRelease: 1\nSummary: osimage test package %s\nLicense: GPL-3.0-or-later\n'
            'BuildArch: noarch\n%s' % (name, version, name, body))


class LocalRpmRepository:
    """The repository: ``baseurl``, ``key_file`` and ``key_url`` (its armored public key, also served),
    ``packages`` {name: version},
    ``unsigned`` and ``stranger`` (the packages left unsigned, and signed with another key), ``requests()``.

    ``packages`` ({name: (version, spec body)}, default PACKAGES) go into the repositories ``layout`` names
    ({directory under baseurl: [names]}; default: all at baseurl itself); the key is served as ``key_name``.
    ``metadata`` ({directory: 'unsigned' or 'stranger'}) leaves a directory's repomd.xml unsigned or signs it
    with the second key.
    """

    def __init__(self, packages=None, layout=None, key_name=KEY_NAME, metadata=None):
        self.dir = tempfile.mkdtemp(prefix='osimage-rpm-repo-')
        self.gnupg = os.path.join(self.dir, 'gnupg')
        os.mkdir(self.gnupg, 0o700)
        self.home = os.path.join(self.dir, 'home')
        self.repo = os.path.join(self.dir, 'repo')
        specs = PACKAGES if packages is None else packages
        self.packages = {name: spec[0] for name, spec in specs.items()}
        self.unsigned, self.stranger = UNSIGNED, STRANGER
        self._build(specs, layout or {'': list(specs)}, key_name, metadata or {})
        self.server = _serve(functools.partial(_Quiet, directory=self.repo))
        self.baseurl = 'http://127.0.0.1:%d/' % self.server.server_address[1]
        self.key_url = self.baseurl + key_name

    _gpg = LocalRepository._gpg  # gpg in batch mode with the repository's own GNUPGHOME (self.gnupg)

    def _rpm_tool(self, *argv):
        """rpmbuild or rpmsign with a private HOME, so no ~/.rpmmacros or ~/.rpmdb of the host's is used."""
        return _run(list(argv), env=dict(os.environ, HOME=self.home, GNUPGHOME=self.gnupg))

    def _build(self, specs, layout, key_name, metadata):
        os.makedirs(self.home)
        os.makedirs(self.repo)
        for uid in (REPO_UID, STRANGER_UID):
            self._gpg('--quick-gen-key', uid, 'rsa2048', 'sign', 'never')
        with open(os.path.join(self.home, '.rpmmacros'), 'w', encoding='utf-8') as f:
            f.write('%%_topdir %s\n%%__gpg /usr/bin/gpg\n%%_gpg_path %s\n'
                    '%%__os_install_post %%{nil}\n%%debug_package %%{nil}\n'
                    '%%_binaries_in_noarch_packages_terminate_build 0\n'
                    % (os.path.join(self.dir, 'rpmbuild'), self.gnupg))
        rpms = {}
        for name, (version, body) in specs.items():
            spec = os.path.join(self.dir, name + '.spec')
            with open(spec, 'w', encoding='utf-8') as f:
                f.write(spec_text(name, version, body))
            self._rpm_tool('rpmbuild', '-bb', spec)
            rpm = os.path.join(self.dir, 'rpmbuild', 'RPMS', 'noarch', '%s-%s-1.noarch.rpm' % (name, version))
            if name not in UNSIGNED:
                self._rpm_tool('rpmsign', '--define', '_gpg_name %s' % (STRANGER_UID if name in STRANGER else REPO_UID),
                               '--addsign', rpm)
            rpms[name] = rpm
        for directory, names in layout.items():
            target = os.path.join(self.repo, directory)
            os.makedirs(target, exist_ok=True)
            for name in names:
                shutil.copy(rpms[name], target)
            _run(['createrepo_c', '--no-database', target])
        self.key_file = os.path.join(self.repo, key_name)
        self._gpg('--export', '--armor', '--output', self.key_file, REPO_UID)
        for directory in layout:
            repomd = os.path.join(self.repo, directory, 'repodata', 'repomd.xml')
            signer = {'unsigned': None, 'stranger': STRANGER_UID}.get(metadata.get(directory), REPO_UID)
            if signer:
                self._gpg('--local-user', signer, '--detach-sign', '--armor', '--output', repomd + '.asc', repomd)
                self._gpg('--export', '--armor', '--output', repomd + '.key', signer)

    def requests(self):
        """Paths the repository served."""
        return list(self.server.seen)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        subprocess.run(['gpgconf', '--homedir', self.gnupg, '--kill', 'all'], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
