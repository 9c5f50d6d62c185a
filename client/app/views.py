"""Rendering: the Jinja2 environment (autoescaped, strict) and the filters pages use."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

if TYPE_CHECKING:
    from cove.client.app.server import App

TEMPLATES = Path(__file__).parent / "templates"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
REACTIONS = ("💜", "👍", "🤗", "🙏", "😢")


def when(ts: int, now: float | None = None) -> str:
    """A plain-language time: 'just now', '5 minutes ago', 'yesterday', a date."""
    if not ts:
        return ""
    delta = int((now or time.time()) - ts)
    if delta < 60:
        return "just now"
    if delta < 3600:
        n = delta // 60
        return f"{n} minute{'s' if n != 1 else ''} ago"
    if delta < 86400:
        n = delta // 3600
        return f"{n} hour{'s' if n != 1 else ''} ago"
    if delta < 2 * 86400:
        return "yesterday"
    return time.strftime("%d %B %Y", time.localtime(ts))


def size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def safety_groups(number: str) -> list[str]:
    digits = "".join(ch for ch in number if ch.isdigit())
    return [digits[i : i + 5] for i in range(0, len(digits), 5)]


def is_image(att: dict[str, Any]) -> bool:
    return att.get("media_type") in IMAGE_TYPES


class Views:
    def __init__(self, app: App) -> None:
        self.app = app
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            when=when, size=size, safety_groups=safety_groups, hex=lambda b: b.hex() if b else ""
        )
        self.env.tests["image"] = is_image
        self.env.globals["REACTIONS"] = REACTIONS

    def html(self, name: str, **context: Any) -> str:
        app = self.app
        base = {
            "prefs": app.prefs,
            "csrf": app.guard.csrf_token,
            "me": app.session.handle if app.session else "",
            "unlocked": app.session is not None,
            "flash": "",
            "error": "",
        }
        base.update(context)
        return self.env.get_template(name).render(**base)

    def page(self, name: str, *, status: int = 200, **context: Any) -> web.Response:
        return web.Response(
            text=self.html(name, **context),
            status=status,
            content_type="text/html",
            charset="utf-8",
        )
