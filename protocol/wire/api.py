"""The relay's HTTP API, listed once.

The relay builds its router from :data:`ENDPOINTS`; the client's transport
builds its calls from the same table; ``docs/server/api.md`` describes each
row (a test checks that every row is documented). Paths are under ``/v1/``;
path parameters are lowercase hex (``group_id``, ``account_id``, ``blob_id``,
``link_id``).

Bodies: ``msgpack`` (``Content-Type: application/msgpack``, the request
envelope), ``raw`` (``application/octet-stream``, blobs) or ``none``. Every
answer other than a blob download is a msgpack envelope; errors are
:class:`~.envelopes.ErrorBody`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import envelopes as E
from . import link_envelopes as K
from .codes import ErrorCode as C
from .schema import Envelope

MSGPACK = "application/msgpack"
OCTETS = "application/octet-stream"

Body = Literal["msgpack", "raw", "none", "websocket"]

_AUTH = (C.UNAUTHORIZED, C.RATE_LIMITED)
_IN = (C.BAD_REQUEST, C.UNSUPPORTED_VERSION, C.UNSUPPORTED_MEDIA_TYPE, C.BODY_TOO_LARGE)
_GROUP = (C.NOT_FOUND,)
_LINK = (C.NOT_FOUND, C.LINK_EXPIRED, C.LINK_USED_UP, C.LINK_REVOKED)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row of the API table."""

    name: str
    method: str
    path: str
    auth: bool
    body: Body
    request: type[Envelope] | None
    response: type[Envelope] | None
    errors: tuple[C, ...]
    summary: str
    query: tuple[str, ...] = ()

    def url(self, **params: str) -> str:
        """The path with ``{name}`` parameters filled in."""
        return self.path.format(**params)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("health", "GET", "/v1/health", False, "none", None, E.Health, (C.RATE_LIMITED,),
             "liveness and the relay id"),
    Endpoint("register", "POST", "/v1/accounts", False, "msgpack", E.RegisterRequest,
             E.RegisterResponse,
             (*_IN, C.INVALID_INVITE, *_LINK, C.AUTH_FAILED, C.HANDLE_TAKEN, C.KEY_IN_USE,
              C.RATE_LIMITED),
             "create an account with its first device (invite code or link + proof of "
             "possession)"),
    Endpoint("challenge", "POST", "/v1/auth/challenge", False, "none", None, E.ChallengeResponse,
             (C.RATE_LIMITED,), "a fresh single-use login challenge"),
    Endpoint("login", "POST", "/v1/auth/login", False, "msgpack", E.LoginRequest,
             E.LoginResponse, (*_IN, C.AUTH_FAILED, C.RATE_LIMITED),
             "exchange a signed challenge for a bearer token"),
    Endpoint("logout", "POST", "/v1/auth/logout", True, "none", None, E.Ok, _AUTH,
             "revoke the presented token"),
    Endpoint("whoami", "GET", "/v1/account", True, "none", None, E.AccountInfo, _AUTH,
             "the caller's account and devices"),
    Endpoint("delete_account", "DELETE", "/v1/account", True, "none", None, E.Ok, _AUTH,
             "delete the account and everything it owns"),
    Endpoint("add_device", "POST", "/v1/account/devices", True, "msgpack", E.AddDeviceRequest,
             E.DeviceInfo, (*_AUTH, *_IN, C.AUTH_FAILED, C.KEY_IN_USE),
             "add a device (signed by the identity key and the new device key)"),
    Endpoint("upload_key_packages", "POST", "/v1/key-packages", True, "msgpack",
             E.KeyPackageUpload, E.KeyPackageCount,
             (*_AUTH, *_IN, C.INVALID_MLS_MESSAGE, C.KEY_PACKAGE_LIMIT),
             "upload one-time KeyPackages and the last-resort one for the calling device"),
    Endpoint("count_key_packages", "GET", "/v1/key-packages", True, "none", None,
             E.KeyPackageCount, _AUTH, "how many KeyPackages the calling device has left"),
    Endpoint("claim_key_packages", "POST", "/v1/key-packages/claim", True, "msgpack",
             E.ClaimRequest, E.ClaimResponse, (*_AUTH, *_IN, C.NOT_FOUND, C.NO_KEY_PACKAGE),
             "claim one KeyPackage per device of an account (atomic; rate-limited)"),
    Endpoint("list_groups", "GET", "/v1/groups", True, "none", None, E.GroupList, _AUTH,
             "groups the caller is a member of"),
    Endpoint("create_group", "POST", "/v1/groups", True, "msgpack", E.CreateGroupRequest,
             E.GroupSummary, (*_AUTH, *_IN, C.GROUP_EXISTS),
             "create a group with a client-chosen random id; the caller is its owner"),
    Endpoint("get_group", "GET", "/v1/groups/{group_id}", True, "none", None,
             E.GroupInfoResponse, (*_AUTH, *_GROUP),
             "log heads, retention and access-control table of a group"),
    Endpoint("post_message", "POST", "/v1/groups/{group_id}/messages", True, "msgpack",
             E.PostMessageRequest, E.PostMessageResponse,
             (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN, C.INVALID_MLS_MESSAGE, C.HANDSHAKE_CONFLICT,
              C.IDEMPOTENCY_MISMATCH, C.ACCOUNT_BANNED),
             "append an MLS message (handshake: compare-and-set on the position)"),
    Endpoint("fetch_messages", "GET", "/v1/groups/{group_id}/messages", True, "none", None,
             E.MessagePage, (*_AUTH, C.BAD_REQUEST, *_GROUP),
             "messages after a cursor, in order", query=("after", "limit")),
    Endpoint("leave_group", "POST", "/v1/groups/{group_id}/leave", True, "none", None, E.Ok,
             (*_AUTH, *_GROUP), "leave the group's access-control table"),
    Endpoint("set_role", "POST", "/v1/groups/{group_id}/roles", True, "msgpack", E.RoleRequest,
             E.Ok, (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN), "owner sets a member's role"),
    Endpoint("ban", "POST", "/v1/groups/{group_id}/bans", True, "msgpack", E.BanRequest, E.Ok,
             (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN), "moderator bans or unbans an account"),
    Endpoint("redact", "POST", "/v1/groups/{group_id}/redactions", True, "msgpack",
             E.RedactRequest, E.Ok, (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN),
             "moderator drops a deleted post's ciphertext and attachments"),
    Endpoint("set_retention", "POST", "/v1/groups/{group_id}/retention", True, "msgpack",
             E.RetentionRequest, E.Ok, (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN),
             "moderator sets the group's maximum message age"),
    Endpoint("upload_blob", "POST", "/v1/groups/{group_id}/blobs", True, "raw", None, E.BlobRef,
             (*_AUTH, C.BAD_REQUEST, C.UNSUPPORTED_MEDIA_TYPE, C.BODY_TOO_LARGE, *_GROUP,
              C.QUOTA_EXCEEDED),
             "store an encrypted attachment"),
    Endpoint("download_blob", "GET", "/v1/groups/{group_id}/blobs/{blob_id}", True, "none",
             None, None, (*_AUTH, *_GROUP), "the attachment's bytes (octet-stream)"),
    Endpoint("fetch_inbox", "GET", "/v1/inbox", True, "none", None, E.InboxPage,
             (*_AUTH, C.BAD_REQUEST), "Welcome messages for the calling device",
             query=("after",)),
    Endpoint("ack_inbox", "POST", "/v1/inbox/ack", True, "msgpack", E.InboxAck, E.Ok,
             (*_AUTH, *_IN), "delete inbox entries up to an id"),
    Endpoint("stream", "GET", "/v1/stream", True, "websocket", E.Subscribe, E.StreamEvent,
             (*_AUTH, C.TOO_MANY_CONNECTIONS),
             "WebSocket: Subscribe frames in, StreamEvent frames out"),
    # -- invite links (docs/protocol/invites.md §4; server/domain/links.py) ----------
    Endpoint("create_link", "POST", "/v1/groups/{group_id}/links", True, "msgpack",
             K.LinkCreateRequest, K.LinkInfo,
             (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN, C.LINK_EXISTS),
             "moderator creates an invite link (id, capability verifier, caps, sealed preview)"),
    Endpoint("list_links", "GET", "/v1/groups/{group_id}/links", True, "none", None, K.LinkList,
             (*_AUTH, *_GROUP, C.FORBIDDEN), "moderator lists the group's invite links"),
    Endpoint("revoke_link", "POST", "/v1/groups/{group_id}/links/{link_id}/revoke", True, "none",
             None, K.LinkInfo, (*_AUTH, *_GROUP, C.FORBIDDEN),
             "moderator revokes a link (its preview, GroupInfo and queue are deleted)"),
    Endpoint("update_link_preview", "POST", "/v1/groups/{group_id}/links/{link_id}/preview",
             True, "msgpack", K.LinkPreviewUpdate, E.Ok,
             (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN, C.LINK_EXPIRED, C.LINK_REVOKED),
             "moderator replaces a link's sealed preview"),
    Endpoint("fetch_link_preview", "POST", "/v1/links/{link_id}/preview", False, "msgpack",
             K.LinkAccess, K.LinkPreviewResponse, (*_IN, *_LINK, C.RATE_LIMITED),
             "anyone holding the link fetches its sealed preview"),
    Endpoint("post_join_request", "POST", "/v1/links/{link_id}/requests", True, "msgpack",
             K.JoinRequestPost, K.JoinRequestAccepted,
             (*_AUTH, *_IN, *_LINK, C.ACCOUNT_BANNED, C.JOIN_REQUEST_LIMIT),
             "queue a sealed join request for an approval link's moderators"),
    Endpoint("list_join_requests", "GET", "/v1/groups/{group_id}/links/{link_id}/requests",
             True, "none", None, K.JoinRequestPage, (*_AUTH, C.BAD_REQUEST, *_GROUP, C.FORBIDDEN),
             "moderator fetches a link's queued join requests", query=("after",)),
    Endpoint("remove_join_request", "POST",
             "/v1/groups/{group_id}/links/{link_id}/requests/remove", True, "msgpack",
             K.JoinRequestRemove, E.Ok, (*_AUTH, *_IN, *_GROUP, C.FORBIDDEN),
             "moderator removes a handled request, optionally leaving a sealed decline"),
    Endpoint("pickup_decline", "POST", "/v1/declines/pickup", False, "msgpack",
             K.DeclinePickup, K.DeclineStatus, (*_IN, C.RATE_LIMITED),
             "the requester asks, with her pickup token, what became of her request"),
    Endpoint("put_group_info", "POST", "/v1/groups/{group_id}/links/{link_id}/group-info", True,
             "raw", None, E.Ok,
             (*_AUTH, C.BAD_REQUEST, C.UNSUPPORTED_MEDIA_TYPE, C.BODY_TOO_LARGE, *_GROUP,
              C.LINK_EXPIRED, C.LINK_REVOKED, C.STALE_GROUP_INFO),
             "a member stores the sealed GroupInfo of an open link and its log position",
             query=("position",)),
    Endpoint("fetch_group_info", "POST", "/v1/links/{link_id}/group-info", True, "msgpack",
             K.LinkAccess, K.LinkGroupInfo, (*_AUTH, *_IN, *_LINK),
             "the holder of an open link fetches its sealed GroupInfo and log position"),
    Endpoint("join_by_link", "POST", "/v1/links/{link_id}/join", True, "msgpack",
             K.LinkJoinPost, E.PostMessageResponse,
             (*_AUTH, *_IN, *_LINK, C.FORBIDDEN, C.INVALID_MLS_MESSAGE, C.HANDSHAKE_CONFLICT,
              C.IDEMPOTENCY_MISMATCH, C.ACCOUNT_BANNED),
             "post an external commit through an open link (counted as one use)"),
)  # fmt: skip

BY_NAME: dict[str, Endpoint] = {ep.name: ep for ep in ENDPOINTS}

__all__ = ["BY_NAME", "ENDPOINTS", "MSGPACK", "OCTETS", "Endpoint"]
