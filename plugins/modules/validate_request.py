# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the validate_request action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: validate_request
short_description: Validate an osimage build request and resolve it into facts
version_added: 0.1.0
description:
  - Checks a build request against the request schema (the same one the C(osimage) driver uses) before
    anything touches the host, and fails naming every bad key with what would be valid.
  - Without O(request), the request is read from the play's variables (the keys of C(-e @request.yml) or
    of an AWX survey); an extra variable that is not a request key is reported as unknown.
  - Sets the fact C(osimage), the resolved build (defaults filled in, partition layout with UUIDs, absolute
    directories, passwords hashed with passlib so no plain-text password is kept), and C(osimage_public),
    the same with every password hash redacted, for manifests and logs.
  - A request with C(extends) is merged over the request files it names first (the merge rules are in the
    collection's README); relative paths resolve against the working directory of the playbook run.
  - Presets (C(preset)) are expanded into C(packages.install), and the services they name are returned as
    C(osimage.preset_services).
  - Checks that C(work_dir), C(cache_dir) and C(output_dir) have the free space the build needs, that the
    mirrors serve every suite the bootstrap reads and the extra repositories their indexes, none past its
    C(Valid-Until) (unless C(location.mirror_snapshot) says the mirror is a snapshot), and fails early with the
    numbers or the reason (the key to change, the URL and the date).
  - For a build (not with O(retrofit)), sets the fact C(osimage_stamp), the build's fingerprint (the resolved
    request less what each build draws, the collection's code, the files the request names, extra repositories'
    Release files) with C(current), true when C(output_dir) already holds this build
    (M(osimage.builder.build_stamp)) from an unchanged bootstrap cache entry with unchanged checksums, C(proven)
    when its boot test passed too, and C(reason); C(tree), the key of the customized-tree cache
    (M(osimage.builder.customized_tree)), and C(bootstrap), the fingerprint of the bootstrap cache entry the build
    uses (what the family's bootstrap module returns as C(fingerprint) for C(osimage.bootstrap.args)). The extra
    variable C(osimage_force=true) makes it never current.
  - When the customized-tree cache holds the tree this build will restore, the file systems' UUIDs are that
    tree's (C(osimage.disk.uuid_seed) is the id of the build that made it), so that nothing in the tree that
    names them is written again; otherwise they derive from this build's id.
  - Records this ansible-playbook process as the owner of the build id, so that M(osimage.builder.clean) can tell
    a running build from a killed one.
author: osimage developers (@osimage)
options:
  request:
    description: The request as a mapping. Read from the play's variables when omitted.
    type: dict
  retrofit:
    description:
      - For C(osimage retrofit) (playbooks/retrofit.yml), what M(osimage.builder.retrofit_tree) found in the image
        (its C(image) result with C(mounts) and C(fsck)), or an empty mapping before the image is opened.
      - The keys an existing image decides (distro, release, arch, disk layout, size, firmware, boot loader, kernel
        command line, platform, the iso, tar and oci formats) are refused naming each; distro, release, arch, table and
        firmware are then taken from the image, and C(osimage.retrofit) is set (the manifest's C(request.retrofit),
        what the image was found to be, and what fsck found and repaired).
    type: dict
  build_id:
    description: Build identifier (lower-case letters and digits). Random when omitted, or taken from C(osimage_build_id).
    type: str
attributes:
  check_mode:
    support: partial
    details: The request is validated and resolved, and the build's owner record (what M(osimage.builder.clean) reads) written, as in a run.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details: The controller (an action plugin); there is no module to run on a host.
  action:
    support: full
    description: Runs on the controller.
notes:
  - Needs the jsonschema and passlib Python libraries on the controller.
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Validate the request given as extra variables
  osimage.builder.validate_request:

- name: Validate an inline request
  osimage.builder.validate_request:
    request:
      distro: debian
      release: trixie
      formats: [qcow2, vmdk]
'''

RETURN = r'''
ansible_facts:
  description: The facts C(osimage), C(osimage_public) and, for a build, C(osimage_stamp).
  returned: success
  type: dict
refused:
  description: True when the request is not valid (or not for this host or image); C(osimage) exits 2.
  returned: failure
  type: bool
'''
