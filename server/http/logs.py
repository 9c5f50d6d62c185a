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

import logging
import sys

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .keys import ENDPOINT

access_log = logging.getLogger("cove.relay.access")


#: Methods shown as sent; anything else (malformed HTTP) is logged as ``-``.
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})


class AccessLogger(AbstractAccessLogger):
    """One line per request from values the relay chose, never from input: the
    method only if it is a standard one, the endpoint name the relay's handler
    recorded (``-`` for anything not routed, malformed requests included)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            method = request.method if request.method in _METHODS else "-"
            name = request.get(ENDPOINT, "-")
            status = int(response.status)
        except Exception:  # a request aiohttp could not parse: log what is certain
            method, name, status = "-", "-", 0
        access_log.info("%s %s %d %.1fms", method, name, status, time * 1000)

    @property
    def enabled(self) -> bool:
        return access_log.isEnabledFor(logging.INFO)


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
