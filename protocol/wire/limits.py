"""The one table of relay limits.

The relay enforces these, the client sizes its requests by them,
``docs/server/limits.md`` documents them and a test checks that the document
and this table agree. An operator may override the rate and quota rows in the
relay's ``[limits]`` config section; sizes that the wire format depends on
(``fixed`` rows) cannot be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Limit:
    """One row of the limits table."""

    name: str
    value: int
    unit: str
    fixed: bool
    description: str


KIB: Final = 1024
MIB: Final = 1024 * 1024

LIMITS: Final[tuple[Limit, ...]] = (
    # -- sizes of inputs ---------------------------------------------------
    # Sized for groups of up to 10,000 members (docs/decisions/0018-large-groups.md):
    # a Welcome carries the ratchet tree (~175 B per member: 1.7 MB at 10,000), a commit
    # right after a batched Add encrypts its path to up to one HPKE ciphertext per leaf
    # (~90 B each), and a commit is posted together with its Welcome.
    Limit("request_body", 6 * MIB + 512 * KIB, "bytes", True, "msgpack request body"),
    Limit("mls_message", 2 * MIB, "bytes", True, "one MLS message posted to a group"),
    Limit("welcome", 4 * MIB, "bytes", True, "one Welcome message"),
    Limit("key_package", 16 * KIB, "bytes", True, "one KeyPackage"),
    Limit("key_packages_per_upload", 100, "items", True, "KeyPackages in one upload"),
    Limit("welcome_devices", 100, "items", True, "devices added by one commit"),
    Limit("removals", 100, "items", True, "accounts removed by one commit"),
    Limit("page_messages", 500, "items", True, "messages in one fetch page"),
    Limit("ws_frame", 64 * KIB, "bytes", True, "WebSocket frame from a client"),
    Limit("ws_resume_messages", 500, "items", True, "messages replayed per group on resume"),
    Limit("header_line", 8190, "bytes", True, "HTTP request line or header line"),
    Limit("header_count", 128, "items", True, "HTTP headers in one request"),
    Limit("blob", 8 * MIB, "bytes", False, "one encrypted attachment"),
    Limit("group_blob_quota", 256 * MIB, "bytes", False, "attachments stored per group"),
    Limit("key_packages_per_device", 200, "items", False, "one-time KeyPackages held per device"),
    Limit("group_members", 10000, "items", False, "members of one group"),
    # -- invite links (docs/protocol/invites.md §4) ---------------------------
    Limit("link_preview", 64 * KIB, "bytes", True, "one sealed invite-link preview"),
    Limit("join_request", 64 * KIB, "bytes", True, "one sealed join request"),
    Limit("join_decline", 4 * KIB, "bytes", True, "one sealed decline message"),
    Limit("sealed_group_info", 4 * MIB, "bytes", True, "one sealed GroupInfo of an open link"),
    Limit("links_per_group", 16, "items", True, "live invite links per group"),
    Limit("links_kept_per_group", 64, "items", True, "invite links remembered per group"),
    Limit("page_join_requests", 32, "items", True, "join requests in one fetch page"),
    Limit(
        "dead_link_kept",
        30 * 24 * 3600,
        "seconds",
        True,
        "an expired or revoked link is remembered",
    ),
    Limit("link_lifetime", 365 * 24 * 3600, "seconds", False, "longest invite link validity"),
    Limit("join_requests_per_link", 200, "items", False, "join requests waiting per link"),
    Limit("join_requests_per_account", 3, "items", False, "join requests one account has waiting"),
    Limit("join_request_ttl", 14 * 24 * 3600, "seconds", False, "join requests and declines kept"),
    # -- connections and timeouts ------------------------------------------
    Limit("ws_connections_per_account", 8, "connections", False, "open WebSockets per account"),
    Limit("ws_send_queue", 1024, "events", False, "events queued to a slow WebSocket reader"),
    Limit("ws_heartbeat", 30, "seconds", False, "WebSocket ping interval; no pong closes"),
    Limit("keepalive_timeout", 75, "seconds", False, "idle HTTP keep-alive connection"),
    Limit("header_timeout", 10, "seconds", False, "first request head after connecting"),
    Limit("body_timeout", 30, "seconds", False, "request body: time allowed beyond its size"),
    Limit("body_min_rate", 32 * KIB, "bytes/s", False, "request body: slowest rate waited for"),
    Limit("uploads_per_account", 2, "uploads", False, "attachment uploads in flight per account"),
    Limit("uploads_at_once", 16, "uploads", False, "attachment uploads in flight, relay-wide"),
    Limit("challenge_lifetime", 120, "seconds", True, "login challenge validity"),
    Limit("token_lifetime", 30 * 24 * 3600, "seconds", False, "bearer token validity"),
    Limit("outstanding_challenges", 10000, "items", False, "login challenges held at once"),
    # -- rates (token buckets: the count is both burst and refill per window)
    Limit("unauth_per_address", 60, "per minute", False, "unauthenticated requests per address"),
    Limit("requests_per_account", 1200, "per minute", False, "authenticated requests per account"),
    Limit("kp_claims_per_requester", 30, "per hour", False, "KeyPackage claims per requester"),
    Limit("kp_claims_per_target", 10, "per hour", False, "KeyPackage claims per target account"),
)

#: Windows of the rate units, in seconds.
RATE_WINDOWS: Final[dict[str, int]] = {"per minute": 60, "per hour": 3600}

_BY_NAME: Final[dict[str, Limit]] = {lim.name: lim for lim in LIMITS}


def limit(name: str) -> int:
    """The default value of the limit called ``name``."""
    return _BY_NAME[name].value


def limit_row(name: str) -> Limit:
    return _BY_NAME[name]


# Constants the envelope decoders use (fixed rows only).
REQUEST_BODY: Final = limit("request_body")
MLS_MESSAGE: Final = limit("mls_message")
WELCOME: Final = limit("welcome")
KEY_PACKAGE: Final = limit("key_package")
KEY_PACKAGES_PER_UPLOAD: Final = limit("key_packages_per_upload")
WELCOME_DEVICES: Final = limit("welcome_devices")
REMOVALS: Final = limit("removals")
PAGE_MESSAGES: Final = limit("page_messages")
WS_FRAME: Final = limit("ws_frame")
LINK_PREVIEW: Final = limit("link_preview")
JOIN_REQUEST: Final = limit("join_request")
JOIN_DECLINE: Final = limit("join_decline")
SEALED_GROUP_INFO: Final = limit("sealed_group_info")
LINKS_KEPT_PER_GROUP: Final = limit("links_kept_per_group")
PAGE_JOIN_REQUESTS: Final = limit("page_join_requests")
#: Invite link ids: 10 bytes derived from the link (docs/protocol/invites.md §3).
LINK_ID_LEN: Final = 10
#: Link caps (the join settings' bounds, docs/protocol/invites.md §6).
LINK_MAX_USES: Final = 10000

#: Group ids are chosen by the creating client: 16 to 32 random bytes.
GROUP_ID_MIN: Final = 16
GROUP_ID_MAX: Final = 32
#: Relay-assigned ids (accounts, devices, blobs) are 16 random bytes.
ID_LEN: Final = 16
#: Idempotency keys: 16 to 32 random bytes chosen by the poster.
IDEMPOTENCY_KEY_MIN: Final = 16
IDEMPOTENCY_KEY_MAX: Final = 32
#: Handles: 3 to 32 of ``a-z 0-9 . _ -``, starting with a letter or digit.
HANDLE_PATTERN: Final = r"[a-z0-9][a-z0-9._-]{2,31}"
#: ``HANDLE_PATTERN`` in words, for help texts and errors.
HANDLE_RULE: Final = (
    "3 to 32 characters: lowercase letters a-z, digits, '.', '_' and '-', "
    "starting with a letter or digit"
)
#: Invite codes as printed by ``cove-relay invite create``.
INVITE_CODE_MAX: Final = 64
#: Largest sequence number or cursor accepted (SQLite INTEGER is signed 64-bit).
SEQ_MAX: Final = (1 << 62) - 1

__all__ = [
    "GROUP_ID_MAX",
    "GROUP_ID_MIN",
    "HANDLE_PATTERN",
    "HANDLE_RULE",
    "IDEMPOTENCY_KEY_MAX",
    "IDEMPOTENCY_KEY_MIN",
    "ID_LEN",
    "INVITE_CODE_MAX",
    "JOIN_DECLINE",
    "JOIN_REQUEST",
    "KEY_PACKAGE",
    "KEY_PACKAGES_PER_UPLOAD",
    "LIMITS",
    "LINKS_KEPT_PER_GROUP",
    "LINK_ID_LEN",
    "LINK_MAX_USES",
    "LINK_PREVIEW",
    "MLS_MESSAGE",
    "PAGE_JOIN_REQUESTS",
    "PAGE_MESSAGES",
    "RATE_WINDOWS",
    "REMOVALS",
    "REQUEST_BODY",
    "SEALED_GROUP_INFO",
    "SEQ_MAX",
    "WELCOME",
    "WELCOME_DEVICES",
    "WS_FRAME",
    "Limit",
    "limit",
    "limit_row",
]
