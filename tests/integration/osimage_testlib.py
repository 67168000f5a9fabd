"""Helpers for the integration tests: run commands and playbooks, read a finished build."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(argv, **kwargs):
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    kwargs.setdefault('check', False)
    return subprocess.run(argv, **kwargs)  # pylint: disable=subprocess-run-check


def playbook(path, *args, timeout=1800):
    """Run a playbook with the repository's ansible.cfg; return the CompletedProcess."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), PATH=BIN + os.pathsep + os.environ['PATH'],
               ANSIBLE_NOCOLOR='1')
    return run([os.path.join(BIN, 'ansible-playbook'), path, *args], env=env, cwd=ROOT, timeout=timeout)


class Built:
    """A finished build: its output directory and what it wrote."""

    def __init__(self, output_dir, proc):
        self.dir = output_dir
        self.proc = proc
        self.manifest = self.json('manifest.json')
        self.report = self.json('boot-report.json')

    def json(self, name):
        with open(os.path.join(self.dir, name), encoding='utf-8') as f:
            return json.load(f)

    def image(self, fmt='qcow2'):
        return os.path.join(self.dir, '%s.%s' % (self.manifest['name'], fmt))
