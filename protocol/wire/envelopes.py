"""Cove's client <-> relay envelopes (msgpack maps; see :mod:`.schema`).

Each class documents its map; ``docs/protocol/wire-format.md`` lists them all.
MLS messages inside are opaque bytes (RFC 9420 ``MLSMessage`` encodings).
Ids the relay assigns (accounts, devices, blobs) are 16 random bytes; group ids
are 16 to 32 random bytes chosen by the creating client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from . import limits as L
from .schema import Bool, Bytes, Envelope, Int, ListOf, Nested, Str

GroupIdField = Annotated[bytes, Bytes(L.GROUP_ID_MIN, L.GROUP_ID_MAX)]
IdField = Annotated[bytes, Bytes(L.ID_LEN, L.ID_LEN)]
KeyField = Annotated[bytes, Bytes(32, 32)]
SigField = Annotated[bytes, Bytes(64, 64)]
HandleField = Annotated[str, Str(3, 32, L.HANDLE_PATTERN)]
SeqField = Annotated[int, Int(0, L.SEQ_MAX)]
ROLES = ("owner", "moderator", "member")
RoleField = Annotated[str, Str(1, 16, choices=ROLES)]


# -- errors and health -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorBody(Envelope):
    """Body of every error answer: ``{v, code, message, position?, retry_after?}``.

    ``position`` accompanies ``handshake_conflict`` (the newer handshake
    position); ``retry_after`` (seconds) accompanies ``rate_limited``.
    """

    code: Annotated[str, Str(1, 64)]
    message: Annotated[str, Str(0, 300)]
    position: Annotated[int | None, Int(0, L.SEQ_MAX)] = None
    retry_after: Annotated[int | None, Int(0, 86400)] = None


@dataclass(frozen=True, slots=True)
class Health(Envelope):
    """``{v, ok, relay_id}``: the relay is up; ``relay_id`` goes into login signatures."""

    ok: Annotated[bool, Bool()]
    relay_id: IdField


# -- accounts and login ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRequest(Envelope):
    """Create an account with its first device.

    ``identity_sig`` and ``device_sig`` are Ed25519 signatures by the identity
    and device keys over :func:`~.auth.registration_signing_input` (proof of
    possession, bound to this relay). ``invite`` is the relay invite code,
    required unless the operator opened registration. Instead of a code, a
    person who holds an invite link may present its ``link_id`` and
    ``link_capability`` (docs/protocol/invites.md §4): the registration is
    capped at the link's ``max_uses`` and is recorded like any other.
    """

    handle: HandleField
    identity_key: KeyField
    device_key: KeyField
    identity_sig: SigField
    device_sig: SigField
    invite: Annotated[str | None, Str(1, L.INVITE_CODE_MAX)] = None
    link_id: Annotated[bytes | None, Bytes(L.LINK_ID_LEN, L.LINK_ID_LEN)] = None
    link_capability: Annotated[bytes | None, Bytes(32, 32)] = None


@dataclass(frozen=True, slots=True)
class RegisterResponse(Envelope):
    account_id: IdField
    device_id: IdField


@dataclass(frozen=True, slots=True)
class ChallengeResponse(Envelope):
    """A fresh single-use login challenge (32 random bytes) valid ``expires_in`` seconds."""

    challenge: Annotated[bytes, Bytes(32, 32)]
    relay_id: IdField
    expires_in: Annotated[int, Int(1, 3600)]


@dataclass(frozen=True, slots=True)
class LoginRequest(Envelope):
    """The device signs :func:`~.auth.login_signing_input` with its device key."""

    handle: HandleField
    device_key: KeyField
    challenge: Annotated[bytes, Bytes(32, 32)]
    signature: SigField


@dataclass(frozen=True, slots=True)
class LoginResponse(Envelope):
    """``token`` goes in ``Authorization: Bearer``; the relay keeps only its SHA-256."""

    token: Annotated[str, Str(20, 100)]
    expires_at: Annotated[int, Int(0, L.SEQ_MAX)]
    account_id: IdField
    device_id: IdField


@dataclass(frozen=True, slots=True)
class AddDeviceRequest(Envelope):
    """Add a device to the caller's account: both keys sign
    :func:`~.auth.add_device_signing_input`."""

    device_key: KeyField
    identity_sig: SigField
    device_sig: SigField


@dataclass(frozen=True, slots=True)
class DeviceInfo(Envelope):
    device_id: IdField
    device_key: KeyField


@dataclass(frozen=True, slots=True)
class AccountInfo(Envelope):
    account_id: IdField
    handle: HandleField
    identity_key: KeyField
    devices: Annotated[tuple[DeviceInfo, ...], ListOf(Nested(DeviceInfo), 100)]


@dataclass(frozen=True, slots=True)
class Ok(Envelope):
    """An empty success: ``{v, ok: true}``."""

    ok: Annotated[bool, Bool()] = True


# -- KeyPackages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPackageUpload(Envelope):
    """One-time KeyPackages for the calling device, and optionally its
    last-resort KeyPackage (replacing the previous one)."""

    key_packages: Annotated[
        tuple[bytes, ...], ListOf(Bytes(1, L.KEY_PACKAGE), L.KEY_PACKAGES_PER_UPLOAD)
    ]
    last_resort: Annotated[bytes | None, Bytes(1, L.KEY_PACKAGE)] = None


@dataclass(frozen=True, slots=True)
class KeyPackageCount(Envelope):
    one_time: Annotated[int, Int(0, L.SEQ_MAX)]
    last_resort: Annotated[bool, Bool()]


@dataclass(frozen=True, slots=True)
class ClaimRequest(Envelope):
    handle: HandleField


@dataclass(frozen=True, slots=True)
class ClaimedKeyPackage(Envelope):
    device_id: IdField
    device_key: KeyField
    key_package: Annotated[bytes, Bytes(1, L.KEY_PACKAGE)]
    last_resort: Annotated[bool, Bool()]


@dataclass(frozen=True, slots=True)
class ClaimResponse(Envelope):
    """One KeyPackage per device of the target account."""

    account_id: IdField
    identity_key: KeyField
    key_packages: Annotated[tuple[ClaimedKeyPackage, ...], ListOf(Nested(ClaimedKeyPackage), 100)]


# -- groups ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateGroupRequest(Envelope):
    group_id: GroupIdField


@dataclass(frozen=True, slots=True)
class MemberInfo(Envelope):
    account_id: IdField
    handle: HandleField
    role: RoleField


@dataclass(frozen=True, slots=True)
class GroupSummary(Envelope):
    group_id: GroupIdField
    role: RoleField
    head_seq: SeqField
    handshake_seq: SeqField


@dataclass(frozen=True, slots=True)
class GroupList(Envelope):
    groups: Annotated[tuple[GroupSummary, ...], ListOf(Nested(GroupSummary), 10000)]


@dataclass(frozen=True, slots=True)
class GroupInfoResponse(Envelope):
    """The relay's view of a group: its log heads, retention and access-control table.

    ``joined_seq``: the caller may read messages after this sequence number.
    """

    group_id: GroupIdField
    head_seq: SeqField
    handshake_seq: SeqField
    joined_seq: SeqField
    my_role: RoleField
    members: Annotated[tuple[MemberInfo, ...], ListOf(Nested(MemberInfo), 10000)]
    retention_seconds: Annotated[int | None, Int(1, L.SEQ_MAX)] = None


@dataclass(frozen=True, slots=True)
class RoleRequest(Envelope):
    """Owner only. ``role = "owner"`` hands ownership over (the caller becomes moderator)."""

    account_id: IdField
    role: RoleField


@dataclass(frozen=True, slots=True)
class BanRequest(Envelope):
    """Moderator only. ``banned = true`` bans (and drops the account from the group's
    access-control table); ``false`` lifts the ban."""

    account_id: IdField
    banned: Annotated[bool, Bool()]


@dataclass(frozen=True, slots=True)
class RedactRequest(Envelope):
    """Moderator only. Drop the ciphertext of application message ``seq`` and the
    attachments ``blob_ids`` (a moderator deleted that post; every member's app hides
    it anyway — this removes what the relay stores). Handshake messages are kept."""

    seq: SeqField
    blob_ids: Annotated[tuple[bytes, ...], ListOf(Bytes(L.ID_LEN, L.ID_LEN), 64)] = ()


@dataclass(frozen=True, slots=True)
class RetentionRequest(Envelope):
    """Moderator only. Maximum age of messages and attachments; absent = relay default."""

    max_age_seconds: Annotated[int | None, Int(1, L.SEQ_MAX)] = None


# -- messages ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostMessageRequest(Envelope):
    """Append one MLS message (PublicMessage or PrivateMessage) to a group's log.

    - ``idempotency_key``: random, chosen by the poster; a retry with the same
      key and bytes returns the first answer.
    - ``position``: required for handshake messages (proposal or commit): the
      log position up to which the poster has processed handshake messages.
      Refused with ``handshake_conflict`` if a handshake message was appended
      after it. Ignored for application messages.
    - ``welcome`` + ``welcome_devices``: only with a commit; the Welcome is put
      in those devices' inboxes and their accounts join the access-control
      table when the commit is accepted.
    - ``remove``: only with a commit; accounts leaving the access-control table.

    Bounded by ``request_body`` (a commit and its Welcome, up to ``mls_message`` +
    ``welcome``), not by the 512 KiB default of other envelopes.
    """

    MAX_BYTES: ClassVar[int] = L.REQUEST_BODY

    idempotency_key: Annotated[bytes, Bytes(L.IDEMPOTENCY_KEY_MIN, L.IDEMPOTENCY_KEY_MAX)]
    message: Annotated[bytes, Bytes(1, L.MLS_MESSAGE)]
    position: Annotated[int | None, Int(0, L.SEQ_MAX)] = None
    welcome: Annotated[bytes | None, Bytes(1, L.WELCOME)] = None
    welcome_devices: Annotated[
        tuple[bytes, ...] | None, ListOf(Bytes(L.ID_LEN, L.ID_LEN), L.WELCOME_DEVICES, 1)
    ] = None
    remove: Annotated[
        tuple[bytes, ...] | None, ListOf(Bytes(L.ID_LEN, L.ID_LEN), L.REMOVALS, 1)
    ] = None


@dataclass(frozen=True, slots=True)
class PostMessageResponse(Envelope):
    """``seq``: the message's place in the group log. ``duplicate``: an earlier
    post with the same idempotency key was found and is answered again."""

    seq: SeqField
    duplicate: Annotated[bool, Bool()]


@dataclass(frozen=True, slots=True)
class LoggedMessage(Envelope):
    """One log entry. ``received_at`` is in whole seconds (Unix time)."""

    seq: SeqField
    message: Annotated[bytes, Bytes(1, L.MLS_MESSAGE)]
    received_at: Annotated[int, Int(0, L.SEQ_MAX)]


@dataclass(frozen=True, slots=True)
class MessagePage(Envelope):
    """Messages after the cursor, in order. ``next`` is the cursor for the next
    page; ``more`` says whether there is one. Purged (retention) messages are
    simply absent: sequence numbers may have gaps."""

    messages: Annotated[tuple[LoggedMessage, ...], ListOf(Nested(LoggedMessage), L.PAGE_MESSAGES)]
    next: SeqField
    more: Annotated[bool, Bool()]
    MAX_BYTES: ClassVar[int] = L.PAGE_MESSAGES * (L.MLS_MESSAGE + 64)


@dataclass(frozen=True, slots=True)
class InboxEntry(Envelope):
    """A Welcome for this device, released when commit ``commit_seq`` was accepted."""

    inbox_id: SeqField
    group_id: GroupIdField
    commit_seq: SeqField
    welcome: Annotated[bytes, Bytes(1, L.WELCOME)]


@dataclass(frozen=True, slots=True)
class InboxPage(Envelope):
    entries: Annotated[tuple[InboxEntry, ...], ListOf(Nested(InboxEntry), 100)]
    MAX_BYTES: ClassVar[int] = 100 * (L.WELCOME + 128)


@dataclass(frozen=True, slots=True)
class InboxAck(Envelope):
    """Delete this device's inbox entries up to and including ``up_to``."""

    up_to: SeqField


