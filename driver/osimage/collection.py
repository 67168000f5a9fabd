"""Where the osimage.builder collection lives, and importing its request schema from it."""

from __future__ import annotations

import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, 'playbooks', 'collections')
PLAYBOOKS = os.path.join(ROOT, 'playbooks')
INVENTORY = os.path.join(ROOT, 'inventories', 'localhost.yml')
CONFIG = os.path.join(ROOT, 'ansible.cfg')


def module_utils(name):
    """A module_utils module of the collection, e.g. ``request``: the one schema every entry point uses."""
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    return importlib.import_module('ansible_collections.osimage.builder.plugins.module_utils.' + name)
