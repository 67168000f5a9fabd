"""osimage: the thin driver of the osimage.builder collection."""

import os
import tempfile
import warnings

__version__ = '0.7.0'

# Each process that loads Ansible's configuration (the driver, ansible-playbook and its workers) makes a temporary
# directory of its own, removed when it exits: they go to one directory, where `osimage clean` releases those of
# SIGKILLed processes (leftovers.ANSIBLE_LOCAL_DIR). Before ansible is imported, which reads it.
os.environ.setdefault('ANSIBLE_LOCAL_TEMP', os.path.join(tempfile.gettempdir(), 'osimage-ansible-local'))

# ansible-core's SSH agent support imports DSA from cryptography, which warns on every start of the driver: the
# warning is about ansible-core, not about anything a user of osimage can change.
warnings.filterwarnings('ignore', message='DSA is deprecated', module=r'ansible\.')
