"""Installs what the browser tests need on a fresh machine (``scripts/test`` runs this).

* Debian's Chromium (``/usr/bin/chromium``) and a colour emoji font, with apt-get, when
  missing (CI runs as root; elsewhere it says what to run).
* axe-core from the npm registry at :data:`AXE_CORE` into ``.cache/browser-tests``
  (ignored by git; nothing of it is committed).

Playwright for Python itself comes with the dev extra (pyproject.toml); its own
browser download is not used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
AXE_CORE = "4.14.1"
CACHE = ROOT / ".cache" / "browser-tests"
AXE_JS = CACHE / "node_modules" / "axe-core" / "axe.min.js"
APT_PACKAGES = ("chromium", "fonts-noto-color-emoji")


def _apt(packages: list[str]) -> None:
    if os.geteuid() != 0:
        sys.exit(f"the browser tests need: sudo apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages], check=True, env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def axe_installed() -> bool:
    package = CACHE / "node_modules" / "axe-core" / "package.json"
    return AXE_JS.exists() and f'"version": "{AXE_CORE}"' in package.read_text()


def provision() -> None:
    missing = [
        name
        for name, path in (("chromium", CHROMIUM), ("fonts-noto-color-emoji", EMOJI_FONT))
        if not path.exists()
    ]
    if missing:
        _apt(missing)
    if not axe_installed():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("the browser tests need node and npm (apt-get install -y npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
             "--prefix", str(CACHE), f"axe-core@{AXE_CORE}"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip


if __name__ == "__main__":
    provision()
