"""Run one of the collection's modules outside Ansible, as Ansible runs it: a process given its arguments."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module, tmp_path, /, check_mode=False, **args):
    """The result of running the collection's module ``module`` with ``args`` (in check mode if asked)."""
    path = tmp_path / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_check_mode=check_mode)}))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'playbooks', 'collections'))
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.osimage.builder.plugins.modules.' + module,
                           str(path)], capture_output=True, text=True, env=env, timeout=120, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {'failed': True, 'msg': proc.stdout + proc.stderr, 'module_stderr': proc.stderr}
