# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress records a long-running module appends to the file named by OSIMAGE_PROGRESS."""

from __future__ import annotations


class ModuleDocFragment:
    """extends_documentation_fragment: osimage.builder.progress."""

    DOCUMENTATION = r'''
options: {}
notes:
  - "While it runs, the module reports its progress when the environment variable C(OSIMAGE_PROGRESS) names a
    file (the C(osimage) driver sets it): it appends at most two JSON lines a second there, each with the keys
    C(event) (V(progress)), C(what), C(done), C(total) (null while unknown, never below C(done)), C(unit) and
    C(time). Unset, nothing is written and the command runs as it does without it."
'''
