"""First run (an account from an invite), unlock and lock."""

from __future__ import annotations

import logging
import re
import urllib.parse

from aiohttp import web

from cove.client.app import passphrase
from cove.client.app.routes.common import ctx, explain, form, text_field
from cove.client.app.server import App
from cove.client.app.session import create_account, join_with_link, open_session
from cove.client.errors import ClientError
from cove.client.features.invites import InviteProblem
from cove.client.features.invites_joining import preview_of
from cove.protocol.invites import InviteLinkError, parse_invite_link
from cove.protocol.wire.limits import HANDLE_PATTERN

log = logging.getLogger("cove.app")
routes = web.RouteTableDef()


def parse_invite(invite: str, relay: str) -> tuple[str, str]:
    """(relay URL, invite code) from an invite link (``RELAY/#invite=CODE``) or a code
    and a separate relay address. ValueError with a plain message when unusable."""
    invite = invite.strip()
    relay = relay.strip()
    if "#invite=" in invite:
        base, _, code = invite.partition("#invite=")
        relay = base.rstrip("/")
        code = urllib.parse.unquote(code)
    else:
        code = invite
    if not code:
        raise ValueError("Please paste the invite your organizer sent you.")
    if not relay:
        raise ValueError("Your invite is a code: please also give the relay address.")
    url = urllib.parse.urlsplit(relay)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError("The relay address should start with https:// (or http://).")
    return relay.rstrip("/"), code


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


@routes.get("/welcome")
async def welcome(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    if app.has_account:
        raise web.HTTPSeeOther("/unlock")
    return app.views.page("welcome.html", form={"invite": "", "relay": "", "handle": ""})


@routes.post("/welcome")
async def create(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    if app.has_account:
        raise web.HTTPSeeOther("/unlock")
    data = await form(request)
    kept = {k: text_field(data, k, 2000) for k in ("invite", "relay", "handle")}
    if is_group_link(kept["invite"]):  # a group's invite link: its preview comes first
        return await _join_page(app, kept["invite"].strip(), kept["handle"], [])
    pp = data.get("passphrase", "")
    error = None
    try:
        relay, code = parse_invite(kept["invite"], kept["relay"])
    except ValueError as exc:
        error = str(exc)
    handle = kept["handle"].strip().lower()
    error = error or _account_problem(app, handle, data)
    if error is None:
        try:
            async with app.opening:
                app.session = await create_account(app.home, pp, relay, handle, code, app.hub)
        except ClientError as exc:
            log.warning("account not created: %s", type(exc).__name__)
            error = explain(exc)
            if "handle_taken" in str(exc):
                error = "Someone on this relay already has that name. Please choose another."
    if error is not None:
        return app.views.page("welcome.html", status=400, form=kept, error=error)
    log.info("account created")
    raise web.HTTPSeeOther("/?done=created_account")


def _account_problem(app: App, handle: str, data: dict[str, str]) -> str | None:
    """What is wrong with the name, the passphrase or the confirmation (None: nothing)."""
    if not re.fullmatch(HANDLE_PATTERN, handle):
        return (
            "Your Cove name needs 3 to 32 characters: small letters, numbers, dots, "
            "dashes or underscores, starting with a letter or a number."
        )
    problem = passphrase.problem(data.get("passphrase", ""), data.get("passphrase2", ""))
    if problem is not None:
        return problem
    if data.get("understood") != "yes":
        return "Please confirm that you understand nobody can recover your passphrase."
    if app.opening.locked():
        return "Cove is already creating your account. Please wait a moment."
    return None


def is_group_link(text: str) -> bool:
    """A group's invite link (``<relay>/j/<link id>#…``) rather than a relay invite."""
    try:
        parse_invite_link(text.strip())
    except InviteLinkError:
        return False
    return True


async def _join_page(
    app: App, link: str, handle: str, answers: list[str], error: str | None = None
) -> web.StreamResponse:
    try:
        preview = await preview_of(link)
    except ClientError as exc:
        form_ = {"invite": link, "relay": "", "handle": handle}
        return app.views.page("welcome.html", status=400, form=form_, error=str(exc))
    return app.views.page(
        "welcome_join.html", status=400 if error else 200, preview=preview, link=link,
        form={"invite": link, "relay": "", "handle": handle}, answers=answers, error=error,
    )  # fmt: skip


@routes.post("/welcome/join")
async def create_and_join(request: web.Request) -> web.StreamResponse:
    """First run with a group's invite link: the account is registered with the link."""
    app = ctx(request)
    if app.has_account:
        raise web.HTTPSeeOther("/unlock")
    data = await form(request)
    link = text_field(data, "invite", 600).strip()
    handle = text_field(data, "handle", 64).strip().lower()
    try:
        count = min(max(int(data.get("questions", "0")), 0), 8)
    except ValueError:
        count = 0
    answers = [text_field(data, f"answer{i}", 2000) for i in range(count)]
    error = _account_problem(app, handle, data)
    if error is None:
        try:
            async with app.opening:
                app.session, status = await join_with_link(
                    app.home, data.get("passphrase", ""), link, handle, answers,
                    data.get("accept_rules") == "yes", app.hub,
                )  # fmt: skip
        except ClientError as exc:
            log.warning("account not created with a link: %s", type(exc).__name__)
            error = str(exc) if isinstance(exc, InviteProblem) else explain(exc)
            if "handle_taken" in str(exc):
                error = "Someone on this relay already has that name. Please choose another."
    if error is not None:
        return await _join_page(app, link, handle, answers, error)
    log.info("account created with a link: %s", status.state)
    raise web.HTTPSeeOther("/join")


@routes.get("/unlock")
async def unlock_page(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    if not app.has_account:
        raise web.HTTPSeeOther("/welcome")
    if app.session is not None:
        raise web.HTTPSeeOther("/")
    return app.views.page("unlock.html")


@routes.post("/unlock")
async def unlock(request: web.Request) -> web.StreamResponse:
    app = ctx(request)
    if app.session is not None:
        raise web.HTTPSeeOther("/")
    data = await form(request)
    try:
        async with app.opening:
            if app.session is not None:  # another tab unlocked meanwhile
                raise web.HTTPSeeOther("/")
            app.session = await open_session(app.home, data.get("passphrase", ""), app.hub)
    except ClientError as exc:
        log.warning("not unlocked: %s", type(exc).__name__)
        return app.views.page("unlock.html", status=400, error=explain(exc))
    log.info("unlocked")
    raise web.HTTPSeeOther("/")


@routes.post("/lock")
async def lock(request: web.Request) -> web.StreamResponse:
    await ctx(request).lock()
    log.info("locked by the member")
    raise web.HTTPSeeOther("/unlock")
