"""The one error middleware: a relay error becomes its status and an
:class:`~cove.protocol.wire.envelopes.ErrorBody`; anything unexpected is a bug,
answered 500 and logged with a request id (never with the request's content)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from cove.protocol.errors import DecodeError
from cove.protocol.wire.api import MSGPACK
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.envelopes import ErrorBody
from cove.protocol.wire.schema import WireVersionError

from ..errors import BodyTimeout, HandshakeConflict, RateLimited, RelayError

log = logging.getLogger("cove.relay.errors")

_HTTP_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def error_response(
    code: ErrorCode,
    message: str,
    *,
    position: int | None = None,
    retry_after: int | None = None,
) -> web.Response:
    body = ErrorBody(
        code=code.value, message=message[:300], position=position, retry_after=retry_after
    )
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(
        status=code.status, body=body.encode(), content_type=MSGPACK, headers=headers
    )


def relay_error_response(exc: RelayError) -> web.Response:
    return error_response(
        exc.code,
        exc.message,
        position=exc.position if isinstance(exc, HandshakeConflict) else None,
        retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BodyTimeout as exc:
        response = relay_error_response(exc)
        response.force_close()  # the rest of a slow body is not waited for
        return response
    except RelayError as exc:
        return relay_error_response(exc)
    except WireVersionError as exc:
        return error_response(ErrorCode.UNSUPPORTED_VERSION, str(exc))
    except DecodeError as exc:
        return error_response(ErrorCode.BAD_REQUEST, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, ErrorCode.BAD_REQUEST)
        return error_response(code, code.value.replace("_", " "))
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        request_id = secrets.token_hex(6)
        log.error("bug [%s] in %s: %s", request_id, _route_name(request), type(exc).__name__,
                  exc_info=exc)  # fmt: skip
        return error_response(ErrorCode.INTERNAL, f"internal error, request id {request_id}")


def _route_name(request: web.Request) -> str:
    route = getattr(request.match_info, "route", None)
    return getattr(route, "name", None) or "-"
