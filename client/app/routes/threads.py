"""A thread: its root and replies, reactions, edits, deletions, the composer and its drafts."""

from __future__ import annotations

import json
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
    safe_next,
    session,
    text_field,
    with_query,
)
from cove.client.app.routes.group_settings import rules_banner
from cove.client.app.routes.groups import blocked, group_or_404, my_role
from cove.client.app.views import REACTIONS
from cove.client.errors import ClientError, KeyChanged

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()
DRAFT_KEYS = ("t:", "g:", "dm:")


async def load_thread(c: Any, gid: bytes, tid: bytes) -> tuple[Any, list[Any]]:
    messages = await c.read(gid, tid)
    root = next((m for m in messages if m.type == "thread" and m.id == tid), None)
    if root is None:
        raise web.HTTPNotFound(text="This thread is not available here.\n")
    return root, [m for m in messages if m.id != tid]


def by_id(messages: list[Any]) -> dict[bytes, Any]:
    return {m.id: m for m in messages}


@routes.get("/groups/{group}/threads/{thread}")
async def thread_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid, tid = hex_id(request, "group"), hex_id(request, "thread")
    reply_to = request.query.get("reply_to", "")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        root, posts = await load_thread(c, gid, tid)
        changed = await blocked(c, gid)
        role = await my_role(c, gid)
        await s.shown(c, gid, tid, [root, *posts])
        draft, _ = await s.draft(c, f"t:{tid.hex()}")
        rules_pending = await rules_banner(c, gid)
    index = by_id([root, *posts])
    try:
        replying = index.get(bytes.fromhex(reply_to)) if reply_to else None
    except ValueError:
        replying = None
    return app.views.page(
        "thread.html",
        rules_pending=rules_pending,
        group=g,
        root=root,
        posts=posts,
        index=index,
        changed=changed,
        replying=replying,
        moderator=role in ("moderator", "owner"),
        draft=draft,
        flash=done_text(request),
        nav="groups",
    )


@routes.get("/groups/{group}/threads/{thread}/part")
async def thread_part(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid, tid = hex_id(request, "group"), hex_id(request, "thread")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        root, posts = await load_thread(c, gid, tid)
        role = await my_role(c, gid)
        await s.shown(c, gid, tid, [root, *posts])
    text = app.views.html(
        "_messages.html",
        group=g,
        root=root,
        posts=posts,
        index=by_id([root, *posts]),
        moderator=role in ("moderator", "owner"),
    )
    return web.Response(text=text, content_type="text/html")


@routes.post("/groups/{group}/threads/{thread}/posts")
async def post(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid, tid = hex_id(request, "group"), hex_id(request, "thread")
    here = f"/groups/{gid.hex()}/threads/{tid.hex()}"
    got = await receive(request)
    if isinstance(got, web.Response):
        return got
    text = text_field(got.fields, "text")
    reply = got.fields.get("reply_to", "")
    try:
        reply_to = bytes.fromhex(reply) if reply else None
    except ValueError:
        reply_to = None
    place = f"t:{tid.hex()}"
    if not text.strip() and not got.files:
        return done(request, here + "#composer")
    try:
        async with s.use() as c:
            await c.post(gid, tid, text, reply_to=reply_to, attachments=got.files, draft=place)
    except KeyChanged:
        async with s.reading() as c:
            await s.keep_draft(c, place, text)
        return done(request, here + "?blocked=1#composer")
    except ClientError as exc:
        log.warning("not posted: %s", type(exc).__name__)
        async with s.reading() as c:
            await s.keep_draft(c, place, text)
        return app.views.page("notice.html", status=400, back=here, error=explain(exc))
    log.info("posted")
    return done(request, here + "?done=posted#composer")


async def _target(request: web.Request) -> tuple[bytes, str]:
    data = await form(request)
    return hex_id(request, "message"), safe_next(data.get("next", "/"))


@routes.post("/messages/{message}/react")
async def react(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    data = await form(request)
    mid = hex_id(request, "message")
    back = safe_next(data.get("next", "/"))
    remove = "remove" in data
    emoji = data.get("remove" if remove else "emoji", "")
    if emoji not in REACTIONS:
        raise redirect(back)
    try:
        async with s.use() as c:
            await c.react(mid, emoji, remove=remove)
    except KeyChanged:
        raise redirect(with_query(back, "blocked=1")) from None
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=back, error=explain(exc))
    raise redirect(back, "unreacted" if remove else "reacted")


@routes.post("/messages/{message}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    data = await form(request)
    mid = hex_id(request, "message")
    back = safe_next(data.get("next", "/"))
    text = text_field(data, "text")
    if not text.strip():
        return app.views.page(
            "notice.html",
            status=400,
            back=back,
            error="An edit cannot be empty. To remove a message, delete it.",
        )
    try:
        async with s.use() as c:
            await c.edit(mid, text)
    except KeyChanged:
        raise redirect(with_query(back, "blocked=1")) from None
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=back, error=explain(exc))
    raise redirect(back, "edited")


@routes.post("/messages/{message}/delete")
async def delete(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    data = await form(request)
    mid = hex_id(request, "message")
    back = safe_next(data.get("next", "/"))
    try:
        async with s.use() as c:
            await c.delete(mid)
    except KeyChanged:
        raise redirect(with_query(back, "blocked=1")) from None
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=back, error=explain(exc))
    raise redirect(back, "deleted")


@routes.post("/drafts")
async def keep_draft(request: web.Request) -> web.StreamResponse:
    """The composer's script saves what is typed (in the encrypted store)."""
    s = session(request)
    try:
        data = json.loads(await request.text())
    except ValueError:
        raise web.HTTPBadRequest(text="bad draft\n") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="bad draft\n")
    key, text, title = data.get("key"), data.get("text"), data.get("title", "")
    if (
        not isinstance(key, str)
        or not isinstance(text, str)
        or not isinstance(title, str)
        or not key.startswith(DRAFT_KEYS)
        or len(key) > 200
    ):
        raise web.HTTPBadRequest(text="bad draft\n")
    async with s.reading() as c:
        kept = await s.keep_draft(c, key, text, title)
    return web.json_response({"ok": kept})
