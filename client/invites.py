"""The client's calls to the relay's invite-link endpoints (``docs/server/api.md``,
"Invite links"), thin wrappers over the generated transport.

Each function takes a *caller*: a :class:`~cove.client.session.RelaySession` (logged
in, for members and moderators) or a bare :class:`~cove.client.transport.RelayTransport`
(no account: a newcomer reading a preview or picking up a decline). Both raise
:class:`~cove.client.transport.RelayError` with the relay's typed code —
``LINK_EXPIRED``, ``LINK_USED_UP``, ``LINK_REVOKED`` carry the messages to show.

The link's secret never leaves the device: only ``link.link_id`` (in the path) and
the capability derived from it (in the body) are sent. The full join flow (preview,
registration, request, approval; GroupInfo and external commit) is built on these by
the client integrator; nothing here decides who joins.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Protocol

from cove.protocol.invites import INVITE_SUITE, InviteLink, PendingRequest
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K

#: Label of the pickup derivation and of its verifier (the relay's ``pickup_verifier``).
PICKUP_LABEL = b"cove decline pickup v1"


class Caller(Protocol):
    async def call(self, name: str, request: Any = None, **kwargs: Any) -> Any: ...


def _path(group_id: bytes | None = None, link_id: bytes | None = None) -> dict[str, str]:
    out = {}
    if group_id is not None:
        out["group_id"] = group_id.hex()
    if link_id is not None:
        out["link_id"] = link_id.hex()
    return out


# -- the requester's decline pickup ---------------------------------------------------


def derive_pickup(reply_private: bytes) -> tuple[bytes, bytes]:
    """``(pickup_id, pickup_token)`` from the request's reply key: the requester can
    always re-derive them from what she keeps (``PendingRequest.reply_private``)."""
    prk = INVITE_SUITE.kdf_extract(PICKUP_LABEL, reply_private)
    return INVITE_SUITE.kdf_expand(prk, b"id", 16), INVITE_SUITE.kdf_expand(prk, b"token", 32)


def pickup_verifier(token: bytes) -> bytes:
    """What the relay stores for the token: ``SHA-256("cove decline pickup v1" || token)``."""
    return hashlib.sha256(PICKUP_LABEL + token).digest()


# -- moderators ----------------------------------------------------------------------------


async def create_link(
    caller: Caller, group_id: bytes, link: InviteLink, *, open_link: bool, expires_at: int,
    max_uses: int, sealed_preview: bytes,
) -> K.LinkInfo:  # fmt: skip
    request = K.LinkCreateRequest(
        link_id=link.link_id, capability_verifier=link.keys().capability_verifier,
        mode="open" if open_link else "approval", expires_at=expires_at, max_uses=max_uses,
        preview=sealed_preview,
    )  # fmt: skip
    info: K.LinkInfo = await caller.call("create_link", request, path=_path(group_id))
    return info


async def list_links(caller: Caller, group_id: bytes) -> K.LinkList:
    listing: K.LinkList = await caller.call("list_links", path=_path(group_id))
    return listing


async def revoke_link(caller: Caller, group_id: bytes, link_id: bytes) -> K.LinkInfo:
    info: K.LinkInfo = await caller.call("revoke_link", path=_path(group_id, link_id))
    return info


async def update_link_preview(
    caller: Caller, group_id: bytes, link_id: bytes, sealed_preview: bytes
) -> None:
    await caller.call("update_link_preview", K.LinkPreviewUpdate(preview=sealed_preview),
                      path=_path(group_id, link_id))  # fmt: skip


async def list_join_requests(
    caller: Caller, group_id: bytes, link_id: bytes
) -> list[K.JoinRequestEntry]:
    """Every queued request of the link, page by page, oldest first."""
    out: list[K.JoinRequestEntry] = []
    after = 0
    while True:
        page: K.JoinRequestPage = await caller.call(
            "list_join_requests", path=_path(group_id, link_id), query={"after": str(after)}
        )
        out.extend(page.requests)
        if not page.more:
            return out
        after = page.next


async def remove_join_request(
    caller: Caller, group_id: bytes, link_id: bytes, request_id: bytes,
    decline: bytes | None = None,
) -> None:  # fmt: skip
    """After approving (no ``decline``) or declining (``decline`` = ``seal_decline(...)``)."""
    await caller.call("remove_join_request",
                      K.JoinRequestRemove(request_id=request_id, decline=decline),
                      path=_path(group_id, link_id))  # fmt: skip


# -- whoever holds the link ----------------------------------------------------------------


def registration_fields(link: InviteLink) -> dict[str, bytes]:
    """The ``RegisterRequest`` fields that register with the link instead of a code."""
    return {"link_id": link.link_id, "link_capability": link.keys().capability}


async def fetch_preview(caller: Caller, link: InviteLink) -> K.LinkPreviewResponse:
    """The sealed preview (open it with ``open_preview(answer.preview, link)``)."""
    answer: K.LinkPreviewResponse = await caller.call(
        "fetch_link_preview", K.LinkAccess(capability=link.keys().capability),
        path=_path(link_id=link.link_id),
    )  # fmt: skip
    return answer


async def post_join_request(
    caller: Caller, link: InviteLink, pending: PendingRequest
) -> K.JoinRequestAccepted:
    pickup_id, token = derive_pickup(pending.reply_private)
    accepted: K.JoinRequestAccepted = await caller.call(
        "post_join_request",
        K.JoinRequestPost(capability=link.keys().capability, sealed=pending.sealed,
                          pickup_id=pickup_id, pickup_verifier=pickup_verifier(token)),
        path=_path(link_id=link.link_id),
    )  # fmt: skip
    return accepted


async def pickup_decline(caller: Caller, pending: PendingRequest) -> K.DeclineStatus:
    """``pending``, ``declined`` (open ``status.decline`` with ``open_decline``) or ``none``."""
    pickup_id, token = derive_pickup(pending.reply_private)
    status: K.DeclineStatus = await caller.call(
        "pickup_decline", K.DeclinePickup(pickup_id=pickup_id, pickup_token=token)
    )
    return status


# -- open links ------------------------------------------------------------------------------


async def put_group_info(
    caller: Caller, group_id: bytes, link_id: bytes, sealed: bytes, position: int
) -> None:
    """A member stores ``seal_group_info(...)`` of the new epoch for an open link, with
    the log position of the commit that began that epoch (the relay's answer to it)."""
    await caller.call("put_group_info", path=_path(group_id, link_id),
                      query={"position": str(position)}, raw=sealed)  # fmt: skip


async def fetch_group_info(caller: Caller, link: InviteLink) -> K.LinkGroupInfo:
    """The sealed GroupInfo (open it with ``open_group_info(answer.sealed, link.keys())``)
    and the log position to post the external commit at."""
    answer: K.LinkGroupInfo = await caller.call(
        "fetch_group_info", K.LinkAccess(capability=link.keys().capability),
        path=_path(link_id=link.link_id),
    )  # fmt: skip
    return answer


async def join_by_link(
    caller: Caller, link: InviteLink, message: bytes, position: int,
    idempotency_key: bytes | None = None,
) -> E.PostMessageResponse:  # fmt: skip
    """Post the external commit ``message`` (built on the log up to ``position``)
    through the open link. Retry with the same ``idempotency_key``."""
    answer: E.PostMessageResponse = await caller.call(
        "join_by_link",
        K.LinkJoinPost(capability=link.keys().capability,
                       idempotency_key=idempotency_key or secrets.token_bytes(16),
                       message=message, position=position),
        path=_path(link_id=link.link_id),
    )  # fmt: skip
    return answer


__all__ = [
    "PICKUP_LABEL",
    "Caller",
    "create_link",
    "derive_pickup",
    "fetch_group_info",
    "fetch_preview",
    "join_by_link",
    "list_join_requests",
    "list_links",
    "pickup_decline",
    "pickup_verifier",
    "post_join_request",
    "put_group_info",
    "registration_fields",
    "remove_join_request",
    "revoke_link",
    "update_link_preview",
]
