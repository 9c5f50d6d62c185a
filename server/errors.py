"""The relay's own errors. Domain and storage raise them; one HTTP middleware
maps each to its status and :class:`~cove.protocol.wire.codes.ErrorCode` body.

They carry no HTTP knowledge beyond their code, and their messages never
contain tokens, keys, payloads or addresses.
"""

from __future__ import annotations

from cove.protocol.wire.codes import ErrorCode


class RelayError(Exception):
    """A refusal the caller should see; ``code`` says which."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str = "", *, code: ErrorCode | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message or self.code.value.replace("_", " "))

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadRequest(RelayError):
    code = ErrorCode.BAD_REQUEST


class BodyTimeout(BadRequest):
    """The request body did not arrive in time; the connection is closed after the answer."""


class InvalidMLSMessage(RelayError):
    code = ErrorCode.INVALID_MLS_MESSAGE


class BodyTooLarge(RelayError):
    code = ErrorCode.BODY_TOO_LARGE


class Unauthorized(RelayError):
    code = ErrorCode.UNAUTHORIZED


class AuthFailed(RelayError):
    code = ErrorCode.AUTH_FAILED


class InvalidInvite(RelayError):
    code = ErrorCode.INVALID_INVITE


class Forbidden(RelayError):
    code = ErrorCode.FORBIDDEN


class NotFound(RelayError):
    code = ErrorCode.NOT_FOUND


class GroupNotFound(NotFound):
    """The group does not exist *or* the caller may not see it: one answer for both."""

    def __init__(self) -> None:
        super().__init__("no such group")


class Conflict(RelayError):
    code = ErrorCode.HANDLE_TAKEN


class HandshakeConflict(RelayError):
    """Another handshake message was appended after the poster's position."""

    code = ErrorCode.HANDSHAKE_CONFLICT

    def __init__(self, position: int) -> None:
        self.position = position
        super().__init__(f"a handshake message was appended at {position}")


class RateLimited(RelayError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__("too many requests")


class QuotaExceeded(RelayError):
    code = ErrorCode.QUOTA_EXCEEDED


__all__ = [
    "AuthFailed",
    "BadRequest",
    "BodyTooLarge",
    "Conflict",
    "Forbidden",
    "GroupNotFound",
    "HandshakeConflict",
    "InvalidInvite",
    "InvalidMLSMessage",
    "NotFound",
    "QuotaExceeded",
    "RateLimited",
    "RelayError",
    "Unauthorized",
]
