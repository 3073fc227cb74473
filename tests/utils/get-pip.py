#!/usr/bin/env python
# Copyright: changeaudit.linux developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""changeaudit get-pip stand-in: bootstraps pip from the Python's own ensurepip, then pins it from the index.

ansible-test bootstraps pip into every empty virtual environment it creates (``--venv``, sanity tests) by
running ``python get_pip_<version>.py --disable-pip-version-check pip==<version> --no-setuptools --no-wheel``
with a script it downloads from ci-files.testing.ansible.com and caches in ``~/.ansible/test/cache/``. That
host is out of reach here, so noxfile.py (the ansible-test sessions) puts this script in the cache instead. It accepts the same
command line: ensurepip installs the bundled pip (no network), then ``pip install`` brings the requested pins
from the package index configured for pip (PyPI or a mirror). ``--no-setuptools``/``--no-wheel`` remove
setuptools and wheel again when ensurepip added them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def main(argv: list) -> int:
    options = [arg for arg in argv if arg.startswith("-") and arg not in ("--no-setuptools", "--no-wheel")]
    packages = [arg for arg in argv if not arg.startswith("-")]
    had = {name: importlib.util.find_spec(name) is not None for name in ("setuptools", "wheel")}

    if importlib.util.find_spec("pip") is None:
        subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])

    if packages:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + options + packages)

    unwanted = [
        name
        for name, flag in (("setuptools", "--no-setuptools"), ("wheel", "--no-wheel"))
        if flag in argv and not had[name] and not any(pkg.split("=")[0].strip().lower() == name for pkg in packages)
    ]
    importlib.invalidate_caches()
    installed = [name for name in unwanted if importlib.util.find_spec(name) is not None]
    if installed:
        subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "--disable-pip-version-check", "-y"] + installed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
