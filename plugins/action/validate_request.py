# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an osimage build request on the controller and resolve it into the build's facts."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars
from ansible_collections.osimage.builder.plugins.module_utils import extends
from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils import survey


class ActionModule(ActionBase):
    """Action plugin for osimage.builder.validate_request."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('request', 'build_id'))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        if 'request' in args:
            request = req.plain(self._templar.template(args['request']))
        else:
            request = {k: req.plain(self._templar.template(task_vars[k])) for k in req.KEYS if k in task_vars}
            # An AWX survey's answers: JSON text for lists and mappings, empty for a key not given
            request = survey.to_request(request, survey.survey_spec())
            unknown = req.unknown_keys(load_extra_vars(self._loader))
            if unknown:
                raise AnsibleActionFail('\n'.join(
                    "request key '%s': unknown key; valid keys are: %s" % (k, ', '.join(req.KEYS)) for k in unknown))
        build_id = args.get('build_id') or task_vars.get('osimage_build_id')
        try:
            request = extends.resolve_extends(request, os.getcwd(), self._load_request_file)
            resolved = req.resolve(request, cwd=os.getcwd(), build_id=build_id and str(build_id))
            preflight.check(resolved)
        except req.RequestError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        leftovers.claim(resolved['work_dir'], resolved['build_id'], resolved['output_dir'])
        result.update(changed=False, ansible_facts={'osimage': resolved, 'osimage_public': req.redact(resolved)})
        return result

    def _load_request_file(self, path):
        """One file that a request extends, with Ansible Vault values decrypted."""
        try:
            return req.plain(self._loader.load_from_file(path))
        except AnsibleError as exc:
            raise req.RequestError([('extends', "'%s' cannot be read: %s" % (path, str(exc).strip().splitlines()[0]))])
