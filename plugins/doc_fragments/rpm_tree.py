# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options rpm_bootstrap and rpm_packages share: the release, architecture and repositories dnf or zypper
install from (their argument spec is module_utils/rpm_tree.argument_spec)."""

from __future__ import annotations


class ModuleDocFragment:
    """extends_documentation_fragment: osimage.builder.rpm_tree."""

    DOCUMENTATION = r'''
options:
  releasever:
    description: Release version, the value of C($releasever) in O(repositories), for example V(9) or V(15.6).
    type: str
    required: true
  architecture:
    description: rpm architecture of the tree.
    type: str
    default: x86_64
  repositories:
    description:
      - The repositories to install from (and only these; the build host's are never read), at least one
        whenever packages are installed.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Repository id.
        type: str
        required: true
      baseurl:
        description: URL of the rpm-md repository; may contain C($releasever) and C($basearch).
        type: str
        required: true
      gpgkey:
        description: The repository's signing key, a file on the build host or a URL.
        type: str
        required: true
      repo_gpgcheck:
        description:
          - Whether the repository's metadata (C(repodata/repomd.xml)) must carry a valid signature by
            O(repositories[].gpgkey) too (C(repomd.xml.asc)); without it only the packages' signatures are checked.
        type: bool
        default: false
        version_added: 0.3.0
      priority:
        description: The repository's priority for the tool (the lower, the more preferred); the tool's default
          when unset.
        type: int
        version_added: 0.3.0
'''
