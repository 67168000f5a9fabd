# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounds on a request before anything expands it: a hostile file fails fast, in little memory.

A request is refused (a RequestError naming the file, line and key) when

- its file is over ``MAX_BYTES``;
- it nests containers deeper than the request schema does (``MAX_DEPTH``);
- it gives a mapping key twice (YAML keeps the last silently: a wrong image);
- expanded, it has more than ``MAX_VALUES`` values or ``MAX_TEXT`` characters of strings. YAML aliases
  (``*name``) repeat what their anchor names without copying it, so ten lines can stand for billions of
  values: both the sizes are counted with each anchor's size computed once, never by expanding.

``check_file`` reads YAML text as a stream of parser events (the check never builds the document, so a
document nested 100000 deep cannot exhaust the parser's stack either); ``check_data`` bounds data already
parsed by someone else (Ansible's extra vars), following shared references once each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

try:
    import yaml
except ImportError:  # a managed node has no PyYAML; requests are only read on the controller, which has it
    yaml = None

from ansible_collections.osimage.builder.plugins.module_utils.request import SCHEMA, RequestError

MAX_BYTES = 1024 * 1024
MAX_VALUES = 100000
MAX_TEXT = 2 * 1024 * 1024
MAX_FILES = 64

_PARSER = getattr(yaml, 'CSafeLoader', None) or getattr(yaml, 'SafeLoader', None)


def schema_depth(schema):
    """How many containers deep the schema lets a request nest (the top-level mapping is 1)."""
    below = [schema_depth(s) for s in schema.get('properties', {}).values()]
    if isinstance(schema.get('items'), dict):
        below.append(schema_depth(schema['items']))
    nests = schema.get('type') in ('object', 'array') or 'properties' in schema or 'items' in schema
    return max(below, default=0) + (1 if nests else 0)


MAX_DEPTH = schema_depth(SCHEMA)


def _error(key, where, problem):
    return RequestError([(key or '(top level)', '%s: %s' % (where, problem) if where else problem)])


class _Budget:
    """The expanded size counted so far; a refusal names the key and where (file and line) it went over."""

    def __init__(self):
        self.values = 0
        self.text = 0

    def spend(self, values, text, key, where):
        self.values += values
        self.text += text
        if self.values > MAX_VALUES:
            raise _error(key, where, 'the request expands to more than %d values (YAML aliases repeat what their '
                         'anchor names); a request needs far fewer: write the values out or split the request'
                         % MAX_VALUES)
        if self.text > MAX_TEXT:
            raise _error(key, where, 'the request expands to more than %d MiB of text (YAML aliases repeat what '
                         'their anchor names); a request needs far less' % (MAX_TEXT // (1024 * 1024)))

    @staticmethod
    def nest(depth, key, where):
        if depth > MAX_DEPTH:
            raise _error(key, where, 'nested %d deep; the request schema nests at most %d deep'
                         % (depth, MAX_DEPTH))


def _child(path, key):
    if isinstance(key, int):
        return '%s[%d]' % (path, key)
    return '%s.%s' % (path, key) if path else str(key)


def _read_file(path, read=None):
    """The text of the request file at ``path``, refused over MAX_BYTES; ``read(path)`` (Ansible's loader,
    which decrypts a vaulted file) gives the text once the raw size is known to be within the limit."""
    try:
        with open(path, 'rb') as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _error('(file)', path, 'cannot be read: %s' % (exc.strerror or exc))
    if len(raw) > MAX_BYTES:
        size = os.path.getsize(path)
        raise _error('(file)', path, 'is %s, over the %d MiB limit of a request file'
                     % ('%.1f MiB' % (size / 1048576.0) if size > MAX_BYTES else 'larger', MAX_BYTES // 1048576))
    text = read(path) if read else raw
    if len(text) > MAX_BYTES:
        raise _error('(file)', path, 'is over the %d MiB limit of a request file once decrypted'
                     % (MAX_BYTES // 1048576))
    return text


def check_file(path, read=None):
    """The text of the request file at ``path`` once it is known to be within every limit."""
    text = _read_file(path, read)
    check_text(text, path)
    return text


class _Node:
    """A mapping or sequence open while the event stream is read."""

    def __init__(self, event, path, budget):
        self.path, self.anchor = path, event.anchor
        self.start = (budget.values, budget.text)
        self.keys = {} if isinstance(event, yaml.MappingStartEvent) else None
        self.key = None  # in a mapping: the key whose value comes next, None while a key is due
        self.index = 0  # in a sequence: the index of the item that comes next
        self.height = 0  # how many containers deep its items nest

    def next_path(self):
        if self.keys is None:
            return _child(self.path, self.index)
        return _child(self.path, '(key)' if self.key is None else self.key)

    def ended(self, height):
        """An item (or a complex key) nesting ``height`` containers deep has ended."""
        self.height = max(self.height, height)
        if self.keys is None:
            self.index += 1
        else:
            self.key = '(complex key)' if self.key is None else None


def check_text(text, name):
    """Refuse YAML ``text`` (from file ``name``) that breaks a limit, reading only its parser events."""
    budget = _Budget()
    anchors = {}  # anchor -> (values, characters, height) of what it names, expanded
    stack = []
    try:
        for event in yaml.parse(text if isinstance(text, bytes) else str(text), Loader=_PARSER):
            _check_event(event, stack, anchors, budget, name)
    except yaml.YAMLError:
        return  # not YAML: the loader's own error says where


def _check_event(event, stack, anchors, budget, name):
    where = '%s line %d' % (name, event.start_mark.line + 1)
    parent = stack[-1] if stack else None
    path = parent.next_path() if parent else ''
    if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
        node = stack.pop()
        if node.anchor:
            anchors[node.anchor] = (budget.values - node.start[0], budget.text - node.start[1], node.height + 1)
        if stack:
            stack[-1].ended(node.height + 1)
    elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
        budget.nest(len(stack) + 1, path, where)
        stack.append(_Node(event, path, budget))
        budget.spend(1, 0, path, where)
    elif isinstance(event, yaml.ScalarEvent) and parent and parent.keys is not None and parent.key is None:
        key = _child(parent.path, event.value)
        if event.value in parent.keys:
            raise _error(key, where, "the key '%s' is given twice (first on line %d); YAML would keep only the "
                         "last: give it once" % (event.value, parent.keys[event.value]))
        parent.keys[event.value] = event.start_mark.line + 1
        parent.key = event.value
        budget.spend(1, len(event.value), key, where)
    elif isinstance(event, yaml.ScalarEvent):
        budget.spend(1, len(event.value), path, where)
        if event.anchor:
            anchors[event.anchor] = (1, len(event.value), 0)
        if parent:
            parent.ended(0)
    elif isinstance(event, yaml.AliasEvent):
        if event.anchor not in anchors:
            if any(node.anchor == event.anchor for node in stack):
                raise _error(path, where, 'the alias *%s stands for a value that contains it' % event.anchor)
            return  # an undefined alias: the loader's own error says where
        values, chars, height = anchors[event.anchor]
        budget.nest(len(stack) + height, path, where)
        budget.spend(values, chars, path, where)
        if parent:
            parent.ended(height)


def check_data(value, key='', where=None):
    """Refuse parsed data that breaks a limit, following each shared container once.

    ``where(value)`` may say where a value came from (such as 'request.yml line 3')."""
    sizes = {}
    budget = _Budget()

    def walk(node, path, depth):
        if isinstance(node, (str, bytes)):
            budget.spend(1, len(node), path, where and where(node))
            return 0
        if not isinstance(node, (Mapping, list, tuple)):
            budget.spend(1, 0, path, where and where(node))
            return 0
        if id(node) in sizes:
            if sizes[id(node)] is None:
                raise _error(path, where and where(node), 'the value contains itself')
            values, chars, height = sizes[id(node)]
            budget.nest(depth + height, path, where and where(node))
            budget.spend(values, chars, path, where and where(node))
            return height
        budget.nest(depth + 1, path, where and where(node))
        sizes[id(node)] = None
        start = (budget.values, budget.text)
        budget.spend(1, 0, path, where and where(node))
        height = 0
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for item_key, item in items:
            if isinstance(node, Mapping):
                item_key = str(item_key)
                budget.spend(1, len(item_key), _child(path, item_key), where and where(item_key))
            height = max(height, walk(item, _child(path, item_key), depth + 1))
        sizes[id(node)] = (budget.values - start[0], budget.text - start[1], height + 1)
        return height + 1

    walk(value, key, 0)


def counted(load):
    """``load`` that refuses to read more than MAX_FILES request files (extends chains can fan out)."""
    loaded = []

    def load_counted(path):
        loaded.append(path)
        if len(loaded) > MAX_FILES:
            raise _error('extends', path, 'the request and the files it extends are more than %d files to read; '
                         'a request needs a handful' % MAX_FILES)
        return load(path)
    return load_counted
