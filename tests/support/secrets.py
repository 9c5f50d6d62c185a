"""``assert_redacted``: a repr must not show a secret in any usual encoding."""

from __future__ import annotations

import base64


def encodings(secret: bytes) -> list[str]:
    """How a secret could show up in text: hex (both cases), the repr of the bytes
    (with and without ``b''``), base64, and an 8-byte prefix of its hex."""
    out = [
        secret.hex(),
        secret.hex().upper(),
        repr(secret),
        repr(secret)[2:-1],
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex()[:16],
    ]
    if secret.isascii() and secret.decode().isprintable():
        out.append(secret.decode())
    return [e for e in out if len(e) >= 8]


def assert_redacted(text: str, secrets: dict[str, bytes]) -> None:
    assert secrets, "nothing to look for"
    for name, secret in secrets.items():
        assert len(secret) >= 8, f"{name}: too short to be a meaningful probe"
        for form in encodings(secret):
            assert form not in text, f"{name} appears in {text!r}"


def probe_can_fail() -> None:
    """The checker itself: a repr that prints a secret is caught in every encoding."""
    secret = bytes(range(40, 72))
    for shown in (secret.hex(), repr(secret), base64.b64encode(secret).decode()):
        try:
            assert_redacted(f"Thing(key={shown})", {"key": secret})
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {shown}")
