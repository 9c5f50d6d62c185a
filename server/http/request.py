"""Reading what a request carries, with limits: body, bearer token, path and
query parameters, and the (in-memory only) client address for rate limits."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import GROUP_ID_MAX, GROUP_ID_MIN, ID_LEN, SEQ_MAX

from ..domain.crypto import Token
from ..errors import BadRequest, BodyTooLarge, GroupNotFound, NotFound, RelayError

_HEX = re.compile(r"[0-9a-f]+")
_DIGITS = re.compile(r"[0-9]{1,19}")


async def read_body(request: web.Request, limit: int, content_type: str) -> bytes:
    """The whole body, refusing it (413) as soon as it is known to be over ``limit``."""
    if request.content_type != content_type:
        raise RelayError(f"expected {content_type}", code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"body over {limit} bytes")
    buf = bytearray()
    try:
        while True:
            chunk = await request.content.read(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > limit:
                raise BodyTooLarge(f"body over {limit} bytes")
    except (RequestPayloadError, asyncio.IncompleteReadError) as exc:
        raise BadRequest("incomplete body") from exc
    return bytes(buf)


def bearer(request: web.Request) -> Token | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return Token(token.strip())


def client_address(request: web.Request, header: str | None) -> str:
    """Key for per-address rate limits; kept in memory only, never logged."""
    if header:
        forwarded = request.headers.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:64]
    return request.remote or "-"


def _hex_id(request: web.Request, name: str, lo: int, hi: int) -> bytes:
    value = request.match_info.get(name, "")
    if not (2 * lo <= len(value) <= 2 * hi) or len(value) % 2 or not _HEX.fullmatch(value):
        raise BadRequest(f"{name} must be {lo} to {hi} bytes of lowercase hex")
    return bytes.fromhex(value)


def group_id_param(request: web.Request) -> bytes:
    try:
        return _hex_id(request, "group_id", GROUP_ID_MIN, GROUP_ID_MAX)
    except BadRequest:
        raise GroupNotFound() from None


def blob_id_param(request: web.Request) -> bytes:
    try:
        return _hex_id(request, "blob_id", ID_LEN, ID_LEN)
    except BadRequest:
        raise NotFound("no such attachment") from None


def query_ints(request: web.Request, allowed: dict[str, int]) -> dict[str, int]:
    """Non-negative integer query parameters; unknown or repeated names are refused."""
    out = dict(allowed)
    seen = set()
    for name, value in request.query.items():
        if name not in allowed or name in seen:
            raise BadRequest(f"unexpected query parameter {name[:20]!r}")
        seen.add(name)
        if not _DIGITS.fullmatch(value) or int(value) > SEQ_MAX:
            raise BadRequest(f"{name} must be a non-negative integer")
        out[name] = int(value)
    return out
