"""How the app looks and when it locks: kept in ``app-preferences.json`` beside the store.

These are needed before the store is unlocked (the unlock page already uses the
member's theme and text size), so they live outside it. They hold no content and
no group or member names: only the choices below, each checked against its list.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = "app-preferences.json"
THEMES = ("system", "light", "dark", "contrast")
TEXT_SIZES = ("normal", "large", "larger")
MOTION = ("system", "reduce")
#: minutes without activity before the app locks; 0 means never
LOCK_AFTER = (0, 5, 15, 30, 60)


@dataclass
class Preferences:
    theme: str = "system"
    text_size: str = "normal"
    motion: str = "system"
    lock_after: int = 15

    def checked(self) -> Preferences:
        return Preferences(
            theme=self.theme if self.theme in THEMES else "system",
            text_size=self.text_size if self.text_size in TEXT_SIZES else "normal",
            motion=self.motion if self.motion in MOTION else "system",
            lock_after=self.lock_after if self.lock_after in LOCK_AFTER else 15,
        )


def load(home: Path) -> Preferences:
    try:
        raw = json.loads((home / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Preferences()
    if not isinstance(raw, dict):
        return Preferences()
    p = Preferences()
    for name in ("theme", "text_size", "motion"):
        if isinstance(raw.get(name), str):
            setattr(p, name, raw[name])
    if isinstance(raw.get("lock_after"), int):
        p.lock_after = raw["lock_after"]
    return p.checked()


def save(home: Path, prefs: Preferences) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = home / (FILE + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(prefs.checked()), f)
    os.replace(tmp, home / FILE)
