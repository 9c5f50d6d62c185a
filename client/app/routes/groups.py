"""The group list (with unread counts), a group's threads, starting a thread, syncing."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from cove.client.app.routes.attachments import done, receive
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
from cove.client.errors import ClientError, KeyChanged

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()


async def blocked(c: Any, group_id: bytes) -> list[str]:
    """Members whose identity key changed: sending here waits until the member checks."""
    try:
        return [m.handle for m in await c.members(group_id) if m.key_changed]
    except ClientError:
        return []


async def my_role(c: Any, group_id: bytes) -> str:
    """This member's role in the group (owner, moderator or member)."""
    try:
        return next((m.role for m in await c.members(group_id) if m.me), "member")
    except ClientError:
        return "member"


EVENTS_SHOWN = 20


async def recent_events(c: Any, group_id: bytes) -> list[Any]:
    """The group's latest events (refusals, membership, role and name changes), newest
    first."""
    return list(reversed((await c.events(group_id))[-EVENTS_SHOWN:]))


async def group_or_404(c: Any, group_id: bytes) -> Any:
    for g in await c.groups():
        if g.group_id == group_id and g.active:
            return g
    raise web.HTTPNotFound(text="This group is not available here.\n")


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    groups: list[dict[str, Any]] = []
    dms: list[dict[str, Any]] = []
    async with s.reading() as c:
        for g in await c.groups():
            if not g.active:
                continue
            item = {"view": g, "unread": await s.unread(c, g.group_id)}
            (groups if g.kind == "group" else dms).append(item)
    flash = done_text(request)
    if request.query.get("done") == "created_account":
        flash = "Welcome to Cove. Your account is ready."
    return app.views.page("home.html", groups=groups, dms=dms, flash=flash, nav="groups")


@routes.post("/groups")
async def create_group(request: web.Request) -> web.StreamResponse:
    s = session(request)
    data = await form(request)
    name = text_field(data, "name", 200).strip()
    if not name:
        raise redirect("/")
    async with s.use() as c:
        gid = await c.create_group(name, text_field(data, "description", 2000))
    log.info("group created")
    raise redirect(f"/groups/{gid.hex()}/members", "created")


@routes.post("/sync")
async def sync(request: web.Request) -> web.StreamResponse:
    s = session(request)
    data = await form(request)
    try:
        async with s.use() as c:
            s.synced(await c.sync())
    except ClientError as exc:
        log.warning("sync: %s", type(exc).__name__)
    from cove.client.app.routes.common import safe_next

    raise redirect(safe_next(data.get("next", "/")), "synced")


async def thread_list(c: Any, group_id: bytes) -> list[dict[str, Any]]:
    messages = await c.read(group_id)
    unread = await c.unread(group_id)
    out = []
    for t in (m for m in messages if m.type == "thread"):
        replies = [m for m in messages if m.type == "post" and m.thread == t.id]
        last = max([t.sent_at, *(r.sent_at for r in replies)])
        out.append(
            {"view": t, "replies": len(replies), "unread": unread.get(t.id, 0), "last": last}
        )
    out.sort(key=lambda item: item["last"], reverse=True)
    return out


@routes.get("/groups/{group}")
async def group_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        threads = await thread_list(c, gid)
        changed = await blocked(c, gid)
        unreadable = len(await c.quarantined(gid))
        events = await recent_events(c, gid)
        draft, draft_title = await s.draft(c, f"g:{gid.hex()}")
        from cove.client.app.routes.group_settings import rules_banner

        rules_pending = await rules_banner(c, gid)
    return app.views.page(
        "group.html",
        rules_pending=rules_pending,
        group=g,
        threads=threads,
        changed=changed,
        unreadable=unreadable,
        events=events,
        draft=draft,
        draft_title=draft_title,
        flash=done_text(request),
        nav="groups",
    )


@routes.get("/groups/{group}/part")
async def group_part(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        threads = await thread_list(c, gid)
        unreadable = len(await c.quarantined(gid))
        events = await recent_events(c, gid)
    text = app.views.html(
        "_threads.html", group=g, threads=threads, unreadable=unreadable, events=events
    )
    return web.Response(text=text, content_type="text/html")


@routes.post("/groups/{group}/threads")
async def new_thread(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    got = await receive(request)
    if isinstance(got, web.Response):
        return got
    title = text_field(got.fields, "title", 500).strip()
    body = text_field(got.fields, "body")
    here = f"/groups/{gid.hex()}"
    place = f"g:{gid.hex()}"
    if not title:
        async with s.reading() as c:
            await s.keep_draft(c, place, body)
        return app.views.page(
            "notice.html", status=400, back=here, error="Please give your thread a title."
        )
    try:
        async with s.use() as c:
            tid = await c.new_thread(gid, title, body, got.files, draft=place)
    except KeyChanged:
        async with s.reading() as c:
            await s.keep_draft(c, place, body, title)
        return done(request, here + "?blocked=1#composer")
    except ClientError as exc:
        log.warning("thread not started: %s", type(exc).__name__)
        async with s.reading() as c:
            await s.keep_draft(c, place, body, title)
        return app.views.page("notice.html", status=400, back=here, error=explain(exc))
    log.info("thread started")
    return done(request, f"/groups/{gid.hex()}/threads/{tid.hex()}?done=thread")
