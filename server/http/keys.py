"""Typed application keys."""

from __future__ import annotations

import weakref

from aiohttp import web

from ..config import RelayConfig
from ..domain.relay import Relay

RELAY = web.AppKey("relay", Relay)
CONFIG = web.AppKey("config", RelayConfig)
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
#: The endpoint name a request was routed to (what the access log shows).
ENDPOINT = web.RequestKey("endpoint", str)
