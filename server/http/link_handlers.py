"""Handlers of the invite-link endpoints (rows in :data:`cove.protocol.wire.api.ENDPOINTS`,
rules in :mod:`cove.server.domain.links`). Link ids in paths are 20 lowercase hex
digits; anything else answers like an unknown link."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.api import OCTETS
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import LINK_ID_LEN, SEALED_GROUP_INFO

from ..domain.link_checks import NO_SUCH_LINK
from ..domain.relay import Caller, Relay
from ..errors import NotFound, RelayError
from .request import body_deadline, group_id_param, query_ints, read_raw, send_continue

_LINK_ID = re.compile(f"[0-9a-f]{{{2 * LINK_ID_LEN}}}")


def link_id_param(request: web.Request) -> bytes:
    value = request.match_info.get("link_id", "")
    if not _LINK_ID.fullmatch(value):
        raise NotFound(NO_SUCH_LINK)
    return bytes.fromhex(value)


def _c(caller: Caller | None) -> Caller:
    assert caller is not None
    return caller


async def create_link(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.LinkCreateRequest
) -> K.LinkInfo:
    return await relay.links.create(_c(caller), group_id_param(request), body)


async def list_links(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> K.LinkList:
    return await relay.links.list(_c(caller), group_id_param(request))


async def revoke_link(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> K.LinkInfo:
    return await relay.links.revoke(_c(caller), group_id_param(request), link_id_param(request))


async def update_link_preview(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.LinkPreviewUpdate
) -> E.Ok:
    return await relay.links.update_preview(
        _c(caller), group_id_param(request), link_id_param(request), body
    )


async def fetch_link_preview(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.LinkAccess
) -> K.LinkPreviewResponse:
    return await relay.links.fetch_preview(link_id_param(request), body)


async def post_join_request(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.JoinRequestPost
) -> K.JoinRequestAccepted:
    return await relay.links.post_request(_c(caller), link_id_param(request), body)


async def list_join_requests(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> K.JoinRequestPage:
    after = query_ints(request, {"after": 0})["after"]
    return await relay.links.list_requests(
        _c(caller), group_id_param(request), link_id_param(request), after
    )


async def remove_join_request(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.JoinRequestRemove
) -> E.Ok:
    return await relay.links.remove_request(
        _c(caller), group_id_param(request), link_id_param(request), body
    )


async def pickup_decline(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.DeclinePickup
) -> K.DeclineStatus:
    return await relay.links.pickup(body)


async def put_group_info(
    relay: Relay, caller: Caller | None, request: web.Request, body: None
) -> E.Ok:
    """Like an attachment upload: refused from the head (size, membership, link)
    before the body is read; ``100 Continue`` only then."""
    group_id, link_id = group_id_param(request), link_id_param(request)
    if request.content_type != OCTETS:
        raise RelayError(f"expected {OCTETS}", code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    declared = request.content_length
    position = query_ints(request, {"position": -1})["position"]
    await relay.links.put_group_info(
        _c(caller), group_id, link_id, declared, None if position < 0 else position
    )
    assert declared is not None
    relay.links.admit_upload()
    try:
        await send_continue(request)
        data = await read_raw(request, SEALED_GROUP_INFO, body_deadline(relay.config, declared))
    finally:
        relay.links.end_upload()
    return await relay.links.store_group_info(_c(caller), group_id, link_id, position, data)


async def fetch_group_info(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.LinkAccess
) -> K.LinkGroupInfo:
    return await relay.links.fetch_group_info(link_id_param(request), body)


async def join_by_link(
    relay: Relay, caller: Caller | None, request: web.Request, body: K.LinkJoinPost
) -> E.PostMessageResponse:
    return await relay.links.join(_c(caller), link_id_param(request), body)


LINK_HANDLERS: dict[str, Any] = {
    "create_link": create_link,
    "list_links": list_links,
    "revoke_link": revoke_link,
    "update_link_preview": update_link_preview,
    "fetch_link_preview": fetch_link_preview,
    "post_join_request": post_join_request,
    "list_join_requests": list_join_requests,
    "remove_join_request": remove_join_request,
    "pickup_decline": pickup_decline,
    "put_group_info": put_group_info,
    "fetch_group_info": fetch_group_info,
    "join_by_link": join_by_link,
}
