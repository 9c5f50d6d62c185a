"""A group's members with roles and safety numbers; adding, removing, roles, renaming, leaving."""

from __future__ import annotations

import logging
import re

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
ROLES = ("member", "moderator", "owner")


@routes.get("/groups/{group}/members")
async def members(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        people = await c.members(gid)
        banned = await c.banned(gid)
    role = next((m.role for m in people if m.me), "member")
    return app.views.page(
        "members.html",
        group=g,
        members=people,
        banned=banned,
        my_role=role,
        flash=done_text(request),
        nav="groups",
    )


async def _act(request: web.Request, done: str, action: str) -> web.StreamResponse:
    app = ctx(request)
    s = session(request)
    gid = hex_id(request, "group")
    data = await form(request)
    here = f"/groups/{gid.hex()}/members"
    try:
        async with s.use() as c:  # a commit: the listener is halted meanwhile
            if action == "add":
                handles = [h for h in re.split(r"[\s,]+", text_field(data, "handles", 2000)) if h]
                if not handles:
                    raise redirect(here)
                await c.add_members(gid, handles)
            elif action == "remove":
                await c.remove_member(gid, text_field(data, "handle", 200))
            elif action == "ban":
                reason = text_field(data, "reason", 1000).strip()
                await c.ban(gid, text_field(data, "handle", 200), reason=reason)
            elif action == "unban":
                await c.unban(gid, text_field(data, "handle", 200))
            elif action == "role":
                role = data.get("role", "")
                if role not in ROLES:
                    raise redirect(here)
                await c.set_role(gid, text_field(data, "handle", 200), role)
            elif action == "rename":
                name = text_field(data, "name", 200).strip()
                if not name:
                    raise redirect(here)
                await c.rename_group(gid, name, text_field(data, "description", 2000))
            elif action == "keys":
                await c.update_keys(gid)
            elif action == "leave":
                await c.leave_group(gid)
                here = "/"
    except ClientError as exc:
        log.warning("%s refused: %s", action, type(exc).__name__)
        return app.views.page("notice.html", status=400, back=here, error=explain(exc))
    log.info("members: %s", action)
    raise redirect(here, done)


@routes.post("/groups/{group}/members/add")
async def add(request: web.Request) -> web.StreamResponse:
    return await _act(request, "added", "add")


@routes.post("/groups/{group}/members/remove")
async def remove(request: web.Request) -> web.StreamResponse:
    return await _act(request, "removed", "remove")


@routes.post("/groups/{group}/members/ban")
async def ban(request: web.Request) -> web.StreamResponse:
    return await _act(request, "banned", "ban")


@routes.post("/groups/{group}/members/unban")
async def unban(request: web.Request) -> web.StreamResponse:
    return await _act(request, "unbanned", "unban")


@routes.post("/groups/{group}/members/role")
async def role(request: web.Request) -> web.StreamResponse:
    return await _act(request, "role", "role")


@routes.post("/groups/{group}/rename")
async def rename(request: web.Request) -> web.StreamResponse:
    return await _act(request, "renamed", "rename")


@routes.post("/groups/{group}/keys")
async def keys(request: web.Request) -> web.StreamResponse:
    return await _act(request, "keys", "keys")


@routes.post("/groups/{group}/leave")
async def leave(request: web.Request) -> web.StreamResponse:
    return await _act(request, "left", "leave")
