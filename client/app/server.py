"""The local server: one aiohttp application on 127.0.0.1, its lifecycle and its pages' helpers.

``serve`` binds 127.0.0.1 (any free port unless ``--port``), prints exactly one line
first — ``open http://127.0.0.1:PORT/launch/SECRET`` — and opens the browser on a
private launcher file (mode 0600, removed once used) rather than on the URL, so the
secret is not in any process's arguments. It logs one line per request: method,
the route's pattern (never the path's values) and the status. The access log of
aiohttp is off: it would print paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import signal
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

from aiohttp import web

from cove.client.app import preferences
from cove.client.app.live import Hub
from cove.client.app.security import Guard
from cove.client.app.session import Session
from cove.client.app.views import Views
from cove.client.service import CoveClient

log = logging.getLogger("cove.app")
STATIC = Path(__file__).parent / "static"
LAUNCHER = "open-cove.html"
IDLE_CHECK_SECONDS = 10.0
MAX_REQUEST = 9 * 1024 * 1024  # the relay's blob limit (8 MiB) and a little form around it
APP_KEY = web.AppKey("cove_app", object)


class App:
    """Everything one launch keeps: the guard's secrets, the session when unlocked."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.guard = Guard()
        self.hub = Hub()
        self.prefs = preferences.load(home)
        self.session: Session | None = None
        self.opening = asyncio.Lock()  # one unlock or first run at a time (double clicks)
        self.views = Views(self)
        self.guard.on_launch = self._launched

    def __repr__(self) -> str:
        return f"App(home={str(self.home)!r})"

    @property
    def has_account(self) -> bool:
        return CoveClient.store_path(self.home).exists()

    def _launched(self) -> None:
        with contextlib.suppress(OSError):
            (self.home / LAUNCHER).unlink()

    async def lock(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()
            await self.hub.send({"kind": "locked"})

    async def idle_check(self, now: float | None = None) -> bool:
        """Lock if the member has been away longer than the setting; True if it locked.
        Any request and the pages' "active" messages (sent while typing) count."""
        s = self.session
        minutes = self.prefs.lock_after
        now = time.monotonic() if now is None else now
        if s is None or not minutes or now - s.last_active <= minutes * 60:
            return False
        log.info("locked after %d idle minutes", minutes)
        await self.lock()
        return True

    async def idle_watch(self) -> None:
        while True:
            await asyncio.sleep(IDLE_CHECK_SECONDS)
            await self.idle_check()

    def touch(self) -> None:
        if self.session is not None:
            self.session.touch()

    def need_session(self) -> Session:
        """The unlocked session, or a redirect to the first-run or unlock page."""
        if self.session is None:
            raise web.HTTPSeeOther("/unlock" if self.has_account else "/welcome")
        return self.session


def ctx(request: web.Request) -> App:
    app = request.app[APP_KEY]
    assert isinstance(app, App)
    return app


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """No traceback, message or path reaches the member or the log: the error's type only."""
    try:
        resp: web.StreamResponse = await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("error in %s: %s", _route(request), type(exc).__name__)
        if os.environ.get("COVE_APP_DEBUG") == "1":  # developers only: may print content
            log.exception("traceback")
        resp = web.Response(
            status=500,
            content_type="text/html",
            text=(
                "<!doctype html><html lang='en'><title>Something went wrong</title>"
                "<main><h1>Something went wrong</h1><p>Cove could not do that. Nothing you "
                "wrote was lost. <a href='/'>Back to your groups</a></p></main></html>"
            ),
        )
    return resp


@web.middleware
async def access_log(request: web.Request, handler: Any) -> web.StreamResponse:
    status = 500
    try:
        resp: web.StreamResponse = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info("%s %s %d", request.method, _route(request), status)


def _route(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None:
        return "(no route)"
    canonical = resource.canonical
    return canonical if not canonical.startswith("/launch") else "/launch/{secret}"


def make_app(app: App) -> web.Application:
    from cove.client.app.routes import setup

    web_app = web.Application(
        middlewares=[access_log, app.guard.middleware, errors], client_max_size=MAX_REQUEST
    )
    web_app[APP_KEY] = app
    web_app.router.add_get("/launch/{secret}", app.guard.launch)
    web_app.router.add_static("/static/", STATIC, append_version=False)
    setup(web_app)
    return web_app


def _write_launcher(home: Path, url: str) -> Path:
    path = home / LAUNCHER
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(
            "<!doctype html><meta charset=utf-8><title>Opening Cove</title>"
            f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
            f'<p><a href="{html.escape(url)}">Open Cove</a></p>'
        )
    return path


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("cove app: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # aiohttp's own loggers print paths and exception messages: keep them quiet.
    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.websocket"):
        logging.getLogger(name).disabled = True


async def serve(home: Path, *, port: int = 0, open_browser: bool = True) -> int:
    configure_logging()
    app = App(home)
    runner = web.AppRunner(make_app(app), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    try:
        await site.start()
    except OSError:
        print(f"cove: port {port} on 127.0.0.1 is in use; try another --port", file=sys.stderr)
        await runner.cleanup()
        return 2
    server = site._server  # the bound socket tells the real port when port is 0
    sockets = getattr(server, "sockets", None) or []
    app.guard.port = sockets[0].getsockname()[1] if sockets else port
    print(f"open {app.guard.opening_url}", flush=True)
    if open_browser:
        launcher = _write_launcher(home, app.guard.opening_url)
        with contextlib.suppress(Exception):
            webbrowser.open(launcher.as_uri())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    idle = asyncio.create_task(app.idle_watch())
    try:
        await stop.wait()
    finally:
        idle.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await idle
        await app.lock()
        await app.hub.close_all()
        await runner.cleanup()
        app._launched()
        log.info("stopped")
    return 0
