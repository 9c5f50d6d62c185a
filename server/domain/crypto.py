"""The relay's small uses of standard primitives: Ed25519 verification,
random tokens and ids, SHA-256 of secrets before they are stored."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import AuthFailed


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raise :class:`AuthFailed` unless ``signature`` is valid (no detail given)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise AuthFailed("signature did not verify") from None


def secret_hash(secret: str) -> bytes:
    """SHA-256 of a token or invite code: what the database keeps."""
    return hashlib.sha256(secret.encode()).digest()


class Token(str):
    """A bearer token (256 random bits, base64url); its repr is redacted."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Token(<redacted>)"


def new_token() -> Token:
    return Token(base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode())


def new_invite_code() -> str:
    """160 random bits, base32 in groups of four, e.g. ``cove-abcd-efgh-…``."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode().lower().rstrip("=")
    return "cove-" + "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_id() -> bytes:
    return secrets.token_bytes(16)
