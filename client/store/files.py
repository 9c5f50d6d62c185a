"""Files next to the store: private directories, refusing to overwrite, publishing a
new file by hard link, fsync, permissions (``docs/client/local-store.md`` §2)."""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path

from .errors import StoreExists

#: files SQLite may keep next to the store
SIBLING_SUFFIXES = ("-wal", "-shm", "-journal")
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents with mode 0700; leave existing ones alone."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        with suppress(FileExistsError):
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)
    if not directory.is_dir():
        raise NotADirectoryError(f"not a directory: {directory}")


def refuse_existing(path: Path) -> None:
    for p in (path, *(sibling(path, s) for s in SIBLING_SUFFIXES)):
        if os.path.lexists(p):
            raise StoreExists(f"refusing to overwrite existing file: {p}")


def publish(tmp: Path, path: Path) -> None:
    """Move the finished file into place without ever overwriting ``path``."""
    if os.path.lexists(sibling(path, "-wal")) or os.path.lexists(sibling(path, "-journal")):
        raise StoreExists(f"refusing to overwrite existing file: {path}")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise StoreExists(f"refusing to overwrite existing file: {path}") from None
    except OSError:
        # file systems without hard links: check-then-rename (a narrow race)
        if os.path.lexists(path):
            raise StoreExists(f"refusing to overwrite existing file: {path}") from None
        os.rename(tmp, path)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    fd = os.open(directory, os.O_RDONLY | flag | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tighten_modes(path: Path) -> None:
    """Set the store and its siblings to 0600 if group or others have any access."""
    for p in (path, *(sibling(path, s) for s in SIBLING_SUFFIXES)):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
            os.chmod(p, 0o600)
