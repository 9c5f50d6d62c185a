"""First run (an account from an invite), unlock and lock."""

from __future__ import annotations

import logging
import re
import urllib.parse

from aiohttp import web

from cove.client.app import passphrase
from cove.client.app.routes.common import ctx, explain, form, text_field
from cove.client.app.session import create_account, open_session
from cove.client.errors import ClientError
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
    pp, again = data.get("passphrase", ""), data.get("passphrase2", "")
    error = None
    try:
        relay, code = parse_invite(kept["invite"], kept["relay"])
    except ValueError as exc:
        error = str(exc)
    handle = kept["handle"].strip().lower()
    if error is None and not re.fullmatch(HANDLE_PATTERN, handle):
        error = (
            "Your Cove name needs 3 to 32 characters: small letters, numbers, dots, "
            "dashes or underscores, starting with a letter or a number."
        )
    if error is None:
        error = passphrase.problem(pp, again)
    if error is None and data.get("understood") != "yes":
        error = "Please confirm that you understand nobody can recover your passphrase."
    if error is None and app.opening.locked():
        error = "Cove is already creating your account. Please wait a moment."
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
