# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an osimage build request on the controller and resolve it into the build's facts."""

from __future__ import annotations

import os

from ansible import context
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars
from ansible_collections.osimage.builder.plugins.module_utils import build_stamp
from ansible_collections.osimage.builder.plugins.module_utils import customized_tree
from ansible_collections.osimage.builder.plugins.module_utils import extends
from ansible_collections.osimage.builder.plugins.module_utils import leftovers
from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import release_index
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils import request_limits
from ansible_collections.osimage.builder.plugins.module_utils import survey

try:  # where a value was read from (Ansible 2.19 tags what it parses with its origin)
    from ansible._internal._datatag._tags import Origin
except ImportError:  # pragma: no cover - older Ansible: errors name the key only
    Origin = None


def _origin(value):
    origin = Origin and Origin.get_tag(value)
    if origin and origin.path:
        return '%s line %s' % (origin.path, origin.line_num) if origin.line_num else origin.path
    return None


class ActionModule(ActionBase):
    """Action plugin for osimage.builder.validate_request."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('request', 'build_id', 'retrofit'))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        try:
            request = self._bounded_request(args, task_vars)
        except req.RequestError as exc:
            raise AnsibleActionFail(str(exc), result={'refused': True}) from exc
        if 'request' not in args:
            if boolean(task_vars.get(survey.MARKER, False), strict=False):
                # An AWX survey's answers (its job template sets the marker): JSON text for lists, mappings and
                # booleans, empty for a key not given. A request file (-e @request.yml) is taken as it is written.
                request = survey.to_request(request, survey.survey_spec())
            unknown = req.unknown_keys(load_extra_vars(self._loader))
            if unknown:
                raise AnsibleActionFail('\n'.join(
                    "request key '%s': unknown key; valid keys are: %s" % (k, ', '.join(req.KEYS)) for k in unknown))
        build_id = args.get('build_id') or task_vars.get('osimage_build_id')
        try:
            request = extends.resolve_extends(request, os.getcwd(), request_limits.counted(self._load_request_file))
            request_limits.check_data(request)
            retrofit = req.plain(args['retrofit']) if args.get('retrofit') is not None else None
            resolved = req.resolve(request, cwd=os.getcwd(), build_id=build_id and str(build_id), retrofit=retrofit)
            if build_stamp.has_plain_passwords(request):
                # An unchanged password keeps the crypt hash the output directory's build set
                request = build_stamp.reuse_hashes(request, resolved['output_dir'])
                resolved = req.resolve(request, cwd=os.getcwd(), build_id=resolved['build_id'], retrofit=retrofit)
            # The repositories' indexes, read once: preflight checks them, the build's fingerprint covers them
            indexes = release_index.repositories(resolved)
            preflight.check(resolved, indexes)
        except req.RequestError as exc:
            raise AnsibleActionFail(str(exc), result={'refused': True}) from exc
        leftovers.claim(resolved['work_dir'], resolved['build_id'], resolved['output_dir'])
        status = build_stamp.stamp_fact(resolved, force=boolean(task_vars.get('osimage_force', False)),
                                        indexes=indexes)
        seed = status and status['tree'] and resolved['cache_dir'] and \
            customized_tree.uuid_seed(resolved['cache_dir'], status['tree'], status['bootstrap'])
        if seed:
            # The customized tree this build will restore names its disk's UUIDs: the build keeps them.
            resolved = req.resolve(request, cwd=os.getcwd(), build_id=resolved['build_id'], uuid_seed=seed)
        facts = {'osimage': resolved, 'osimage_public': req.redact(resolved)}
        if status is not None:
            facts['osimage_stamp'] = status
        result.update(changed=False, ansible_facts=facts)
        return result

    def _bounded_request(self, args, task_vars):
        """The request (the task's argument, or the request keys among the variables) as plain data, refused
        before templating copies it if it breaks a request_limits bound: the extra-vars files are checked as
        the driver checks a request file, then the data as parsed (shared YAML aliases counted once each)."""
        for extra in context.CLIARGS.get('extra_vars', ()):
            if extra.startswith('@'):
                request_limits.check_file(os.path.abspath(extra[1:]), self._loader.get_text_file_contents)
        if 'request' in args:
            request_limits.check_data(args['request'], where=_origin)
            return req.plain(self._templar.template(args['request']))
        given = {k: task_vars[k] for k in req.KEYS if k in task_vars}
        request_limits.check_data(given, where=_origin)
        return {k: req.plain(self._templar.template(v)) for k, v in given.items()}

    def _load_request_file(self, path):
        """One file that a request extends, with Ansible Vault values decrypted, refused if it is unbounded."""
        try:
            text = request_limits.check_file(path, self._loader.get_text_file_contents)
            return req.plain(self._loader.load(text, file_name=path))
        except AnsibleError as exc:
            raise req.RequestError([('extends', "'%s' cannot be read: %s" % (path, str(exc).strip().splitlines()[0]))])
