"""Envelopes of the invite-link endpoints (``docs/protocol/invites.md`` §4).

The relay keeps, per link, an opaque id, a capability *verifier*, the caps and
counters, and sealed bytes it cannot open: the preview, the join requests, the
declines and the open link's GroupInfo. The capability itself (32 bytes derived
from the link) travels only in request bodies — never in a path or a query — and
is compared with its verifier in constant time. Link ids are 10 bytes; in paths
they are lowercase hex (the link's URL spells the same bytes in base32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from . import limits as L
from .schema import Bool, Bytes, Envelope, Int, ListOf, Nested, Str

LINK_MODES = ("approval", "open")
DECLINE_STATES = ("pending", "declined", "none")

LinkIdField = Annotated[bytes, Bytes(L.LINK_ID_LEN, L.LINK_ID_LEN)]
CapabilityField = Annotated[bytes, Bytes(32, 32)]
ModeField = Annotated[str, Str(1, 16, choices=LINK_MODES)]
TimeField = Annotated[int, Int(0, L.SEQ_MAX)]
#: The smallest sealed preview is 30 bytes (docs/protocol/invites.md §5).
PreviewField = Annotated[bytes, Bytes(30, L.LINK_PREVIEW)]


@dataclass(frozen=True, slots=True)
class LinkCreateRequest(Envelope):
    """Moderator only. ``capability_verifier`` is
    ``SHA-256("cove link capability verifier v1" || capability)``; ``expires_at`` is
    relay time (seconds), after now and at most ``link_lifetime`` ahead;
    ``preview`` is the sealed preview (§5)."""

    link_id: LinkIdField
    capability_verifier: Annotated[bytes, Bytes(32, 32)]
    mode: ModeField
    expires_at: TimeField
    max_uses: Annotated[int, Int(1, L.LINK_MAX_USES)]
    preview: PreviewField


@dataclass(frozen=True, slots=True)
class LinkInfo(Envelope):
    """A link as its group's moderators see it. ``uses``: join requests queued
    (approval) or external commits accepted (open); ``registrations``: accounts
    registered with it; ``revoked_at`` is set once revoked."""

    link_id: LinkIdField
    mode: ModeField
    expires_at: TimeField
    max_uses: Annotated[int, Int(1, L.LINK_MAX_USES)]
    uses: Annotated[int, Int(0, L.LINK_MAX_USES)]
    registrations: Annotated[int, Int(0, L.LINK_MAX_USES)]
    waiting: Annotated[int, Int(0, L.SEQ_MAX)]
    created_at: TimeField
    revoked_at: Annotated[int | None, Int(0, L.SEQ_MAX)] = None


@dataclass(frozen=True, slots=True)
class LinkList(Envelope):
    links: Annotated[tuple[LinkInfo, ...], ListOf(Nested(LinkInfo), L.LINKS_KEPT_PER_GROUP)]


@dataclass(frozen=True, slots=True)
class LinkPreviewUpdate(Envelope):
    """Moderator only: replace the sealed preview (e.g. after the intake key rotated)."""

    preview: PreviewField


@dataclass(frozen=True, slots=True)
class LinkAccess(Envelope):
    """Whoever holds the link presents its capability (in the body, never the URL)."""

    capability: CapabilityField


@dataclass(frozen=True, slots=True)
class LinkPreviewResponse(Envelope):
    """The sealed preview and the relay's own view of the link's mode and expiry
    (the signed preview inside is what the client trusts)."""

    preview: PreviewField
    mode: ModeField
    expires_at: TimeField


@dataclass(frozen=True, slots=True)
class JoinRequestPost(Envelope):
    """A join request to an approval link. ``sealed``'s clear header must name
    this link (``request_header``). ``pickup_id`` and ``pickup_verifier`` =
    ``SHA-256("cove decline pickup v1" || pickup_token)`` let the requester fetch a
    decline later without logging in; both are derived on her device."""

    capability: CapabilityField
    sealed: Annotated[bytes, Bytes(63, L.JOIN_REQUEST)]
    pickup_id: Annotated[bytes, Bytes(16, 16)]
    pickup_verifier: Annotated[bytes, Bytes(32, 32)]


@dataclass(frozen=True, slots=True)
class JoinRequestAccepted(Envelope):
    """The request is queued (and counted as a use of the link)."""

    request_id: Annotated[bytes, Bytes(L.ID_LEN, L.ID_LEN)]
    position: Annotated[int, Int(1, L.LINK_MAX_USES)]


@dataclass(frozen=True, slots=True)
class JoinRequestEntry(Envelope):
    """One queued request, for moderators. ``device_id``: the requester's device,
    to name in the approving commit's ``welcome_devices``."""

    request_id: Annotated[bytes, Bytes(L.ID_LEN, L.ID_LEN)]
    position: Annotated[int, Int(1, L.LINK_MAX_USES)]
    device_id: Annotated[bytes, Bytes(L.ID_LEN, L.ID_LEN)]
    received_at: TimeField
    sealed: Annotated[bytes, Bytes(63, L.JOIN_REQUEST)]


