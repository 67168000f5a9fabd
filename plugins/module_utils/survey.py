# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX survey spec made from the request schema, and its answers turned back into a request.

One question per top-level request key: a choice of the schema's enum, an integer, a password for a secret,
text for a string, and JSON text for everything else (booleans, lists, mappings), so nested keys keep the
schema's own shape and validation. An empty answer means the key is not given (the schema's default).
Answers are decoded only when the job template's extra variables set MARKER (playbooks/awx_setup.yml does):
a request given otherwise (-e @request.yml) is validated exactly as written.
"""

from __future__ import annotations

import json

from ansible_collections.osimage.builder.plugins.module_utils import request as req
from ansible_collections.osimage.builder.plugins.module_utils.request_secrets import SECRET_KEYS

MARKER = 'osimage_survey'  # the extra variable that says the request keys are a survey's answers


def _question(key, schema):
    q = {'variable': key, 'question_name': key, 'required': False,
         'question_description': schema.get('x-hint', '')[:1000]}
    default = schema.get('default')
    if 'enum' in schema:
        q.update(type='multiplechoice', choices=[str(c) for c in schema['enum']], default=str(default or ''))
    elif schema.get('type') == 'integer':
        q.update(type='integer', default=default if default is not None else '',
                 min=schema.get('minimum'), max=schema.get('maximum'))
    elif key in SECRET_KEYS:
        q.update(type='password', default='')
    elif schema.get('type') == 'string':
        q.update(type='text', default=default or '')
    else:
        q.update(type='textarea', default='' if default is None else json.dumps(default),
                 question_description=('JSON: ' + q['question_description']).strip())
    return q


def survey_spec(schema=None):
    """The AWX survey spec: every top-level key of the request schema, its default and choices."""
    schema = schema or req.SCHEMA
    return {'name': 'osimage build request', 'description': schema.get('title', ''),
            'spec': [_question(k, s) for k, s in schema['properties'].items()]}


def answers(request, spec):
    """The survey answers that stand for ``request`` (what a user would type)."""
    out = {}
    for q in spec['spec']:
        if q['variable'] not in request:
            continue
        value = request[q['variable']]
        out[q['variable']] = json.dumps(value) if q['type'] == 'textarea' else value
    return out


def to_request(given, spec):
    """The request the survey ``given`` answers make: JSON text decoded, empty answers left out, other keys kept."""
    types = {q['variable']: q['type'] for q in spec['spec']}
    out = {}
    for key, value in given.items():
        if key in types and value in ('', None):
            continue
        if key not in types:
            out[key] = value
            continue
        out[key] = _decoded(value) if types[key] == 'textarea' else value
    return out


def _decoded(value):
    """JSON text decoded; anything else (a mapping from a request file, a plain file name) as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