# -- blobs -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobRef(Envelope):
    """Answer to an upload (the body itself is raw ``application/octet-stream``)."""

    blob_id: IdField
    size: Annotated[int, Int(0, L.SEQ_MAX)]


# -- the WebSocket -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor(Envelope):
    group_id: GroupIdField
    seq: SeqField


@dataclass(frozen=True, slots=True)
class Subscribe(Envelope):
    """Client -> relay over ``/v1/stream``: where the client is. The relay replays
    what came after each cursor (up to a limit, then ``behind``), tells whether
    the inbox has entries after ``inbox``, then pushes live events. Groups
    without a cursor start at their live head. May be sent again to add cursors."""

    cursors: Annotated[tuple[Cursor, ...], ListOf(Nested(Cursor), 1000)]
    inbox: Annotated[int | None, Int(0, L.SEQ_MAX)] = None
    MAX_BYTES: ClassVar[int] = L.WS_FRAME


STREAM_KINDS = ("message", "behind", "welcome", "ready", "removed")


@dataclass(frozen=True, slots=True)
class StreamEvent(Envelope):
    """Relay -> client over ``/v1/stream``.

    - ``message``: ``group_id``, ``seq``, ``message`` (a new log entry);
    - ``behind``: ``group_id``, ``seq`` = head: more missed than replayed; fetch by HTTP;
    - ``welcome``: ``seq`` = inbox id of a new inbox entry; fetch ``/v1/inbox``;
    - ``ready``: the replay after a ``Subscribe`` is complete;
    - ``removed``: ``group_id``: the account left the group's access-control table.
    """

    kind: Annotated[str, Str(1, 16, choices=STREAM_KINDS)]
    group_id: Annotated[bytes | None, Bytes(L.GROUP_ID_MIN, L.GROUP_ID_MAX)] = None
    seq: Annotated[int | None, Int(0, L.SEQ_MAX)] = None
    message: Annotated[bytes | None, Bytes(1, L.MLS_MESSAGE)] = None
    MAX_BYTES: ClassVar[int] = L.MLS_MESSAGE + 256


