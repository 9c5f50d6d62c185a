"""Where a file passes between the browser and the client's attachment calls.

CoveClient's attachment methods take and write file paths. A photo a member attaches
must not land as plaintext on the disk, so the app hands them paths in a private
folder (mode 0700) on a memory-backed file system (``/dev/shm`` on Linux; elsewhere
the system's temporary folder, which the docs call out). Each file is removed as
soon as the client has read it (upload) or the app has read it back (download), and
the whole folder when the app stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

MEMORY_FS = Path("/dev/shm")  # noqa: S108 - a private 0700 folder is made inside


class Staging:
    def __init__(self, root: Path | None = None) -> None:
        base = root or (MEMORY_FS if MEMORY_FS.is_dir() else Path(tempfile.gettempdir()))
        self.root = Path(tempfile.mkdtemp(prefix="cove-app-", dir=base))
        os.chmod(self.root, 0o700)

    def __repr__(self) -> str:
        return f"Staging({str(self.root)!r})"

    def new_path(self, file_name: str) -> Path:
        """A fresh path whose last part is ``file_name`` (the client keeps that name)."""
        folder = self.root / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        return folder / file_name

    @contextlib.contextmanager
    def scratch(self, file_name: str = "file") -> Iterator[Path]:
        path = self.new_path(file_name)
        try:
            yield path
        finally:
            self.discard(path)

    def discard(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.with_name(path.name + ".part").unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
