"""The osimage command run in the test's process: a process of its own costs 0.5 s to start (Ansible's imports),
which hundreds of cases multiply."""

import pytest

from osimage import cli, collection


@pytest.fixture
def osimage_main(monkeypatch, capsys):
    """main(*argv): the exit code, stdout and stderr of `osimage ARGV` run through cli.main() here. The collection
    is this checkout's, which the tests import already (finding it through Ansible's collection loader is what the
    tests of the installed command prove)."""
    monkeypatch.setattr(collection, 'locate', lambda: None)

    def main(*argv):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return main
