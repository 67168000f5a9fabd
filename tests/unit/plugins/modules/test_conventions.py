"""Conventions every module keeps, read from the source: main() only wires named steps together."""

import ast
import glob
import os

import pytest

MODULES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules')
MAIN_MAX_LINES = 60


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(MODULES, '*.py'))), ids=os.path.basename)
def test_main_is_at_most_60_lines(path):
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'main']
    for main in mains:
        assert main.end_lineno - main.lineno + 1 <= MAIN_MAX_LINES, 'split main() into named steps'
