"""examples/: one request per distribution and release, each valid and shown with its family's packages (by the
command's main() in this process, the osimage_main fixture)."""

import glob
import os

import pytest
import yaml

from ansible_collections.osimage.builder.plugins.module_utils import distros

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, 'examples', '*.yml')))


def test_there_is_an_example_for_every_distribution_and_release():
    named = set()
    for path in EXAMPLES:
        with open(path, encoding='utf-8') as f:
            request = yaml.safe_load(f)
        named.add((request['distro'], request['release']))
    assert named == {(row['distro'], row['release']) for row in distros.catalogue()}


@pytest.mark.parametrize('path', EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_each_example_validates_and_shows_its_familys_kernel_and_network(path, osimage_main):
    code, _out, err = osimage_main('validate', path)
    assert code == 0, err
    code, shown, err = osimage_main('show', path)
    assert code == 0, err
    request = yaml.safe_load(shown)
    os_facts = distros.resolve(request['distro'], request['release'], request['arch'], request['mirror'])
    assert '#   kernel: [%s]' % ', '.join(os_facts['packages']['kernel']) in shown
    assert '#   network: [%s]' % ', '.join(os_facts['packages']['network']) in shown
