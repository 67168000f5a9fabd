"""A signed apt repository and an HTTP proxy, made and served by the test process on 127.0.0.1.

The repository holds tiny packages made with dpkg-deb, a Packages index and a Release file written here,
signed (InRelease) with a throwaway gpg key. The proxy forwards plain HTTP requests and records them, to
prove a build went through it.
"""

import email.utils
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request

SUITE = 'osimage'
COMPONENT = 'main'
# name: (version, files it installs, description)
PACKAGES = {
    'osimage-hello': ('1.0', {'usr/share/osimage-hello/hello.txt': 'hello from the local repository\n'},
                      'a file from osimage\'s test repository'),
    # Older than Debian's hello: installed only when the repository's pin priority beats the mirror's.
    'hello': ('1.0-osimage', {'usr/share/doc/hello/osimage-pinned': 'pinned\n'},
              'a hello that wins only by pinning'),
}


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, **kwargs)


def _deb(workdir, name, version, files, description):
    root = os.path.join(workdir, 'src', name)
    os.makedirs(os.path.join(root, 'DEBIAN'))
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), 'w', encoding='utf-8') as f:
            f.write(text)
    with open(os.path.join(root, 'DEBIAN', 'control'), 'w', encoding='utf-8') as f:
        f.write('Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: osimage tests <tests@osimage.invalid>\n'
                'Priority: optional\nSection: misc\nDescription: %s\n' % (name, version, description))
    rel = 'pool/%s_%s_all.deb' % (name, version)
    os.makedirs(os.path.join(workdir, 'repo', 'pool'), exist_ok=True)
    _run(['dpkg-deb', '--root-owner-group', '-Zgzip', '--build', root, os.path.join(workdir, 'repo', rel)])
    return rel


def _stanza(repo, rel):
    path = os.path.join(repo, rel)
    control = _run(['dpkg-deb', '-f', path], text=True).stdout.rstrip('\n')
    with open(path, 'rb') as f:
        data = f.read()
    return '%s\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n' % (
        control, rel, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


def _release(repo, indexes):
    lines = ['Origin: osimage-test', 'Label: osimage-test', 'Suite: %s' % SUITE, 'Codename: %s' % SUITE,
             'Date: %s' % email.utils.formatdate(usegmt=True), 'Architectures: amd64',
             'Components: %s' % COMPONENT, 'Description: osimage test repository']
    for field, algo in (('MD5Sum', hashlib.md5), ('SHA256', hashlib.sha256)):
        lines.append(field + ':')
        for rel in indexes:
            with open(os.path.join(repo, 'dists', SUITE, rel), 'rb') as f:
                data = f.read()
            lines.append(' %s %d %s' % (algo(data).hexdigest(), len(data), rel))
    return '\n'.join(lines) + '\n'


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.seen.append(self.path)


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards GET and HEAD of absolute http:// URLs, as apt sends them to a proxy."""

    protocol_version = 'HTTP/1.1'
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def do_GET(self):
        self._forward(True)

    def do_HEAD(self):
        self._forward(False)

    def _forward(self, with_body):
        self.server.seen.append(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ('range', 'if-modified-since', 'if-range')}
        try:
            resp = self.opener.open(urllib.request.Request(self.path, method=self.command, headers=headers),
                                    timeout=120)
            status, body = resp.status, resp.read() if with_body else b''
        except urllib.error.HTTPError as exc:
            resp, status, body = exc, exc.code, b''
        except OSError:
            resp, status, body = None, 502, b''
        self.send_response(status)
        for name in ('Content-Type', 'Last-Modified', 'Content-Range'):
            if resp is not None and resp.headers.get(name):
                self.send_header(name, resp.headers[name])
        length = len(body) if with_body else (resp.headers.get('Content-Length', '0') if resp is not None else '0')
        self.send_header('Content-Length', str(length))
        self.end_headers()
        if with_body:
            self.wfile.write(body)


def _serve(handler):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.daemon_threads = True
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class LocalRepository:
    """The repository: ``uri``, ``suite``, ``component``, ``key_file`` and ``key`` (armored), ``packages``."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='osimage-repo-')
        self.gnupg = os.path.join(self.dir, 'gnupg')
        os.mkdir(self.gnupg, 0o700)
        self.repo = os.path.join(self.dir, 'repo')
        self.suite, self.component = SUITE, COMPONENT
        self.packages = {name: spec[0] for name, spec in PACKAGES.items()}
        self._build()
        self.server = _serve(functools.partial(_Quiet, directory=self.repo))
        self.uri = 'http://127.0.0.1:%d/' % self.server.server_address[1]

    def _gpg(self, *args):
        return _run(['gpg', '--homedir', self.gnupg, '--batch', '--yes', '--pinentry-mode', 'loopback',
                     '--passphrase', ''] + list(args))

    def _build(self):
        debs = [_deb(self.dir, name, *spec) for name, spec in PACKAGES.items()]
        binary = os.path.join(self.repo, 'dists', SUITE, COMPONENT, 'binary-amd64')
        os.makedirs(binary)
        with open(os.path.join(binary, 'Packages'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(_stanza(self.repo, rel) for rel in debs))
        release = os.path.join(self.repo, 'dists', SUITE, 'Release')
        with open(release, 'w', encoding='utf-8') as f:
            f.write(_release(self.repo, ['%s/binary-amd64/Packages' % COMPONENT]))
        self._gpg('--quick-gen-key', 'osimage test repository <repo@osimage.invalid>', 'ed25519', 'sign', 'never')
        self._gpg('--clearsign', '--output', os.path.join(os.path.dirname(release), 'InRelease'), release)
        self.key_file = os.path.join(self.dir, 'repo-key.asc')
        self._gpg('--export', '--armor', '--output', self.key_file)
        with open(self.key_file, encoding='ascii') as f:
            self.key = f.read()

    def requests(self):
        """Paths the repository served."""
        return list(self.server.seen)

    def close(self):
        self.server.shutdown()
        subprocess.run(['gpgconf', '--homedir', self.gnupg, '--kill', 'all'], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records every URL it forwarded."""

    def __init__(self):
        self.server = _serve(_Proxy)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]

    def requests(self):
        return list(self.server.seen)

    def close(self):
        self.server.shutdown()
