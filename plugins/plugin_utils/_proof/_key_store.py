# PRIVATE: not part of the public API of changeaudit.linux; may change without notice.
"""The controller's key on disk: ``<ledger_dir>/signing.key``, created on first use with its public key
``signing.pub`` beside it, and any key file the operator names. A key file must be a regular file of the controller's
user that group and others cannot read (a symlink is refused: whoever can point it elsewhere picks the key), in a
directory only that user may write.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat

from ansible.errors import AnsibleError
from ansible_collections.changeaudit.linux.plugins.plugin_utils._proof._signing_key import HOW_TO_SET_A_KEY, KEY_FILE_ENV, SigningKey, private_key_from_pem

KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"


def _owner(uid: int) -> str:
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def read_key_file(path: str, what: str = "signing key file") -> SigningKey:
    """The key in ``path``, refused unless it is a regular file (not a symlink) of this user that group and others
    cannot read or write. Opened without following a symlink, then checked on what was opened (no race)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AnsibleError("The %s %s is a symlink, which is refused (whoever can re-point it chooses the key): "
                               "name the file itself, or copy the key there with mode 0600" % (what, path)) from None
        raise AnsibleError("Cannot read the %s %s: %s. %s" % (what, path, exc.strerror or exc, HOW_TO_SET_A_KEY)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AnsibleError("The %s %s is not a regular file: name the key file itself" % (what, path))
        if info.st_uid != os.geteuid():
            raise AnsibleError("The %s %s is owned by %s, not by the controller's user %s: whoever owns it can replace "
                               "the key. chown it to %s (and chmod 600), or use a key of your own" % (
                                   what, path, _owner(info.st_uid), _owner(os.geteuid()), _owner(os.geteuid())))
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AnsibleError("The %s %s may be read or written by group or others (mode %04o): chmod 600 %s" % (
                what, path, stat.S_IMODE(info.st_mode), path))
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            if sum(len(part) for part in chunks) > 1 << 20:
                raise AnsibleError("The %s %s is too big to be a key: name the key file itself" % (what, path))
    finally:
        os.close(fd)
    return private_key_from_pem(b"".join(chunks), "the file %s" % path)


def check_key_directory(path: str) -> None:
    """Refuses a directory for the key that is a symlink, not a directory, not this user's, or that group or others
    may write: whoever can write it can swap the key, and with it the signature on every proof."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise AnsibleError("Cannot use %s for the signing key: %s" % (path, exc.strerror or exc)) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise AnsibleError("The directory of the signing key %s is %s, which is refused: make it a directory of the "
                           "controller's user (mode 0700), or name a key with %s" % (
                               path, "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory", KEY_FILE_ENV))
    if info.st_uid != os.geteuid():
        raise AnsibleError("The directory of the signing key %s is owned by %s, not by the controller's user %s: chown "
                           "it to %s and chmod 700 it, or set ledger_dir to a directory of your own" % (
                               path, _owner(info.st_uid), _owner(os.geteuid()), _owner(os.geteuid())))
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AnsibleError("The directory of the signing key %s may be written by group or others (mode %04o): chmod "
                           "700 %s" % (path, stat.S_IMODE(info.st_mode), path))


def _write_new(directory: str, name: str, data: bytes, mode: int) -> str:
    """``data`` in a fresh temp file of ``directory`` (O_EXCL, never through a symlink), fsynced; returns its path."""
    temp = os.path.join(directory, ".%s.%d.%s.tmp" % (name, os.getpid(), secrets.token_hex(6)))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    return temp


def _export_public(directory: str, key: SigningKey) -> None:
    """signing.pub beside the key, rewritten (temp file, rename) only when it is not this key's."""
    path = os.path.join(directory, PUBLIC_KEY_FILE)
    pem = key.public_pem().encode("ascii")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if os.read(fd, 4096) == pem:
                return
        finally:
            os.close(fd)
    except OSError:
        pass
    temp = _write_new(directory, PUBLIC_KEY_FILE, pem, 0o644)
    os.rename(temp, path)


def create_or_read(directory: str) -> SigningKey:
    """The key of ``directory``, made if there is none. Two workers that both find none each write a key to a temp
    file and link it to signing.key; link never replaces, so the first wins and the other reads the winner's."""
    path = os.path.join(directory, KEY_FILE)
    if not os.path.lexists(path):
        new = SigningKey.generate()
        try:
            temp = _write_new(directory, KEY_FILE, new.private_pem(), 0o600)
        except OSError as exc:
            raise AnsibleError("Cannot create the signing key %s: %s. Make %s writable by the controller's user, or %s"
                               % (path, exc.strerror or exc, directory, HOW_TO_SET_A_KEY)) from None
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise AnsibleError("Cannot create the signing key %s: %s" % (path, exc.strerror or exc)) from None
        finally:
            os.unlink(temp)
    key = read_key_file(path)
    try:
        _export_public(directory, key)
    except OSError as exc:
        raise AnsibleError("Cannot write the public key %s: %s" % (os.path.join(directory, PUBLIC_KEY_FILE),
                                                                   exc.strerror or exc)) from None
    return key


__all__ = [
    "KEY_FILE",
    "PUBLIC_KEY_FILE",
    "read_key_file",
    "check_key_directory",
    "create_or_read",
]
