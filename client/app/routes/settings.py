"""Appearance (theme, text size, motion), the idle lock, and the key-update schedule."""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from cove.client.app import preferences
from cove.client.app.routes.common import ctx, done_text, explain, form, redirect
from cove.client.errors import ClientError

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()


@routes.get("/settings")
async def settings_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    schedule = None
    if app.session is not None:
        app.session.touch()
        async with app.session.reading() as c:
            schedule = await c.settings()
    return app.views.page(
        "settings.html",
        schedule=schedule,
        themes=preferences.THEMES,
        text_sizes=preferences.TEXT_SIZES,
        lock_choices=preferences.LOCK_AFTER,
        flash=done_text(request),
        nav="settings",
    )


@routes.post("/settings")
async def save(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    data = await form(request)
    p = preferences.Preferences(
        theme=data.get("theme", app.prefs.theme),
        text_size=data.get("text_size", app.prefs.text_size),
        motion="reduce" if data.get("reduce_motion") == "yes" else "system",
        lock_after=app.prefs.lock_after,
    )
    with contextlib.suppress(ValueError):
        p.lock_after = int(data.get("lock_after", str(app.prefs.lock_after)))
    app.prefs = p.checked()
    preferences.save(app.home, app.prefs)
    if app.session is not None and data.get("update_days"):
        app.session.touch()
        try:
            days = float(data["update_days"])
            async with app.session.use() as c:
                await c.settings(update_days=days)
        except (ValueError, ClientError) as exc:
            error = (
                explain(exc) if isinstance(exc, ClientError) else "Please give a number of days."
            )
            return app.views.page("notice.html", status=400, back="/settings", error=error)
    log.info("settings saved")
    raise redirect("/settings", "saved")


@routes.get("/live")
async def live(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    return await app.hub.handle(request, app.touch)
