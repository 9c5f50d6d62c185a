"""HPKE key derivation functions (RFC 9180 §4, §7.2; draft-ietf-hpke-hpke §4).

Two kinds:

* **two-stage** KDFs (HKDF-SHA256/384/512, ids ``0x0001``-``0x0003``), with
  ``Extract``/``Expand`` and the labelled forms ``LabeledExtract`` /
  ``LabeledExpand`` of RFC 9180 §4;
* **one-stage** KDFs (SHAKE256, id ``0x0011``, draft-ietf-hpke-pq §5), with a
  single ``Derive(ikm, L) = SHAKE256(ikm, L)`` and ``LabeledDerive`` of
  draft-ietf-hpke-hpke §4::

      LabeledDerive(ikm, label, context, L) = Derive(
          ikm || "HPKE-v1" || suite_id || uint16(len(label)) || label
              || uint16(L) || context, L)

Every function here is deterministic and holds no state.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from ..errors import UsageError

__all__ = [
    "KDF_HKDF_SHA256",
    "KDF_HKDF_SHA384",
    "KDF_HKDF_SHA512",
    "KDF_SHAKE256",
    "HpkeKdf",
    "hkdf_expand",
    "hkdf_extract",
    "hpke_kdf",
    "labeled_derive_shake256",
]

KDF_HKDF_SHA256: Final = 0x0001
KDF_HKDF_SHA384: Final = 0x0002
KDF_HKDF_SHA512: Final = 0x0003
KDF_SHAKE256: Final = 0x0011

HPKE_V1: Final = b"HPKE-v1"


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): ``HMAC-Hash(salt, ikm)``.

    An empty salt is the same as ``Nh`` zero bytes (HMAC zero-pads its key).
    """
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand(hash_name: str, hash_length: int, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3), ``0 <= length <= 255 * hash_length``."""
    if 0 <= length <= hash_length:
        # One block: T(1) = HMAC(prk, info || 0x01). The common case in MLS.
        return hmac.digest(prk, info + b"\x01", hash_name)[:length]
    if length < 0 or length > 255 * hash_length:
        raise UsageError(f"HKDF-Expand length {length} out of range")
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), hash_name)
        out += block
        counter += 1
    return bytes(out[:length])


def labeled_derive_shake256(
    suite_id: bytes, ikm: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """SHAKE256 ``LabeledDerive(ikm, label, context, L)`` (draft-ietf-hpke-hpke §4)."""
    if not 0 <= length <= 0xFFFF or len(label) > 0xFFFF:
        raise UsageError(f"LabeledDerive length {length} out of range")
    labeled_ikm = b"".join(
        (
            ikm,
            HPKE_V1,
            suite_id,
            len(label).to_bytes(2, "big"),
            label,
            length.to_bytes(2, "big"),
            context,
        )
    )
    return hashlib.shake_256(labeled_ikm).digest(length)


class HpkeKdf:
    """An HPKE KDF: two-stage (HKDF, ``one_stage`` false) or one-stage (SHAKE256).

    ``nh`` is the Nh of the registry: the HMAC output size for HKDF, the
    security strength in bytes (64) for SHAKE256.
    """

    __slots__ = ("hash_name", "kdf_id", "nh", "one_stage")

    def __init__(self, kdf_id: int, hash_name: str, nh: int, *, one_stage: bool = False) -> None:
        self.kdf_id = kdf_id
        self.hash_name = hash_name
        self.nh = nh
        self.one_stage = one_stage

    def _two_stage(self) -> None:
        if self.one_stage:
            raise UsageError(f"HPKE KDF 0x{self.kdf_id:04x} has no Extract/Expand")

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        self._two_stage()
        return hmac.digest(salt, ikm, self.hash_name)

    def expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        self._two_stage()
        return hkdf_expand(self.hash_name, self.nh, prk, info, length)

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        """``Extract(salt, "HPKE-v1" || suite_id || label || ikm)``."""
        self._two_stage()
        return hmac.digest(salt, HPKE_V1 + suite_id + label + ikm, self.hash_name)

    def labeled_expand(
        self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
    ) -> bytes:
        """``Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)``."""
        self._two_stage()
        if not 0 <= length <= 0xFFFF:
            raise UsageError(f"LabeledExpand length {length} out of range")
        labeled_info = length.to_bytes(2, "big") + HPKE_V1 + suite_id + label + info
        return hkdf_expand(self.hash_name, self.nh, prk, labeled_info, length)

    def labeled_derive(
        self, suite_id: bytes, ikm: bytes, label: bytes, context: bytes, length: int
    ) -> bytes:
        """One-stage ``LabeledDerive`` (SHAKE256 only)."""
        if not self.one_stage:
            raise UsageError(f"HPKE KDF 0x{self.kdf_id:04x} has no Derive")
        return labeled_derive_shake256(suite_id, ikm, label, context, length)

    def __repr__(self) -> str:
        return f"HpkeKdf(0x{self.kdf_id:04x}, {self.name})"

    @property
    def name(self) -> str:
        return "SHAKE256" if self.one_stage else f"HKDF-{self.hash_name.upper()}"


_KDFS: Final = {
    KDF_HKDF_SHA256: HpkeKdf(KDF_HKDF_SHA256, "sha256", 32),
    KDF_HKDF_SHA384: HpkeKdf(KDF_HKDF_SHA384, "sha384", 48),
    KDF_HKDF_SHA512: HpkeKdf(KDF_HKDF_SHA512, "sha512", 64),
    KDF_SHAKE256: HpkeKdf(KDF_SHAKE256, "shake_256", 64, one_stage=True),
}


def hpke_kdf(kdf_id: int) -> HpkeKdf:
    try:
        return _KDFS[kdf_id]
    except KeyError:
        raise UsageError(f"unsupported HPKE KDF 0x{kdf_id:04x}") from None
