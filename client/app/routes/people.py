"""Private messages, safety numbers (verification) and confirming a changed key."""

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
    redirect,
    safe_next,
    session,
    text_field,
)
from cove.client.errors import ClientError, KeyChanged, UnknownHandle

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()


def handle_of(request: web.Request) -> str:
    handle = request.match_info.get("handle", "")
    if not handle or len(handle) > 200:
        raise web.HTTPNotFound(text="Not found\n")
    return handle


async def conversation(c: Any, handle: str) -> Any:
    """The private conversation with ``handle`` (CoveClient.dm_group), or None."""
    gid = await c.dm_group(handle)
    if gid is None:
        return None
    return next((g for g in await c.groups() if g.group_id == gid and g.active), None)


@routes.get("/people")
async def people(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    items = []
    async with s.reading() as c:
        for g in await c.groups():
            if g.kind == "dm" and g.active:
                items.append({"view": g, "unread": await s.unread(c, g.group_id)})
        draft, _ = await s.draft(c, "dm:")
    return app.views.page(
        "people.html",
        conversations=items,
        nav="people",
        draft=draft,
        flash=done_text(request),
    )


async def _dm_context(s: Any, c: Any, handle: str) -> dict[str, Any]:
    g = await conversation(c, handle)
    messages = await c.read(g.group_id) if g else []
    changed = []
    if g is not None:
        try:
            changed = [m.handle for m in await c.members(g.group_id) if m.key_changed]
        except ClientError:
            changed = []
    if g is not None:
        await s.shown(c, g.group_id, None, messages)
    return {"peer": handle, "group": g, "messages": messages, "changed": changed}


@routes.get("/people/{handle}")
async def dm_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    handle = handle_of(request)
    async with s.reading() as c:
        context = await _dm_context(s, c, handle)
        draft, _ = await s.draft(c, f"dm:{handle}")
    return app.views.page("dm.html", **context, draft=draft, flash=done_text(request), nav="people")


@routes.get("/people/{handle}/part")
async def dm_part(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    handle = handle_of(request)
    async with s.reading() as c:
        context = await _dm_context(s, c, handle)
    return web.Response(
        text=app.views.html("_dm_messages.html", **context), content_type="text/html"
    )


@routes.post("/people/send")
async def send(request: web.Request) -> web.StreamResponse:
    """A private message (the first one creates the two-member group)."""
    app = ctx(request)
    s = session(request)
    got = await receive(request)
    if isinstance(got, web.Response):
        return got
    handle = text_field(got.fields, "handle", 200).strip()
    text = text_field(got.fields, "text")
    back = f"/people/{handle}" if handle else "/people"
    if not handle or (not text.strip() and not got.files):
        return app.views.page(
            "notice.html", status=400, back="/people", error="Please give a name and a message."
        )
    # the draft of the composer used: a new conversation's, or this conversation's
    place = "dm:" if got.fields.get("from") == "new" or len(handle) > 190 else f"dm:{handle}"
    try:
        async with s.use() as c:
            await c.dm(handle, text, got.files, draft=place)
    except KeyChanged:
        async with s.reading() as c:
            await s.keep_draft(c, place, text)
        return done(request, back + "?blocked=1#composer")
    except ClientError as exc:
        log.warning("private message not sent: %s", type(exc).__name__)
        async with s.reading() as c:
            await s.keep_draft(c, place, text)
        return app.views.page("notice.html", status=400, back=back, error=explain(exc))
    log.info("private message sent")
    return done(request, back + "?done=posted#composer")


@routes.get("/people/{handle}/verify")
async def verify(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    handle = handle_of(request)
    try:
        async with s.reading() as c:
            number, changed = await c.verify(handle)
    except UnknownHandle:
        raise web.HTTPNotFound(text="Cove does not know anyone by that name.\n") from None
    back = safe_next(request.query.get("next", ""), f"/people/{handle}")
    return app.views.page(
        "verify.html",
        peer=handle,
        number=number,
        changed=changed,
        back=back,
        flash=done_text(request),
        nav="people",
    )


@routes.post("/people/{handle}/trust")
async def trust(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    handle = handle_of(request)
    data = await form(request)
    back = safe_next(data.get("next", ""), f"/people/{handle}")
    try:
        async with s.use() as c:
            await c.trust(handle)
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=back, error=explain(exc))
    log.info("a safety number was confirmed")
    raise redirect(back.split("?")[0].split("#")[0], "trusted")