#: Every envelope, for documentation and tests.
ALL_ENVELOPES: tuple[type[Envelope], ...] = (
    ErrorBody,
    Health,
    RegisterRequest,
    RegisterResponse,
    ChallengeResponse,
    LoginRequest,
    LoginResponse,
    AddDeviceRequest,
    DeviceInfo,
    AccountInfo,
    Ok,
    KeyPackageUpload,
    KeyPackageCount,
    ClaimRequest,
    ClaimedKeyPackage,
    ClaimResponse,
    CreateGroupRequest,
    MemberInfo,
    GroupSummary,
    GroupList,
    GroupInfoResponse,
    RoleRequest,
    BanRequest,
    RedactRequest,
    RetentionRequest,
    PostMessageRequest,
    PostMessageResponse,
    LoggedMessage,
    MessagePage,
    InboxEntry,
    InboxPage,
    InboxAck,
    BlobRef,
    Cursor,
    Subscribe,
    StreamEvent,
)

from .link_envelopes import LINK_ENVELOPES  # noqa: E402 - they use nothing defined here

ALL_ENVELOPES += LINK_ENVELOPES

__all__ = [
    "ALL_ENVELOPES",
    "ROLES",
    "STREAM_KINDS",
    "AccountInfo",
    "AddDeviceRequest",
    "BanRequest",
    "BlobRef",
    "ChallengeResponse",
    "ClaimRequest",
    "ClaimResponse",
    "ClaimedKeyPackage",
    "CreateGroupRequest",
    "Cursor",
    "DeviceInfo",
    "ErrorBody",
    "GroupInfoResponse",
    "GroupList",
    "GroupSummary",
    "Health",
    "InboxAck",
    "InboxEntry",
    "InboxPage",
    "KeyPackageCount",
    "KeyPackageUpload",
    "LoggedMessage",
    "LoginRequest",
    "LoginResponse",
    "MemberInfo",
    "MessagePage",
    "Ok",
    "PostMessageRequest",
    "PostMessageResponse",
    "RedactRequest",
    "RegisterRequest",
    "RegisterResponse",
    "RetentionRequest",
    "RoleRequest",
    "StreamEvent",
    "Subscribe",
]
