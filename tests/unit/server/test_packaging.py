"""Every folder of ``server/`` that ships files is a package in ``pyproject.toml``.

setuptools warns at install ("Package 'cove.server.storage.migrations' is absent
from the `packages` configuration") when a folder of data files is shipped as
package data of its parent; a folder the list forgets is not installed at all.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_source_folder_is_a_listed_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(config["packages"])
    folders = {
        f"cove.{name}" + ("." + ".".join(p.relative_to(top).parts) if p != top else "")
        for name, top in config["package-dir"].items()
        for name, top in [(name.removeprefix("cove."), ROOT / top)]
        for p in [top, *top.rglob("*")]
        if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())
    }
    assert {"cove.server.storage.migrations", "cove.client.app.templates"} <= folders
    assert folders <= packages, folders - packages
    # data folders carry their files themselves, not through their parent's patterns
    data = config["package-data"]
    assert data["cove.server.storage.migrations"] == ["*.sql"]
    assert not any("/" in pattern for patterns in data.values() for pattern in patterns)
