"""Stand-in for the get-pip.py that ansible-test downloads from a host this machine cannot reach.

Bootstraps pip from the standard library (ensurepip), then installs the pip that was asked for from
the package index. The tests copy it to ~/.ansible/test/cache/get_pip_<version>.py.
"""
import subprocess
import sys

GET_PIP_ONLY = ('--disable-pip-version-check', '--no-setuptools', '--no-wheel')

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q'] + args)
