"""Thin handlers: one per row of :data:`cove.protocol.wire.api.ENDPOINTS`.

:func:`endpoint_handler` does what every endpoint shares — authenticate (or
rate-limit by address when anonymous), read and decode the body with its
limit, call the handler, encode the answer. A handler only picks parameters
and calls one :class:`~cove.server.domain.relay.Relay` method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import MSGPACK, OCTETS, Endpoint
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import REQUEST_BODY
from cove.protocol.wire.schema import Envelope

from ..domain.moderation import do_redact
from ..domain.relay import Caller, Relay
from ..errors import BadRequest, RelayError
from .keys import CONFIG, ENDPOINT, RELAY
from .request import (
    bearer,
    blob_id_param,
    body_deadline,
    client_address,
    group_id_param,
    query_ints,
    read_body,
    read_raw,
    send_continue,
)

Fn = Callable[[Relay, Caller | None, web.Request, Any], Awaitable[Envelope | bytes]]


def endpoint_handler(ep: Endpoint, fn: Fn) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        request[ENDPOINT] = ep.name
        relay = request.app[RELAY]
        caller = None
        address = client_address(request, request.app[CONFIG].client_address_header)
        if ep.auth:
            caller = await relay.access_caller(bearer(request), address)
        else:
            relay.check_rate("unauth_per_address", address)
        body: object = None
        if ep.body == "msgpack":
            assert ep.request is not None
            body = ep.request.decode(
                await read_body(
                    request,
                    REQUEST_BODY,
                    MSGPACK,
                    body_deadline(relay.config, request.content_length),
                )
            )
        # ep.body == "raw": the handler reads its own body, after its checks
        result = await fn(relay, caller, request, body)
        if isinstance(result, bytes):
            return web.Response(body=result, content_type=OCTETS)
        return web.Response(body=result.encode(), content_type=MSGPACK)

    return handler


async def upload_blob(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.BlobRef:
    """An attachment upload: everything that can refuse it — the group, the declared
    size, the quota, the uploads already in flight — is checked from the head,
    before a byte of the body is read (a client that sent ``Expect: 100-continue``
    gets its ``100 Continue`` only then)."""
    group_id = group_id_param(request)
    if request.content_type != OCTETS:
        raise RelayError(f"expected {OCTETS}", code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    declared = request.content_length
    if declared is None:
        raise BadRequest("an upload needs a Content-Length")
    async with relay.uploads.admit(_c(caller), group_id, declared):
        await send_continue(request)
        data = await read_raw(request, declared, body_deadline(relay.config, declared))
        return await relay.uploads.store(_c(caller), group_id, data)


def _c(caller: Caller | None) -> Caller:
    assert caller is not None
    return caller


async def health(relay: Relay, caller: Caller | None, request: web.Request, body: None) -> E.Health:
    return E.Health(ok=True, relay_id=relay.relay_id)


async def register(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.RegisterRequest
) -> E.RegisterResponse:
    return await relay.do_register(body)


async def challenge(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.ChallengeResponse:
    return relay.do_challenge()


async def login(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.LoginRequest
) -> E.LoginResponse:
    return await relay.do_login(body)


async def logout(relay: Relay, caller: Caller | None, request: web.Request, body: None) -> E.Ok:
    return await relay.do_logout(_c(caller))


async def whoami(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.AccountInfo:
    return await relay.whoami(_c(caller))


async def delete_account(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.Ok:
    return await relay.do_delete_account(_c(caller))


async def add_device(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.AddDeviceRequest
) -> E.DeviceInfo:
    return await relay.do_add_device(_c(caller), body)


async def upload_key_packages(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.KeyPackageUpload
) -> E.KeyPackageCount:
    return await relay.key_packages.upload(_c(caller), body)


async def count_key_packages(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.KeyPackageCount:
    return await relay.key_packages.count(_c(caller))


async def claim_key_packages(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.ClaimRequest
) -> E.ClaimResponse:
    return await relay.key_packages.claim(_c(caller), body)


async def list_groups(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.GroupList:
    return await relay.list_groups(_c(caller))


async def create_group(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.CreateGroupRequest
) -> E.GroupSummary:
    return await relay.do_create_group(_c(caller), body)


async def get_group(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.GroupInfoResponse:
    return await relay.get_group(_c(caller), group_id_param(request))


async def post_message(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.PostMessageRequest
) -> E.PostMessageResponse:
    return await relay.do_post_message(_c(caller), group_id_param(request), body)


async def fetch_messages(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.MessagePage:
    group_id = group_id_param(request)
    q = query_ints(request, {"after": 0, "limit": relay.config.limit("page_messages")})
    return await relay.fetch_messages(_c(caller), group_id, q["after"], max(1, q["limit"]))


async def leave_group(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.Ok:
    return await relay.do_leave_group(_c(caller), group_id_param(request))


async def set_role(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.RoleRequest
) -> E.Ok:
    return await relay.do_set_role(_c(caller), group_id_param(request), body)


async def ban(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.BanRequest
) -> E.Ok:
    return await relay.do_ban(_c(caller), group_id_param(request), body)


async def redact(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.RedactRequest
) -> E.Ok:
    return await do_redact(relay, _c(caller), group_id_param(request), body)


async def set_retention(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.RetentionRequest
) -> E.Ok:
    return await relay.do_set_retention(_c(caller), group_id_param(request), body)


async def download_blob(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> bytes:
    group_id = group_id_param(request)
    return await relay.download_blob(_c(caller), group_id, blob_id_param(request))


async def fetch_inbox(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.InboxPage:
    return await relay.fetch_inbox(_c(caller), query_ints(request, {"after": 0})["after"])


async def ack_inbox(
    relay: Relay, caller: Caller | None, request: web.Request, body: E.InboxAck
) -> E.Ok:
    return await relay.do_ack_inbox(_c(caller), body)


HANDLERS: dict[str, Fn] = {
    "health": health,
    "register": register,
    "challenge": challenge,
    "login": login,
    "logout": logout,
    "whoami": whoami,
    "delete_account": delete_account,
    "add_device": add_device,
    "upload_key_packages": upload_key_packages,
    "count_key_packages": count_key_packages,
    "claim_key_packages": claim_key_packages,
    "list_groups": list_groups,
    "create_group": create_group,
    "get_group": get_group,
    "post_message": post_message,
    "fetch_messages": fetch_messages,
    "leave_group": leave_group,
    "set_role": set_role,
    "ban": ban,
    "redact": redact,
    "set_retention": set_retention,
    "upload_blob": upload_blob,
    "download_blob": download_blob,
    "fetch_inbox": fetch_inbox,
    "ack_inbox": ack_inbox,
}
