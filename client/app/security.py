"""The local server's guard: who may talk to it, and the headers every answer carries.

* **Host** must be ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding page
  sends its own name).
* **Cookie**: every request except the opening link needs the launch's session
  cookie (HttpOnly, SameSite=Strict). The opening link ``/launch/SECRET`` holds a
  per-launch secret that works once; it sets the cookie and redirects to ``/``.
* **Origin**: every request that changes something (any method but GET/HEAD) and
  the WebSocket must come from this app's own origin; ``Sec-Fetch-Site``, when the
  browser sends it, must be ``same-origin`` (``none`` too for plain GETs: typed or
  opened by the member).
* **CSRF**: every POST carries the launch's CSRF token, as the ``X-CSRF-Token``
  header or the form's first field ``csrf`` (uploads: checked by
  :func:`read_multipart` before any file byte is read).
* **Headers**: a strict Content-Security-Policy (no inline script or style, nothing
  from elsewhere), ``Cache-Control: no-store`` (no member content in the browser's
  disk cache), no referrer, no framing.

Refusals are plain-text 403 pages that say what to do; nothing here logs a path or
a value, only the rule that refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

log = logging.getLogger("cove.app")

COOKIE = "cove_app"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD")
COOKIE_MAX_AGE = 30 * 24 * 3600  # the cookie dies with the launch anyway

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Guard:
    """One launch's secrets. ``port`` is set once the socket is bound."""

    port: int = 0
    launch_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    launched: bool = False
    on_launch: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"Guard(port={self.port}, <secrets redacted>)"

    @property
    def hosts(self) -> tuple[str, ...]:
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(f"http://{h}" for h in self.hosts)

    @property
    def opening_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/launch/{self.launch_secret}"

    def csp(self) -> str:
        ws = " ".join(f"ws://{h}" for h in self.hosts)
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {ws}; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'"
        )

    def check_csrf(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.csrf_token.encode())

    def has_cookie(self, request: web.Request) -> bool:
        value = request.cookies.get(COOKIE)
        return value is not None and hmac.compare_digest(
            value.encode(), self.session_token.encode()
        )

    # -- the opening link --------------------------------------------------------

    async def launch(self, request: web.Request) -> web.StreamResponse:
        secret = request.match_info.get("secret", "")
        if self.has_cookie(request):
            raise web.HTTPSeeOther("/")
        if self.launched or not hmac.compare_digest(secret.encode(), self.launch_secret.encode()):
            log.warning("refused: opening link used or wrong")
            return refuse(
                "This opening link has already been used, or it is not the right one. "
                "To open Cove again, stop it (Ctrl-C in the window where it runs) and "
                "start it again with: cove app"
            )
        self.launched = True
        if self.on_launch is not None:
            self.on_launch()
        # A page, not a redirect: when the link comes from elsewhere (the launcher file,
        # another program) a redirect would stay "cross-site" and the Strict cookie would
        # not be sent; this page's own refresh is a same-origin navigation.
        resp = web.Response(
            content_type="text/html",
            text=(
                '<!doctype html><html lang="en"><meta charset="utf-8">'
                '<meta http-equiv="refresh" content="0;url=/"><title>Opening Cove</title>'
                '<main><p><a href="/">Open Cove</a></p></main></html>'
            ),
        )
        resp.set_cookie(
            COOKIE,
            self.session_token,
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=COOKIE_MAX_AGE,
        )
        return resp

    # -- the middleware ------------------------------------------------------------

    def problem(self, request: web.Request) -> str | None:
        """Why ``request`` is refused (a rule name), or None."""
        if request.headers.get("Host", "") not in self.hosts:
            return "host"
        site = request.headers.get("Sec-Fetch-Site")
        is_launch = request.path.startswith("/launch/")
        unsafe = request.method not in SAFE_METHODS or _is_websocket(request)
        if unsafe:
            if request.headers.get("Origin") not in self.origins:
                return "origin"
            if site is not None and site != "same-origin":
                return "fetch-site"
        elif site is not None and site not in ("same-origin", "none") and not is_launch:
            return "fetch-site"
        if is_launch:
            return None
        if not self.has_cookie(request):
            return "cookie"
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rule = self.problem(request)
        if rule is None and request.method == "POST" and not await self._csrf_ok(request):
            rule = "csrf"
        if rule is not None:
            log.warning("refused a request: %s", rule)
            resp: web.StreamResponse = refuse(_REFUSALS[rule])
        else:
            try:
                resp = await handler(request)
            except web.HTTPException as exc:
                self.headers(exc)
                raise
        if not resp.prepared:
            self.headers(resp)
        return resp

    async def _csrf_ok(self, request: web.Request) -> bool:
        header = request.headers.get(CSRF_HEADER)
        if header is not None:
            return self.check_csrf(header)
        if request.content_type == "multipart/form-data":
            request["csrf_pending"] = True  # read_multipart checks the first field
            return True
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            value = form.get(CSRF_FIELD)
            return self.check_csrf(value if isinstance(value, str) else None)
        return False

    def headers(self, resp: web.StreamResponse | web.HTTPException) -> None:
        h = resp.headers
        h.setdefault("Content-Security-Policy", self.csp())
        h["Cache-Control"] = "no-store"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Chrome send Origin: null
        h["X-Frame-Options"] = "DENY"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"


_REFUSALS = {
    "host": "Cove's app answers only at 127.0.0.1 on this computer.",
    "origin": "Cove refused a request that did not come from its own pages.",
    "fetch-site": "Cove refused a request that came from another site.",
    "cookie": (
        "This browser has not been let in. Open Cove with the link that 'cove app' "
        "printed when it started (or start it again)."
    ),
    "csrf": "Cove refused a form it did not send. Go back, reload the page and try again.",
}


def refuse(text: str) -> web.Response:
    return web.Response(status=403, text=text + "\n", content_type="text/plain")


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class CsrfMissing(Exception):
    """A multipart form without a valid CSRF token as its first field."""


class FormTooLarge(Exception):
    """More text fields, or longer ones, than any form of the app sends."""


MAX_FIELDS = 16
MAX_FIELD = 100_000


async def read_multipart(
    request: web.Request, guard: Guard, on_file: Callable[[str, str, object], Awaitable[None]]
) -> dict[str, str]:
    """Stream a multipart form: text fields returned, each file part handed to ``on_file``
    (field name, file name, the part reader). The CSRF token is checked first: a form
    whose first field is not a valid ``csrf`` is refused before any file byte is read."""
    reader = await request.multipart()
    fields: dict[str, str] = {}
    first = True
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise CsrfMissing  # a nested multipart: no form of ours sends one
        name = part.name or ""
        if first and request.get("csrf_pending"):
            value = (await part.read(decode=True)).decode("utf-8", "replace")
            if name != CSRF_FIELD or not guard.check_csrf(value):
                raise CsrfMissing
            request["csrf_pending"] = False
            first = False
            continue
        first = False
        if request.get("csrf_pending"):
            raise CsrfMissing
        if part.filename:
            await on_file(name, part.filename, part)
        else:
            text = await part.read(decode=True)
            if len(text) > MAX_FIELD or len(fields) >= MAX_FIELDS:
                raise FormTooLarge
            fields[name] = text.decode("utf-8", "replace")
    if request.get("csrf_pending"):
        raise CsrfMissing
    return fields
