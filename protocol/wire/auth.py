"""What a device signs to register and to log in to a relay.

Every signed message is domain-separated: a label naming the purpose and
version, then the relay's id, then the fields, each as a TLS ``opaque<V>``
(RFC 9420 §2.1 encoding), so no two purposes or fields can be confused::

    struct {
        opaque label<V>;       // "cove relay login v1" / "cove relay register v1" / ...
        opaque relay_id<V>;    // 16 bytes, from GET /v1/health or the challenge
        opaque fields<V>...;   // per purpose, below
    } SignedInput;

Signatures are Ed25519 (RFC 8032) over these bytes.
"""

from __future__ import annotations

from ..codec import Writer

LOGIN_LABEL = b"cove relay login v1"
REGISTER_LABEL = b"cove relay register v1"
ADD_DEVICE_LABEL = b"cove relay add device v1"


def _signed(label: bytes, relay_id: bytes, *fields: bytes) -> bytes:
    w = Writer()
    w.opaque(label)
    w.opaque(relay_id)
    for f in fields:
        w.opaque(f)
    return w.getvalue()


def login_signing_input(relay_id: bytes, challenge: bytes, handle: str, device_key: bytes) -> bytes:
    """Signed by the device key to log in: label, relay id, challenge, handle, device key."""
    return _signed(LOGIN_LABEL, relay_id, challenge, handle.encode(), device_key)


def registration_signing_input(
    relay_id: bytes, handle: str, identity_key: bytes, device_key: bytes
) -> bytes:
    """Signed by both the identity key and the device key to register (proof of possession)."""
    return _signed(REGISTER_LABEL, relay_id, handle.encode(), identity_key, device_key)


def add_device_signing_input(relay_id: bytes, account_id: bytes, device_key: bytes) -> bytes:
    """Signed by the identity key and the new device key to add a device."""
    return _signed(ADD_DEVICE_LABEL, relay_id, account_id, device_key)


__all__ = [
    "ADD_DEVICE_LABEL",
    "LOGIN_LABEL",
    "REGISTER_LABEL",
    "add_device_signing_input",
    "login_signing_input",
    "registration_signing_input",
]
