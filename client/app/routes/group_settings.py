"""A group's settings page: what newcomers receive, the rules (accepting them),
the welcome message; moderators change them (``client.rules``, ``client.newcomers``)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from cove.client.app.routes.common import (
    ctx,
    done_text,
    explain,
    form,
    hex_id,
    redirect,
    session,
    text_field,
)
from cove.client.app.routes.groups import group_or_404
from cove.client.errors import ClientError

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()
LEVELS = (
    ("nothing", "Nothing: newcomers read only what is sent after they join"),
    ("titles", "Thread titles and the rules (nobody's messages)"),
    ("full", "Full history: every thread and message"),
)


async def rules_banner(c: Any, group_id: bytes) -> Any:
    """The rules view when the member must accept them before posting, else None."""
    try:
        view = await c.rules.show(group_id)
    except ClientError:
        return None
    return None if view.accepted else view


@routes.get("/groups/{group}/settings")
async def settings_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        settings = await c.newcomers.settings(gid)
    return app.views.page(
        "group_settings.html",
        group=g,
        settings=settings,
        levels=LEVELS,
        flash=done_text(request),
        nav="groups",
    )


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    data = await form(request)
    here = f"/groups/{gid.hex()}/settings"
    try:
        async with s.use() as c:  # commits and records: the listener is halted meanwhile
            if action == "accept":
                await c.rules.accept(gid)
            elif action == "rules":
                await c.rules.set(gid, text_field(data, "text", 20_000))
            elif action == "welcome":
                await c.newcomers.set_welcome(gid, text_field(data, "text", 4000))
            elif action == "history":
                level = data.get("level", "")
                if level not in dict(LEVELS):
                    raise redirect(here)
                await c.newcomers.set_history(gid, level)
            elif action == "open_links":
                await c.open_links.set_enabled(gid, data.get("on") == "yes")
    except ClientError as exc:
        log.warning("settings %s refused: %s", action, type(exc).__name__)
        return app.views.page("notice.html", status=400, back=here, error=explain(exc))
    log.info("settings: %s", action)
    raise redirect(here, "accepted" if action == "accept" else "saved")


@routes.post("/groups/{group}/rules/accept")
async def accept(request: web.Request) -> web.StreamResponse:
    return await _act(request, "accept")


@routes.post("/groups/{group}/rules")
async def set_rules(request: web.Request) -> web.StreamResponse:
    return await _act(request, "rules")


@routes.post("/groups/{group}/welcome")
async def set_welcome(request: web.Request) -> web.StreamResponse:
    return await _act(request, "welcome")


@routes.post("/groups/{group}/history")
async def set_history(request: web.Request) -> web.StreamResponse:
    return await _act(request, "history")


@routes.post("/groups/{group}/open-links")
async def set_open_links(request: web.Request) -> web.StreamResponse:
    """Owners: allow open invite links in the group, or stop them."""
    return await _act(request, "open_links")
