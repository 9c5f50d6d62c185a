"""Cove identities inside MLS credentials, and safety numbers.

A member has a long-term **identity key** (Ed25519; what others pin and
verify) and, per device, a **device key** (Ed25519) that is both its relay
login key and its MLS leaf signature key. The MLS credential is a
``basic`` credential whose ``identity`` bytes are::

    struct {
        opaque label<V>;          /* "cove identity v1" */
        opaque handle<V>;         /* the relay handle, ASCII */
        opaque identity_key<V>;   /* 32 bytes */
        opaque device_key<V>;     /* 32 bytes = the leaf's signature_key */
        opaque device_sig<V>;     /* Ed25519(identity_key, DeviceBinding) */
    } CoveIdentity;

    DeviceBinding = opaque("cove device binding v1") || opaque(handle) || opaque(device_key)

(TLS encoding, ``opaque`` = varint length + bytes.) :class:`CoveCredentialValidator`
accepts a leaf only if its credential parses, its device key is the leaf's
signature key and the identity key signed the binding. Whether the identity
key is the one the user expects is the client's question (pinning, safety
numbers), not this module's.

The **safety number** of two members is 60 digits, the same on both sides::

    fingerprint(x) = SHA-256("cove fingerprint v1" || opaque(handle_x) || opaque(identity_key_x))
    digest         = SHA-512("cove safety number v1" || min(fp_a, fp_b) || max(fp_a, fp_b))
    digits         = for i in 0..11: int.from_bytes(digest[5i:5i+5]) mod 100000, 5 digits each
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .codec import Reader, Writer
from .crypto import suite_for
from .errors import DecodeError, ValidationError
from .mls.credentials import Credential, CredentialType

IDENTITY_LABEL = b"cove identity v1"
BINDING_LABEL = b"cove device binding v1"
FINGERPRINT_LABEL = b"cove fingerprint v1"
SAFETY_LABEL = b"cove safety number v1"

_ED25519 = suite_for(1)  # Ed25519 signatures, whatever the group's suite


def _binding(handle: str, device_key: bytes) -> bytes:
    w = Writer()
    w.opaque(BINDING_LABEL)
    w.opaque(handle.encode())
    w.opaque(device_key)
    return w.getvalue()


@dataclass(frozen=True, slots=True)
class CoveIdentity:
    handle: str
    identity_key: bytes
    device_key: bytes
    device_sig: bytes

    @classmethod
    def create(cls, handle: str, identity_private: bytes, device_key: bytes) -> CoveIdentity:
        identity_key = _ED25519.signature_public_key(identity_private)
        sig = _ED25519.sign(identity_private, _binding(handle, device_key))
        return cls(handle, identity_key, device_key, sig)

    def to_bytes(self) -> bytes:
        w = Writer()
        w.opaque(IDENTITY_LABEL)
        w.opaque(self.handle.encode())
        w.opaque(self.identity_key)
        w.opaque(self.device_key)
        w.opaque(self.device_sig)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CoveIdentity:
        r = Reader(data, type_name="CoveIdentity")
        if r.opaque(64) != IDENTITY_LABEL:
            raise r.error("not a Cove identity")
        raw_handle = r.opaque(32)
        identity_key, device_key, sig = r.opaque(32), r.opaque(32), r.opaque(64)
        r.expect_end()
        try:
            handle = raw_handle.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("handle is not ASCII", type_name="CoveIdentity") from None
        return cls(handle, identity_key, device_key, sig)

    def credential(self) -> Credential:
        return Credential.basic(self.to_bytes())

    @classmethod
    def from_credential(cls, credential: Credential) -> CoveIdentity:
        if credential.credential_type != CredentialType.BASIC:
            raise ValidationError("V-CRED-001", "only basic credentials are accepted")
        try:
            return cls.from_bytes(credential.identity)
        except DecodeError as e:
            raise ValidationError("V-CRED-003", f"not a Cove identity: {e}") from None

    def verify(self, signature_key: bytes) -> None:
        """Rule V-CRED-004: the device key is the leaf's key and the identity key signed it."""
        if self.device_key != signature_key:
            raise ValidationError("V-CRED-004", "credential names another device key")
        _ED25519.verify(self.identity_key, _binding(self.handle, self.device_key), self.device_sig)

    def fingerprint(self) -> bytes:
        return fingerprint(self.handle, self.identity_key)


class CoveCredentialValidator:
    """The MLS credential validator of Cove's client (see the module docstring)."""

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        CoveIdentity.from_credential(credential).verify(signature_key)

    def same_participant(self, old: Credential, new: Credential) -> bool:
        """A leaf may replace another only for the same person: same handle and
        identity key (the device key may change)."""
        a, b = CoveIdentity.from_credential(old), CoveIdentity.from_credential(new)
        return (a.handle, a.identity_key) == (b.handle, b.identity_key)


def fingerprint(handle: str, identity_key: bytes) -> bytes:
    w = Writer()
    w.fixed(FINGERPRINT_LABEL)
    w.opaque(handle.encode())
    w.opaque(identity_key)
    return hashlib.sha256(w.getvalue()).digest()


def safety_number(a: tuple[str, bytes], b: tuple[str, bytes]) -> str:
    """The 60-digit safety number of two (handle, identity key) pairs, in 12 groups of 5."""
    fa, fb = fingerprint(*a), fingerprint(*b)
    digest = hashlib.sha512(SAFETY_LABEL + min(fa, fb) + max(fa, fb)).digest()
    groups = [f"{int.from_bytes(digest[5 * i : 5 * i + 5], 'big') % 100000:05d}" for i in range(12)]
    return " ".join(groups)
