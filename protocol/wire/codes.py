"""Error codes shared by the relay's answers and the client's parsing.

Every non-2xx answer of the relay has a msgpack :class:`~.envelopes.ErrorBody`
whose ``code`` is one of these values; the HTTP status is fixed per code, so a
client can rely on either. A 5xx (:attr:`ErrorCode.INTERNAL`) is always a bug.

Group endpoints answer a caller that is not a member of the group exactly as
they answer for a group that does not exist (:attr:`ErrorCode.NOT_FOUND`, same
message), so the answer reveals neither.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """A typed error; ``status`` is its HTTP status."""

    BAD_REQUEST = "bad_request"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_MLS_MESSAGE = "invalid_mls_message"
    BODY_TOO_LARGE = "body_too_large"
    UNAUTHORIZED = "unauthorized"
    AUTH_FAILED = "auth_failed"
    INVALID_INVITE = "invalid_invite"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HANDLE_TAKEN = "handle_taken"
    KEY_IN_USE = "key_in_use"
    GROUP_EXISTS = "group_exists"
    HANDSHAKE_CONFLICT = "handshake_conflict"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    ACCOUNT_BANNED = "account_banned"
    NO_KEY_PACKAGE = "no_key_package"
    KEY_PACKAGE_LIMIT = "key_package_limit"
    QUOTA_EXCEEDED = "quota_exceeded"
    LINK_EXPIRED = "link_expired"
    LINK_USED_UP = "link_used_up"
    LINK_REVOKED = "link_revoked"
    LINK_EXISTS = "link_exists"
    JOIN_REQUEST_LIMIT = "join_request_limit"
    STALE_GROUP_INFO = "stale_group_info"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"

    @property
    def status(self) -> int:
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.INVALID_MLS_MESSAGE: 400,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.INVALID_INVITE: 403,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.HANDLE_TAKEN: 409,
    ErrorCode.KEY_IN_USE: 409,
    ErrorCode.GROUP_EXISTS: 409,
    ErrorCode.HANDSHAKE_CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_MISMATCH: 409,
    ErrorCode.ACCOUNT_BANNED: 409,
    ErrorCode.NO_KEY_PACKAGE: 409,
    ErrorCode.KEY_PACKAGE_LIMIT: 409,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.LINK_EXPIRED: 410,
    ErrorCode.LINK_USED_UP: 410,
    ErrorCode.LINK_REVOKED: 410,
    ErrorCode.LINK_EXISTS: 409,
    ErrorCode.JOIN_REQUEST_LIMIT: 409,
    ErrorCode.STALE_GROUP_INFO: 409,
    ErrorCode.TOO_MANY_CONNECTIONS: 429,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
}

#: What each code means, for ``docs/server/api.md`` (checked by a test).
DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.BAD_REQUEST: "malformed msgpack, wrong type, unknown or missing field, bad value",
    ErrorCode.UNSUPPORTED_VERSION: "the envelope's wire version `v` is not spoken here",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "wrong Content-Type for this endpoint",
    ErrorCode.INVALID_MLS_MESSAGE: "MLS bytes whose cleartext header does not parse or fit",
    ErrorCode.BODY_TOO_LARGE: "request body or field over its limit",
    ErrorCode.UNAUTHORIZED: "missing, unknown or expired bearer token",
    ErrorCode.AUTH_FAILED: "registration or login proof did not verify",
    ErrorCode.INVALID_INVITE: "relay invite code unknown, used up or expired",
    ErrorCode.FORBIDDEN: "a member lacks the role for this action",
    ErrorCode.NOT_FOUND: "no such thing, or not visible to the caller (same answer)",
    ErrorCode.METHOD_NOT_ALLOWED: "the path exists but not with this method",
    ErrorCode.HANDLE_TAKEN: "another account has this handle",
    ErrorCode.KEY_IN_USE: "this identity or device key is already registered",
    ErrorCode.GROUP_EXISTS: "a group with this id exists",
    ErrorCode.HANDSHAKE_CONFLICT: "a handshake message was appended after the named position; "
    "`position` carries the newer one",
    ErrorCode.IDEMPOTENCY_MISMATCH: "idempotency key reused with different content",
    ErrorCode.ACCOUNT_BANNED: "an account to add is banned from the group",
    ErrorCode.NO_KEY_PACKAGE: "the target has no KeyPackage left on any device",
    ErrorCode.KEY_PACKAGE_LIMIT: "the device would hold more KeyPackages than allowed",
    ErrorCode.QUOTA_EXCEEDED: "the group's attachment quota is used up",
    ErrorCode.LINK_EXPIRED: "this invite link has expired",
    ErrorCode.LINK_USED_UP: "this invite link has been used the maximum number of times",
    ErrorCode.LINK_REVOKED: "this invite link was revoked by the group's moderators",
    ErrorCode.LINK_EXISTS: "an invite link with this id exists",
    ErrorCode.JOIN_REQUEST_LIMIT: "too many join requests are waiting (for this link or "
    "from this account)",
    ErrorCode.STALE_GROUP_INFO: "a sealed GroupInfo of a newer epoch or log position is stored",
    ErrorCode.TOO_MANY_CONNECTIONS: "the account has too many open WebSockets",
    ErrorCode.RATE_LIMITED: "too many requests; `retry_after` gives seconds to wait",
    ErrorCode.INTERNAL: "a bug in the relay (logged with a request id)",
}

__all__ = ["DESCRIPTIONS", "ErrorCode"]
