"""execution-environment.yml: ansible-builder (v3) makes a build context from it, no container engine needed."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILDER = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')


def test_ansible_builder_create_makes_a_build_context(tmp_path):
    proc = subprocess.run([BUILDER, 'create', '-f', os.path.join(ROOT, 'execution-environment.yml'),
                           '-c', str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / 'Containerfile').read_text()
    assert 'FROM $EE_BASE_IMAGE AS base' in containerfile
    assert 'ARG EE_BASE_IMAGE="docker.io/library/debian:bookworm"' in containerfile
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in containerfile
    assert 'COPY _build/bindep.txt bindep.txt' in containerfile
    assert 'COPY _build/requirements.txt requirements.txt' in containerfile
    assert (tmp_path / '_build' / 'bindep.txt').read_text() == open(os.path.join(ROOT, 'bindep.txt')).read()
    assert (tmp_path / '_build' / 'requirements.txt').read_text() == open(os.path.join(ROOT, 'requirements.txt')).read()
    # apt-get needs its lists before the base stage installs Python and the final one bindep's packages
    assert containerfile.index('RUN apt-get update') < containerfile.index('RUN $PKGMGR install $PYPKG')


def test_every_bindep_entry_is_for_the_ees_debian_platform():
    with open(os.path.join(ROOT, 'bindep.txt'), encoding='utf-8') as f:
        entries = [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]
    assert entries and all('platform:dpkg' in e for e in entries)
