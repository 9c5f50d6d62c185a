"""Reading what a request carries, with limits: body, bearer token, path and
query parameters, and the (in-memory only) client address for rate limits."""

from __future__ import annotations

import asyncio
import re

from aiohttp import HttpVersion11, web
from aiohttp.web_protocol import RequestPayloadError

from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import GROUP_ID_MAX, GROUP_ID_MIN, ID_LEN, REQUEST_BODY, SEQ_MAX

from ..config import RelayConfig
from ..domain.crypto import TOKEN_CHARS, Token
from ..errors import BadRequest, BodyTimeout, BodyTooLarge, GroupNotFound, NotFound, RelayError
from .errors import error_response

_HEX = re.compile(r"[0-9a-f]+")
_DIGITS = re.compile(r"[0-9]{1,19}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def body_deadline(config: RelayConfig, size: int | None = None) -> float:
    """Seconds a body of ``size`` bytes (the request-body limit if unknown) may take
    to arrive: ``body_timeout`` plus the size at ``body_min_rate``. Slow bodies are
    cut off at this deadline however they trickle."""
    size = REQUEST_BODY if size is None else size
    return config.limit("body_timeout") + size / config.limit("body_min_rate")


async def read_body(request: web.Request, limit: int, content_type: str, deadline: float) -> bytes:
    """The whole body, refusing it (413) as soon as it is known to be over ``limit``
    and cutting the connection (:class:`BodyTimeout`) if it has not arrived within
    ``deadline`` seconds."""
    if request.content_type != content_type:
        raise RelayError(f"expected {content_type}", code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    return await read_raw(request, limit, deadline)


async def read_raw(request: web.Request, limit: int, deadline: float) -> bytes:
    """:func:`read_body` without the content-type check. A body with a
    ``Content-Length`` is read in one call; a chunked one piece by piece, each
    time checked against ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"body over {limit} bytes")
    try:
        if declared is not None and request.content.is_eof():
            # the whole body came with the head (small posts): no deadline to arm
            return await request.content.readexactly(declared)
        async with asyncio.timeout(deadline):
            if declared is not None:
                return await request.content.readexactly(declared)
            buf = bytearray()
            while chunk := await request.content.read(65536):
                buf += chunk
                if len(buf) > limit:
                    raise BodyTooLarge(f"body over {limit} bytes")
            return bytes(buf)
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {deadline:.0f} s") from None
    except (RequestPayloadError, asyncio.IncompleteReadError) as exc:
        raise BadRequest("incomplete body") from exc


async def send_continue(request: web.Request) -> None:
    """``100 Continue`` for a client that asked for it (the upload route's expect
    handler sends nothing, so this comes only after the upload's checks)."""
    if request.version == HttpVersion11 and request.headers.get("Expect", "").lower() == (
        "100-continue"
    ):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0


def _expect_refusal(request: web.Request) -> web.Response | None:
    if request.headers.get("Expect", "").lower() == "100-continue":
        return None
    # aiohttp's own handler would quote the header back (and fail on bytes that
    # are not UTF-8); expect handlers run outside the middleware, so answer here
    return error_response(ErrorCode.BAD_REQUEST, "only Expect: 100-continue is understood")


async def expect_continue(request: web.Request) -> web.Response | None:
    """Expect handler of every route but uploads: ``100 Continue`` at once."""
    refusal = _expect_refusal(request)
    if refusal is None:
        await send_continue(request)
    return refusal


async def defer_continue(request: web.Request) -> web.Response | None:
    """Expect handler for uploads: accept ``100-continue`` but send nothing yet
    (:func:`send_continue` follows once the upload is admitted)."""
    return _expect_refusal(request)


def bearer(request: web.Request) -> Token | None:
    """The bearer token if the header holds one of the relay's shape (base64url of
    the right length), else None. Anything else — other schemes, other lengths,
    bytes outside ASCII — is simply no token."""
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or len(token) != TOKEN_CHARS or not _TOKEN.fullmatch(token):
        return None
    return Token(token)


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
