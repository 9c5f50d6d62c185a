"""The relay's small uses of standard primitives: Ed25519 verification,
random tokens and ids, SHA-256 of secrets before they are stored.

Bearer tokens are 32 random bytes followed by a 16-byte tag, HMAC-SHA256 under
the relay's ``token_key`` (``relay_meta``), base64url without padding: 64
characters. The tag lets the relay throw away a guessed or garbled token
without a database lookup; it grants nothing by itself (the token's SHA-256
must still be in ``tokens``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class Token(str):
    """A bearer token (256 random bits, base64url); its repr is redacted."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Token(<redacted>)"


TOKEN_CHARS = 64
_TOKEN_NONCE, _TOKEN_TAG = 32, 16
_TOKEN_LABEL = b"cove relay token v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{" + str(TOKEN_CHARS) + "}")


def _token_tag(key: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, _TOKEN_LABEL + nonce, hashlib.sha256).digest()[:_TOKEN_TAG]


def new_token(key: bytes) -> Token:
    nonce = secrets.token_bytes(_TOKEN_NONCE)
    raw = nonce + _token_tag(key, nonce)
    return Token(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def token_is_ours(key: bytes, token: str) -> bool:
    """True if ``token`` is well formed and carries this relay's tag (no lookup)."""
    if not _BASE64URL.fullmatch(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return False
    if len(raw) != _TOKEN_NONCE + _TOKEN_TAG:
        return False
    return hmac.compare_digest(raw[_TOKEN_NONCE:], _token_tag(key, raw[:_TOKEN_NONCE]))


def new_invite_code() -> str:
    """160 random bits, base32 in groups of four, e.g. ``cove-abcd-efgh-…``."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode().lower().rstrip("=")
    return "cove-" + "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_id() -> bytes:
    return secrets.token_bytes(16)
