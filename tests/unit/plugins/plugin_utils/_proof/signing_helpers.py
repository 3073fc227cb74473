"""Key files for the tests of the controller's key, and another user to own one."""

from __future__ import annotations

import os
import pwd

import pytest

from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import SigningKey


def other_user() -> pwd.struct_passwd:
    for name in ("nobody", "daemon"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != os.geteuid():
            return entry
    pytest.skip("no second user to own a file")


def key_file(path, key=None, mode=0o600):
    path.write_bytes((key or SigningKey.generate()).private_pem())
    path.chmod(mode)
    return path
