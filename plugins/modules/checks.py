# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the checks action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checks
short_description: Evaluate named checks, all of them, and report each as a JUnit test case
version_added: 0.1.0
description:
  - Like M(ansible.builtin.assert), but for a list of named checks that are all evaluated even when some
    fail, so a report lists every check with its outcome.
  - Writes a JUnit XML file (one test case per check, with the failure message) and merges the results into
    a JSON report, both on the controller.
  - Fails when any check failed, with a summary naming each failed check.
author: osimage developers (@osimage)
options:
  checks:
    description: The checks.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the check (the JUnit test case).
        type: str
        required: true
      that:
        description:
          - Conditional expressions, as for M(ansible.builtin.assert), or booleans already evaluated (as the
            osimage.builder.verify_checks filter returns them). All must be true.
        type: list
        elements: raw
        required: true
      msg:
        description: Message when the check fails.
        type: str
      details:
        description:
          - A Jinja expression (without braces) evaluated only when the check fails, and appended to O(checks[].msg),
            for example the list of missing packages. Evaluated lazily, so it may name data that exists only then.
        type: str
      found:
        description:
          - What the check found, already evaluated (data, not an expression), appended to O(checks[].msg) when
            the check fails; instead of O(checks[].details).
        type: raw
        version_added: 0.4.0
      when:
        description: Conditional expression, or a boolean already evaluated; the check is skipped when it is false.
        type: raw
  junit:
    description: JUnit XML file to write on the controller.
    type: path
  report:
    description:
      - JSON file on the controller to merge the results into (keys C(checks), C(verify_seconds), C(verify_steps),
        C(outcome)).
    type: path
  suite:
    description: Name of the JUnit test suite.
    type: str
    default: osimage.verify
  started:
    description: UNIX time the verification started, for its duration.
    type: float
  steps:
    description:
      - Seconds that steps of the verification took, by name (the verify role's are the groups of facts that
        C(gather_state.py) gathers in the guest, waiting for the end of start-up first). Reported as
        RV(verify_steps), with the rest of the time since O(started) under its own name.
    type: dict
    version_added: 0.7.0
attributes:
  check_mode:
    support: partial
    details: The checks are evaluated and their reports written in check mode too.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details: The controller (an action plugin); there is no module to run on a host.
  action:
    support: full
    description: Runs on the controller.
extends_documentation_fragment:
  - osimage.builder.attributes
'''

EXAMPLES = r'''
- name: Check the running image
  osimage.builder.checks:
    junit: /srv/images/debian/verify-junit.xml
    checks:
      - name: no failed units
        that: failed_units.stdout == ''
        msg: failed units
        details: failed_units.stdout_lines
'''

RETURN = r'''
checks:
  description: Each check with its C(name), C(outcome) (passed, failed or skipped) and C(message).
  returned: always
  type: list
  elements: dict
verify_seconds:
  description: Seconds since O(started).
  returned: always
  type: float
verify_steps:
  description: O(steps), each rounded to a tenth of a second, and the rest of RV(verify_seconds).
  returned: always
  type: dict
  sample: {start-up: 0.4, units: 0.3, files: 0.2, network: 0.0, layout: 0.6, probes: 1.1, settings: 1.9,
           'the rest: tasks over SSH and the checks': 2.2}
  version_added: 0.7.0
'''
