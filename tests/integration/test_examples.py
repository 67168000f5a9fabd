"""Every request in examples/ built and booted where its mirror answers: `scripts/run-tests -m distros`.

On a machine like CI's only Debian's mirror answers, and the el and suse families make root trees only, so
the others are skipped with the reason; with network to their mirrors this is the one command that proves them.
"""

import glob
import os

import pytest
import yaml

from ansible_collections.osimage.builder.plugins.module_utils import preflight
from ansible_collections.osimage.builder.plugins.module_utils import request as req
from osimage_testlib import BIN, ROOT, Built, run

pytestmark = [pytest.mark.integration, pytest.mark.distros]
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, 'examples', '*.yml')))


@pytest.mark.parametrize('path', EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_the_example_builds_and_boots_where_its_mirror_answers(path, tmp_path):
    with open(path, encoding='utf-8') as f:
        build = req.resolve(yaml.safe_load(f), cwd=os.path.dirname(path))
    unable = preflight.family_errors(build) or preflight.mirror_errors(build, timeout=10)
    if unable:
        pytest.skip('; '.join(message for _key, message in unable))
    proc = run([os.path.join(BIN, 'osimage'), 'build', path, '-o', str(tmp_path)], timeout=3600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert Built(str(tmp_path), proc).report['outcome'] == 'passed'
