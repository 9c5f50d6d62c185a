"""Invite links in the app: a group's Invites page (moderators), its Requests queue,
and "Join a group" (paste a link, read its preview, answer, accept the rules, send)."""

from __future__ import annotations

import logging

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
from cove.client.features.invites import InviteProblem

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()
DAY = 86400
DONE = {
    "link": "Your invite link is ready.",
    "revoked": "The link no longer works.",
    "approved": "Approved: they join the group on their next sync.",
    "declined": "Declined. They will see your message, if you wrote one.",
}


def _say(exc: ClientError) -> str:
    return str(exc) if isinstance(exc, InviteProblem) else explain(exc)


def _done(request: web.Request) -> str:
    return DONE.get(request.query.get("done", ""), "") or done_text(request)


def _number(data: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = data.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(low, min(high, value))


# -- a group's invite links (moderators) ------------------------------------------------


@routes.get("/groups/{group}/invites")
async def invites(request: web.Request) -> web.StreamResponse:
    app, s, gid = ctx(request), session(request), hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        try:
            links = await c.invites.list(gid)
        except ClientError as exc:
            here = f"/groups/{gid.hex()}"
            return app.views.page("notice.html", status=403, back=here, error=_say(exc))
    return app.views.page("invites.html", group=g, links=links, flash=_done(request), nav="groups")


@routes.post("/groups/{group}/invites")
async def create(request: web.Request) -> web.StreamResponse:
    app, s, gid = ctx(request), session(request), hex_id(request, "group")
    data = await form(request)
    here = f"/groups/{gid.hex()}/invites"
    questions = [q.strip() for q in text_field(data, "questions", 5000).splitlines() if q.strip()]
    try:
        async with s.use() as c:
            await c.invites.create(
                gid, open_link=data.get("mode") == "open",
                expires_in=_number(data, "days", 7, 1, 365) * DAY,
                max_uses=_number(data, "uses", 25, 1, 10000), questions=questions,
            )  # fmt: skip
    except ClientError as exc:
        log.warning("invite create refused: %s", type(exc).__name__)
        return app.views.page("notice.html", status=400, back=here, error=_say(exc))
    raise redirect(here, "link")


@routes.post("/groups/{group}/invites/{link}/revoke")
async def revoke(request: web.Request) -> web.StreamResponse:
    app, s, gid = ctx(request), session(request), hex_id(request, "group")
    here = f"/groups/{gid.hex()}/invites"
    try:
        async with s.use() as c:
            await c.invites.revoke(gid, request.match_info["link"])
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=here, error=_say(exc))
    raise redirect(here, "revoked")


@routes.get("/groups/{group}/invites/{link}/qr.svg")
async def qr(request: web.Request) -> web.StreamResponse:
    s, gid = session(request), hex_id(request, "group")
    try:
        async with s.reading() as c:
            data = await c.invites.qr(gid, request.match_info["link"], "svg")
    except ClientError:
        raise web.HTTPNotFound(text="Not found\n") from None
    return web.Response(
        body=data, content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


# -- the moderators' queue --------------------------------------------------------------


@routes.get("/groups/{group}/requests")
async def requests(request: web.Request) -> web.StreamResponse:
    app, s, gid = ctx(request), session(request), hex_id(request, "group")
    async with s.reading() as c:
        g = await group_or_404(c, gid)
        try:
            waiting = await c.invites.requests(gid)
        except ClientError as exc:
            here = f"/groups/{gid.hex()}"
            return app.views.page("notice.html", status=403, back=here, error=_say(exc))
        refused = c.invites.refused(gid)
    return app.views.page(
        "requests.html", group=g, requests=waiting, refused=refused, flash=_done(request),
        nav="groups",
    )  # fmt: skip


async def _answer(request: web.Request, approve: bool) -> web.StreamResponse:
    app, s, gid = ctx(request), session(request), hex_id(request, "group")
    data = await form(request)
    here = f"/groups/{gid.hex()}/requests"
    rid = request.match_info["request"]
    try:
        async with s.use() as c:
            if approve:
                await c.invites.approve(gid, rid)
            else:
                await c.invites.decline(gid, rid, text_field(data, "message", 1000).strip())
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back=here, error=_say(exc))
    raise redirect(here, "approved" if approve else "declined")


@routes.post("/groups/{group}/requests/{request}/approve")
async def approve(request: web.Request) -> web.StreamResponse:
    return await _answer(request, True)


@routes.post("/groups/{group}/requests/{request}/decline")
async def decline(request: web.Request) -> web.StreamResponse:
    return await _answer(request, False)


# -- joining ------------------------------------------------------------------------------


@routes.get("/join")
async def join_page(request: web.Request) -> web.StreamResponse:
    app, s = ctx(request), session(request)
    async with s.use() as c:
        try:
            states = await c.invites.status()
        except ClientError:
            states = await c.invites.status(sync=False)
    return app.views.page("join.html", preview=None, link="", states=states, nav="groups")


@routes.post("/join/preview")
async def join_preview(request: web.Request) -> web.StreamResponse:
    app, s = ctx(request), session(request)
    data = await form(request)
    link = text_field(data, "link", 600).strip()
    try:
        async with s.reading() as c:
            preview = await c.invites.preview(link)
    except ClientError as exc:
        return app.views.page(
            "join.html", preview=None, link=link, states=[], error=_say(exc), nav="groups"
        )
    return app.views.page("join.html", preview=preview, link=link, states=[], nav="groups")


@routes.post("/join")
async def join_send(request: web.Request) -> web.StreamResponse:
    app, s = ctx(request), session(request)
    data = await form(request)
    link = text_field(data, "link", 600).strip()
    count = _number(data, "questions", 0, 0, 8)
    answers = [text_field(data, f"answer{i}", 2000) for i in range(count)]
    try:
        async with s.use() as c:
            status = await c.invites.join(
                link, answers=answers, accept_rules=data.get("accept_rules") == "yes"
            )
    except ClientError as exc:
        return app.views.page("notice.html", status=400, back="/join", error=_say(exc))
    log.info("join: %s", status.state)
    return app.views.page("join.html", preview=None, link="", states=[status], nav="groups")
