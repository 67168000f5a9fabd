"""A signed apt repository and an HTTP proxy, made and served by the test process on 127.0.0.1.

The repository holds tiny packages made with dpkg-deb (and, for an archive shaped like a distribution's,
real packages downloaded from Debian's mirror), a Packages index per suite and component and a Release file
per suite written here, signed (InRelease) with a throwaway gpg key. The proxy forwards plain HTTP requests and records them, to
prove a build went through it. ``LocalRepository.fault`` makes the mirror misbehave: die halfway through serving
packages, or serve a corrupted package.
"""

import email.utils
import fcntl
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
# name: (version, files it installs, description[, depends])
PACKAGES = {
    'osimage-hello': ('1.0', {'usr/share/osimage-hello/hello.txt': 'hello from the local repository\n'},
                      'a file from osimage\'s test repository'),
    # Older than Debian's hello: installed only when the repository's pin priority beats the mirror's.
    'hello': ('1.0-osimage', {'usr/share/doc/hello/osimage-pinned': 'pinned\n'},
              'a hello that wins only by pinning'),
}


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, **kwargs)


def _deb(workdir, name, version, files, description, depends=''):
    root = os.path.join(workdir, 'src', name)
    os.makedirs(os.path.join(root, 'DEBIAN'))
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), 'w', encoding='utf-8') as f:
            f.write(text)
    with open(os.path.join(root, 'DEBIAN', 'control'), 'w', encoding='utf-8') as f:
        f.write('Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: osimage tests <tests@osimage.invalid>\n'
                'Priority: optional\nSection: misc\n%sDescription: %s\n'
                % (name, version, 'Depends: %s\n' % depends if depends else '', description))
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


def _release(repo, suite, indexes, valid_until=None):
    components = sorted({rel.split('/')[0] for rel in indexes})
    lines = ['Origin: osimage-test', 'Label: osimage-test', 'Suite: %s' % suite, 'Codename: %s' % suite,
             'Date: %s' % email.utils.formatdate(usegmt=True), 'Architectures: amd64 all',
             'Components: %s' % ' '.join(components), 'Description: osimage test repository']
    if valid_until:
        lines.insert(5, 'Valid-Until: %s' % valid_until)
    for field, algo in (('MD5Sum', hashlib.md5), ('SHA256', hashlib.sha256)):
        lines.append(field + ':')
        for rel in indexes:
            with open(os.path.join(repo, 'dists', suite, rel), 'rb') as f:
                data = f.read()
            lines.append(' %s %d %s' % (algo(data).hexdigest(), len(data), rel))
    return '\n'.join(lines) + '\n'


def _publish(repo, layout, valid_until):
    """Write each suite's Packages indexes and Release: ``layout`` is {suite: {component: [pool paths]}},
    ``valid_until`` {suite: the RFC 2822 date its Release is valid until} (none by default)."""
    for suite, components in layout.items():
        indexes = []
        for component, debs in components.items():
            binary = os.path.join(repo, 'dists', suite, component, 'binary-amd64')
            os.makedirs(binary)
            with open(os.path.join(binary, 'Packages'), 'w', encoding='utf-8') as f:
                f.write('\n'.join(_stanza(repo, rel) for rel in debs))
            indexes.append('%s/binary-amd64/Packages' % component)
        with open(os.path.join(repo, 'dists', suite, 'Release'), 'w', encoding='utf-8') as f:
            f.write(_release(repo, suite, indexes, valid_until.get(suite)))


