# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every osimage.builder module states: check mode, diff mode and the platform it runs on."""

from __future__ import annotations


class ModuleDocFragment:
    """extends_documentation_fragment: osimage.builder.attributes; each module then sets support (and platforms)."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Runs with C(--check), reporting whether it would change anything without changing it.
  diff_mode:
    description: Shows what it changes (or would change, with C(--check)) as a diff with C(--diff).
  platform:
    description: The systems it runs on.
'''
