"""The files a `git clone` of this checkout would have, copied as plain files (for tests that need a clean tree)."""

import os
import shutil
import subprocess


def copy_tracked_files(root, dest):
    """Copy the files git tracks below ``root``, and the new ones it does not ignore, to ``dest`` (no symlinks)."""
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=root, capture_output=True,
                           text=True, check=True).stdout.split('\0')
    for rel in filter(None, files):
        src = os.path.join(root, rel)
        if os.path.isfile(src) and not os.path.islink(src):
            os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))
    return dest