def debian_closure(cache, names, suite='bookworm', mirror='http://deb.debian.org/debian'):
    """Paths of the .debs of Debian's essential set, apt and ``names`` with all they depend on, downloaded
    from the mirror into ``cache`` with the host's apt and keys (kept between runs: only what is missing is
    fetched; tests on other pytest-xdist workers share it, one at a time)."""
    root = os.path.join(cache, 'apt')
    archives = os.path.join(cache, 'archives')
    for sub in ('etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/sources.list.d', 'var/lib/apt/lists/partial',
                'var/lib/dpkg'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    os.makedirs(os.path.join(archives, 'partial'), exist_ok=True)
    with open(os.path.join(cache, 'lock'), 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(os.path.join(root, 'var/lib/dpkg/status'), 'w', encoding='utf-8'):
            pass
        with open(os.path.join(root, 'etc/apt/sources.list'), 'w', encoding='utf-8') as f:
            f.write('deb %s %s main\n' % (mirror, suite))
        apt = ['apt-get', '-q', '-o', 'Dir=%s' % root, '-o', 'Dir::State::status=%s/var/lib/dpkg/status' % root,
               '-o', 'Dir::Cache::archives=%s' % archives, '-o', 'Dir::Etc::Trusted=/etc/apt/trusted.gpg',
               '-o', 'Dir::Etc::TrustedParts=/etc/apt/trusted.gpg.d', '-o', 'APT::Architecture=amd64',
               '-o', 'Debug::NoLocking=1']
        _run(apt + ['update'])
        _run(apt + ['install', '-y', '--download-only', '--no-install-recommends', '?essential', 'apt'] + list(names))
        return sorted(os.path.join(archives, n) for n in os.listdir(archives) if n.endswith('.deb'))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.seen.append(self.path)


class _Mirror(_Quiet):
    """Serves the repository, or misbehaves as ``server.fault`` says (see ``LocalRepository.fault``)."""

    def do_GET(self):
        fault, name = self.server.fault, os.path.basename(self.path)
        if fault and (fault.get('dead') or name.endswith('.deb')):
            with self.server.lock:
                fault['debs'] += name.endswith('.deb')
                if fault['kind'] == 'die' and fault['debs'] > fault['after']:
                    fault['dead'] = True
                dead = fault.get('dead')
            if dead:
                return self._send_broken(lambda data: data[:len(data) // 2])
            if fault['kind'] == 'corrupt' and name.startswith(fault['name'] + '_'):
                return self._send_broken(lambda data: data[:len(data) // 2] + bytes(len(data) - len(data) // 2))
        return super().do_GET()

    def _send_broken(self, damage):
        """Announce the file's full length, send ``damage(data)`` and hang up (nothing at all but a hang-up
        for what the repository does not hold)."""
        self.close_connection = True
        try:
            with open(self.translate_path(self.path), 'rb') as f:
                data = f.read()
        except OSError:
            return
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(damage(data))


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
    server.fault = None
    server.lock = threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class LocalRepository:
    """The repository: ``uri``, ``suite``, ``component``, ``key_file`` and ``key`` (armored), ``packages``.

    ``packages`` ({name: (version, files, description[, depends])}) are made with dpkg-deb and published as
    ``layout`` says ({suite: {component: [names]}}; default: all in suite osimage, component main); the real
    ``debs`` (paths) go into the first suite's main component. ``valid_until`` ({suite: date}) gives those suites'
    Release a Valid-Until (a date past makes apt refuse it, as it refuses a stale mirror or a snapshot).
    """

    def __init__(self, packages=None, layout=None, debs=(), valid_until=None):
        self.dir = tempfile.mkdtemp(prefix='osimage-repo-')
        os.chmod(self.dir, 0o755)  # apt's sandbox user (_apt) reads file:// repositories and keys under it
        self.gnupg = os.path.join(self.dir, 'gnupg')
        os.mkdir(self.gnupg, 0o700)
        self.repo = os.path.join(self.dir, 'repo')
        self.suite, self.component = SUITE, COMPONENT
        specs = PACKAGES if packages is None else packages
        self.packages = {name: spec[0] for name, spec in specs.items()}
        self._build(specs, layout or {SUITE: {COMPONENT: list(specs)}}, debs, valid_until or {})
        self.server = _serve(functools.partial(_Mirror, directory=self.repo))
        self.uri = 'http://127.0.0.1:%d/' % self.server.server_address[1]

    def _gpg(self, *args):
        return _run(['gpg', '--homedir', self.gnupg, '--batch', '--yes', '--pinentry-mode', 'loopback',
                     '--passphrase', ''] + list(args))

    def _build(self, specs, layout, debs, valid_until):
        made = {name: _deb(self.dir, name, *spec) for name, spec in specs.items()}
        pool = os.path.join(self.repo, 'pool')
        os.makedirs(pool, exist_ok=True)
        copied = []
        for path in debs:
            shutil.copy(path, pool)
            copied.append('pool/' + os.path.basename(path))
        first = next(iter(layout))
        published = {suite: {component: [made[n] for n in names] + (copied if (suite, component) == (
            first, COMPONENT) else []) for component, names in components.items()} for suite, components in layout.items()}
        _publish(self.repo, published, valid_until)
        self._gpg('--quick-gen-key', 'osimage test repository <repo@osimage.invalid>', 'ed25519', 'sign', 'never')
        for suite in layout:
            release = os.path.join(self.repo, 'dists', suite, 'Release')
            self._gpg('--clearsign', '--output', os.path.join(os.path.dirname(release), 'InRelease'), release)
        self.key_file = os.path.join(self.dir, 'repo-key.asc')
        self._gpg('--export', '--armor', '--output', self.key_file)
        with open(self.key_file, encoding='ascii') as f:
            self.key = f.read()

    def requests(self):
        """Paths the repository served."""
        return list(self.server.seen)

    def fault(self, kind, arg=None):
        """Make the mirror misbehave from now on: ``fault('die', n)`` serves ``n`` packages, then every response
        (any file) stops halfway and the connection is dropped, as a mirror that dies mid-download;
        ``fault('corrupt', name)`` serves package ``name``'s .deb at its full size with its second half zeroed;
        ``fault(None)`` heals it."""
        assert kind in (None, 'die', 'corrupt'), kind
        self.server.fault = kind and {'kind': kind, 'debs': 0, 'after': arg or 0, 'name': arg}

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
