"""osimage: the thin driver of the osimage.builder collection."""

import warnings

__version__ = '0.6.0'

# ansible-core's SSH agent support imports DSA from cryptography, which warns on every start of the driver: the
# warning is about ansible-core, not about anything a user of osimage can change.
warnings.filterwarnings('ignore', message='DSA is deprecated', module=r'ansible\.')
