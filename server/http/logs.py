"""Logging without addresses, tokens or payloads.

- :class:`AccessLogger` replaces aiohttp's access log: method, endpoint *name*
  (not the path, which carries ids), status and duration. No address, no
  headers, no query.
- :class:`RedactingFilter` sits on the relay's log handler: records from
  aiohttp's own loggers lose their arguments (aiohttp passes the peer address
  as an argument, e.g. "Error handling request from %s") and their exception
  details (a parser error quotes the offending bytes), keeping only the
  exception type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .keys import ENDPOINT

access_log = logging.getLogger("cove.relay.access")


#: Methods shown as sent; anything else (malformed HTTP) is logged as ``-``.
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})


class AccessLogger(AbstractAccessLogger):
    """One line per request from values the relay chose, never from input: the
    method only if it is a standard one, the endpoint name the relay's handler
    recorded (``-`` for anything not routed, malformed requests included).

    Lines go through :data:`ACCESS_BUFFER`, not through a ``LogRecord`` each: the
    same text as the relay's other log lines, formatted directly and written once
    per turn of the event loop (all the requests it finished in that turn) — a
    fraction of the cost of the logging machinery per request."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            method = request.method if request.method in _METHODS else "-"
            name = request.get(ENDPOINT, "-")
            status = int(response.status)
        except Exception:  # a request aiohttp could not parse: log what is certain
            method, name, status = "-", "-", 0
        ACCESS_BUFFER.add(f"{method} {name} {status} {time * 1000:.1f}ms")

    @property
    def enabled(self) -> bool:
        return access_log.isEnabledFor(logging.INFO)


class AccessBuffer:
    """Access lines waiting to be written to stderr, formatted as the relay's log
    handler formats (``%(asctime)s INFO cove.relay.access: …``)."""

    MAX_LINES = 512

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._scheduled = False
        self._second = -1
        self._stamp = ""

    def _now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((t - second) * 1000):03d}"

    def add(self, text: str) -> None:
        self._lines.append(f"{self._now()} INFO cove.relay.access: {text}\n")
        if len(self._lines) >= self.MAX_LINES:
            self.flush()
        elif not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:  # no loop (never while serving): write now
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._lines:
            text, self._lines = "".join(self._lines), []
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(text)
                sys.stderr.flush()


ACCESS_BUFFER = AccessBuffer()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("aiohttp"):
            exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
            record.msg = str(record.msg).replace("%s", "<redacted>").replace("%r", "<redacted>")
            if exc_type:
                record.msg += f" ({exc_type})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if level == "debug" else logging.INFO)
