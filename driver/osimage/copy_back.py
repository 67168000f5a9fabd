"""A remote build's output: its manifest and images copied back from the builder with their checksums verified
(or left there, the manifest saying where), and the builder's copy removed."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import tempfile

from osimage.build_hosts import BuilderError
from osimage.exit_codes import EXIT_INTERRUPTED

# zstd's fastest level: a 3 GiB raw image (0.9 GiB of data) goes over as 295 MiB at -1, 266 MiB at -3, in the same
# time; an already compressed qcow2 passes through about as fast as uncompressed.
ZSTD_LEVEL = 1
# What a copy back runs, on the builder and here.
TOOLS = ('zstd',)
CHUNK = 1 << 20
ZEROS = bytes(CHUNK)  # compared with, not counted: memcmp is 20 times faster than bytes.count(0)


def missing_tools(path=None):
    """The programs a copy back needs that are not on ``path`` (the PATH when None)."""
    return [tool for tool in TOOLS if not shutil.which(tool, path=path)]


class CopyBack:
    """The output of build ``build_id`` in ``remote_dir`` on ``builder``, brought to ``output_dir`` here."""

    def __init__(self, builder, remote_dir, output_dir, build_id, is_cancelled):
        self.builder, self.remote_dir, self.output_dir = builder, remote_dir, output_dir
        self.build_id, self.is_cancelled = build_id, is_cancelled

    def fetch(self, remote, local, sha256=None):
        """Copy ``remote`` to ``local`` through a temporary name, verifying ``sha256``; renamed in place only whole.
        It travels zstd-compressed (a raw image's zeros and file systems shrink), and its holes stay holes here."""
        tmp = os.path.join(os.path.dirname(local), '.%s.tmp-%s' % (os.path.basename(local), self.build_id))
        errors = tempfile.TemporaryFile()
        try:
            digest = hashlib.sha256()
            with open(tmp, 'wb') as f, \
                    subprocess.Popen(self.builder.ssh('zstd', '-q', '-c', '-%d' % ZSTD_LEVEL, '--', remote),
                                     stdout=subprocess.PIPE, stderr=errors) as ssh, \
                    subprocess.Popen(['zstd', '-q', '-d', '-c'], stdin=ssh.stdout, stdout=subprocess.PIPE,
                                     stderr=errors) as unzstd:
                ssh.stdout.close()  # zstd here reads it
                for chunk in iter(lambda: unzstd.stdout.read(CHUNK), b''):
                    if self.is_cancelled():
                        ssh.kill()
                        raise BuilderError('interrupted while copying %s' % remote, EXIT_INTERRUPTED)
                    digest.update(chunk)
                    if chunk == ZEROS[:len(chunk)]:
                        f.seek(len(chunk), os.SEEK_CUR)
                    else:
                        f.write(chunk)
                f.truncate()
            if ssh.returncode or unzstd.returncode:
                errors.seek(0)
                raise BuilderError('builder %s: cannot copy %s back (ssh zstd exited %d, zstd -d %d): %s'
                                   % (self.builder.name, remote, ssh.returncode, unzstd.returncode,
                                      errors.read().decode(errors='replace').strip()[-500:] or 'no message'))
            if sha256 and digest.hexdigest() != sha256:
                raise BuilderError('builder %s: %s came back with sha256 %s, not the manifest\'s %s'
                                   % (self.builder.name, remote, digest.hexdigest(), sha256))
            os.replace(tmp, local)
        finally:
            errors.close()
            if os.path.exists(tmp):
                os.unlink(tmp)

    def collect(self, keep):
        """The builder's manifest here, naming the builder; with the images copied back and verified, or left there
        (``keep``)."""
        remote = posixpath.join(self.remote_dir, 'manifest.json')
        manifest = json.loads(subprocess.run(self.builder.ssh('cat', '--', remote), capture_output=True, check=True,
                                             timeout=120).stdout)
        images = {os.path.basename(i['dest']) for i in manifest.get('images', [])}
        manifest['builder'] = {'name': self.builder.name, 'host': self.builder.host, 'output_dir': self.remote_dir,
                               'kept': keep}
        if not keep:
            for image in manifest.get('images', []):
                local = os.path.join(self.output_dir, os.path.basename(image['dest']))
                self.fetch(image['dest'], local, image['sha256'])
                image['dest'] = local
            listing = subprocess.run(self.builder.ssh('ls', '-1', '--', self.remote_dir), capture_output=True,
                                     check=True, timeout=120).stdout.decode().split()
            for name in listing:  # sidecar checksums, the boot report, the console log
                if name not in images and name not in ('manifest.json', 'build.log') and not name.startswith('.'):
                    self.fetch(posixpath.join(self.remote_dir, name), os.path.join(self.output_dir, name))
        tmp = os.path.join(self.output_dir, '.manifest.json.tmp-' + self.build_id)
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(manifest, f, indent=2)
        os.replace(tmp, os.path.join(self.output_dir, 'manifest.json'))

    def remove(self):
        """Remove the build's output on the builder."""
        try:
            subprocess.run(self.builder.ssh('rm', '-rf', '--', self.remote_dir), capture_output=True, timeout=120,
                           check=False)
        except subprocess.TimeoutExpired:
            pass