@dataclass(frozen=True, slots=True)
class JoinRequestPage(Envelope):
    """Requests after the cursor (``after`` = a position), oldest first."""

    requests: Annotated[
        tuple[JoinRequestEntry, ...], ListOf(Nested(JoinRequestEntry), L.PAGE_JOIN_REQUESTS)
    ]
    next: Annotated[int, Int(0, L.LINK_MAX_USES)]
    more: Annotated[bool, Bool()]
    MAX_BYTES: ClassVar[int] = L.PAGE_JOIN_REQUESTS * (L.JOIN_REQUEST + 256)


@dataclass(frozen=True, slots=True)
class JoinRequestRemove(Envelope):
    """Moderator only, after approving or declining: drop the request; with
    ``decline`` (a sealed decline, §8) keep it for the requester's pickup."""

    request_id: Annotated[bytes, Bytes(L.ID_LEN, L.ID_LEN)]
    decline: Annotated[bytes | None, Bytes(65, L.JOIN_DECLINE)] = None


@dataclass(frozen=True, slots=True)
class DeclinePickup(Envelope):
    """The requester asks what became of her request (no login needed)."""

    pickup_id: Annotated[bytes, Bytes(16, 16)]
    pickup_token: Annotated[bytes, Bytes(32, 32)]


@dataclass(frozen=True, slots=True)
class DeclineStatus(Envelope):
    """``pending``: still queued; ``declined``: ``decline`` holds the sealed
    message; ``none``: no longer queued and no decline (look in the inbox for a
    Welcome), or no such pickup."""

    state: Annotated[str, Str(1, 16, choices=DECLINE_STATES)]
    decline: Annotated[bytes | None, Bytes(65, L.JOIN_DECLINE)] = None


@dataclass(frozen=True, slots=True)
class LinkJoinPost(Envelope):
    """An external commit (RFC 9420 §12.4.3.2) through an open link: a
    PublicMessage commit from a ``new_member_commit`` sender, sequenced like any
    handshake message (``position``), counted as one use of the link named in the
    path. Accepted, the caller's account joins the group's access-control table."""

    capability: CapabilityField
    idempotency_key: Annotated[bytes, Bytes(L.IDEMPOTENCY_KEY_MIN, L.IDEMPOTENCY_KEY_MAX)]
    message: Annotated[bytes, Bytes(1, L.MLS_MESSAGE)]
    position: Annotated[int, Int(0, L.SEQ_MAX)]


@dataclass(frozen=True, slots=True)
class LinkGroupInfo(Envelope):
    """An open link's sealed GroupInfo and the log position it was made at: the
    handshake position of the commit that began its epoch, as the member who stored
    it named it. The joiner posts her external commit at ``position``."""

    sealed: Annotated[bytes, Bytes(67, L.SEALED_GROUP_INFO)]
    position: Annotated[int, Int(0, L.SEQ_MAX)]


LINK_ENVELOPES: tuple[type[Envelope], ...] = (
    LinkCreateRequest,
    LinkInfo,
    LinkList,
    LinkPreviewUpdate,
    LinkAccess,
    LinkPreviewResponse,
    JoinRequestPost,
    JoinRequestAccepted,
    JoinRequestEntry,
    JoinRequestPage,
    JoinRequestRemove,
    DeclinePickup,
    DeclineStatus,
    LinkJoinPost,
    LinkGroupInfo,
)

__all__ = [
    "DECLINE_STATES",
    "LINK_ENVELOPES",
    "LINK_MODES",
    "DeclinePickup",
    "DeclineStatus",
    "JoinRequestAccepted",
    "JoinRequestEntry",
    "JoinRequestPage",
    "JoinRequestPost",
    "JoinRequestRemove",
    "LinkAccess",
    "LinkCreateRequest",
    "LinkGroupInfo",
    "LinkInfo",
    "LinkJoinPost",
    "LinkList",
    "LinkPreviewResponse",
    "LinkPreviewUpdate",
]
