"""Where the osimage.builder collection lives, found by Ansible's own collection loader, and importing from it.

Run from a git checkout (``driver/`` beside ``galaxy.yml``), the checkout is the collection and comes first;
installed (a wheel), the driver uses whatever ``osimage.builder`` Ansible finds in its collections paths
(``ANSIBLE_COLLECTIONS_PATH``, ``collections_path`` in ansible.cfg, ``~/.ansible/collections``, ...).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from dataclasses import dataclass

import yaml

NAME = 'osimage.builder'
PACKAGE = 'ansible_collections.' + NAME
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKOUT_COLLECTIONS = os.path.join(CHECKOUT, 'playbooks', 'collections')


class NotFound(Exception):
    """No collections path Ansible searches holds osimage.builder."""


@dataclass(frozen=True)
class Collection:
    root: str            # the collection's directory (.../ansible_collections/osimage/builder)
    search_paths: tuple  # the collections paths, the one holding this collection first
    checkout: bool       # the driver runs from the git checkout that is this collection

    @property
    def path(self):
        """The collections path this collection was found in (the directory above ``ansible_collections``)."""
        return self.search_paths[0]

    @property
    def version(self):
        """MANIFEST.json's version (installed), else galaxy.yml's (a checkout)."""
        try:
            with open(os.path.join(self.root, 'MANIFEST.json'), encoding='utf-8') as f:
                return json.load(f)['collection_info']['version']
        except (OSError, ValueError, KeyError):
            pass
        with open(os.path.join(self.root, 'galaxy.yml'), encoding='utf-8') as f:
            return yaml.safe_load(f)['version']

    def playbook(self, name):
        return os.path.join(self.root, 'playbooks', name)

    @property
    def inventory(self):
        return os.path.join(self.root, 'inventories', 'localhost.yml')

    @property
    def config(self):
        """The checkout's ansible.cfg; None when installed (then the user's own configuration applies)."""
        return os.path.join(CHECKOUT, 'ansible.cfg') if self.checkout else None


def _from_checkout():
    return (os.path.isfile(os.path.join(CHECKOUT, 'galaxy.yml'))
            and os.path.isdir(os.path.join(CHECKOUT_COLLECTIONS, 'ansible_collections', 'osimage', 'builder')))


@functools.cache
def locate():
    """The collection, imported through Ansible's collection loader; NotFound naming the paths searched."""
    from ansible import constants as C  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import init_plugin_loader  # pylint: disable=import-outside-toplevel
    from ansible.utils.collection_loader import AnsibleCollectionConfig  # pylint: disable=import-outside-toplevel

    prefix = [CHECKOUT_COLLECTIONS] if _from_checkout() else []
    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader(prefix)
    configured = [os.path.expanduser(p) for p in C.COLLECTIONS_PATHS]
    try:
        package = importlib.import_module(PACKAGE)
    except ImportError:
        raise NotFound('the %s collection is in none of the collections paths Ansible searches (%s): install it '
                       'with `ansible-galaxy collection install osimage-builder-VERSION.tar.gz`, or name its '
                       'collections path in ANSIBLE_COLLECTIONS_PATH'
                       % (NAME, os.pathsep.join(prefix + configured) or 'none configured')) from None
    root = os.path.dirname(package.__file__)
    found = os.path.dirname(os.path.dirname(os.path.dirname(root)))
    return Collection(root=root, search_paths=tuple(dict.fromkeys([found] + prefix + configured)),
                      checkout=bool(prefix) and found == CHECKOUT_COLLECTIONS)


def module_utils(name):
    """A module_utils module of the collection, e.g. ``request``: the one schema every entry point uses."""
    locate()
    return importlib.import_module(PACKAGE + '.plugins.module_utils.' + name)
