"""HPKE KEMs: the common interface and DHKEM (RFC 9180 §4.1, §7.1).

DHKEMs built, each with its own HKDF (the KEM's KDF, not the suite's):

| id       | KEM                          | Nsecret | Nenc = Npk | Nsk | Ndh |
|----------|------------------------------|---------|------------|-----|-----|
| ``0x0010`` | DHKEM(P-256, HKDF-SHA256)  | 32      | 65         | 32  | 32  |
| ``0x0011`` | DHKEM(P-384, HKDF-SHA384)  | 48      | 97         | 48  | 48  |
| ``0x0012`` | DHKEM(P-521, HKDF-SHA512)  | 64      | 133        | 66  | 66  |
| ``0x0020`` | DHKEM(X25519, HKDF-SHA256) | 32      | 32         | 32  | 32  |
| ``0x0021`` | DHKEM(X448, HKDF-SHA512)   | 64      | 56         | 56  | 56  |

Keys cross this API as bytes: SerializePublicKey (the uncompressed SEC1 point
for the NIST curves, the raw u-coordinate for X25519/X448) and
SerializePrivateKey (the big-endian scalar of ``Nsk`` bytes; the raw,
unclamped scalar for X25519/X448). Peer keys are validated as §7.1.4 asks:
:class:`~cove.protocol.errors.CryptoError` for an invalid point or a zero DH
output; our own malformed private keys are a :class:`UsageError`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from ..errors import CryptoError, UsageError
from .kdf import KDF_HKDF_SHA256, KDF_HKDF_SHA384, KDF_HKDF_SHA512, HpkeKdf, hpke_kdf
from .sodium import x25519 as x25519_exchange
from .sodium import x25519_public

__all__ = [
    "CURVE_ORDERS",
    "KEM_P256_HKDF_SHA256",
    "KEM_P384_HKDF_SHA384",
    "KEM_P521_HKDF_SHA512",
    "KEM_X448_HKDF_SHA512",
    "KEM_X25519_HKDF_SHA256",
    "P256_ORDER",
    "P384_ORDER",
    "P521_ORDER",
    "DhKem",
    "HpkeKem",
]

KEM_P256_HKDF_SHA256: Final = 0x0010
KEM_P384_HKDF_SHA384: Final = 0x0011
KEM_P521_HKDF_SHA512: Final = 0x0012
KEM_X25519_HKDF_SHA256: Final = 0x0020
KEM_X448_HKDF_SHA512: Final = 0x0021

#: Group orders (SEC 2 / FIPS 186-5), used by DeriveKeyPair and key checks.
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER: Final = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
    "581A0DB248B0A77AECEC196ACCC52973",
    16,
)
P521_ORDER: Final = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
    "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)
CURVE_ORDERS: Final = {"P-256": P256_ORDER, "P-384": P384_ORDER, "P-521": P521_ORDER}


class HpkeKem:
    """The KEM interface HPKE uses (RFC 9180 §4). Subclasses implement it.

    ``nsecret``, ``nenc``, ``npk``, ``nsk`` are the registry constants;
    ``encap_random_length`` is how many random bytes :meth:`encap` takes.
    """

    __slots__ = ("encap_random_length", "kem_id", "name", "nenc", "npk", "nsecret", "nsk")

    def __init__(
        self, kem_id: int, name: str, *, nsecret: int, nenc: int, npk: int, nsk: int, nrand: int
    ) -> None:
        self.kem_id = kem_id
        self.name = name
        self.nsecret = nsecret
        self.nenc = nenc
        self.npk = npk
        self.nsk = nsk
        self.encap_random_length = nrand

    @property
    def suite_id(self) -> bytes:
        """``concat("KEM", I2OSP(kem_id, 2))`` (§4.1)."""
        return b"KEM" + self.kem_id.to_bytes(2, "big")

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """DeriveKeyPair(ikm): ``(SerializePrivateKey(sk), SerializePublicKey(pk))``."""
        raise NotImplementedError

    def public_key(self, private: bytes) -> bytes:
        """SerializePublicKey(pk(sk)) for a serialized private key."""
        raise NotImplementedError

    def check_public_key(self, public: bytes) -> None:
        """DeserializePublicKey plus validation; :class:`CryptoError` if invalid."""
        raise NotImplementedError

    def encap(self, public: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
        """Encap(pkR) with ``encap_random_length`` random bytes: ``(shared_secret, enc)``."""
        raise NotImplementedError

    def decap(self, enc: bytes, private: bytes) -> bytes:
        """Decap(enc, skR): the shared secret; :class:`CryptoError` on an invalid ``enc``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"HpkeKem(0x{self.kem_id:04x}, {self.name})"


_K = TypeVar("_K")


class DhKem(HpkeKem, Generic[_K]):
    """DHKEM(Group, KDF) of §4.1. Subclasses supply the group operations on a
    private-key object ``_K``, built once per Encap/Decap (for the NIST curves
    building it is a scalar multiplication)."""

    __slots__ = ("kdf", "ndh")

    def __init__(
        self, kem_id: int, name: str, kdf: HpkeKdf, *, npk: int, nsk: int, ndh: int
    ) -> None:
        super().__init__(kem_id, name, nsecret=kdf.nh, nenc=npk, npk=npk, nsk=nsk, nrand=nsk)
        self.kdf = kdf
        self.ndh = ndh

    # -- group operations (subclasses) -------------------------------------

    def _load(self, private: bytes) -> _K:
        """DeserializePrivateKey; :class:`UsageError` for a malformed key of ours."""
        raise NotImplementedError

    def _public_of(self, key: _K) -> bytes:
        """SerializePublicKey(pk(sk))."""
        raise NotImplementedError

    def _exchange(self, key: _K, public: bytes) -> bytes:
        """DH(sk, pkY) with the checks of §7.1.4 on ``public``."""
        raise NotImplementedError

    def _derive_private(self, ikm: bytes) -> bytes:
        """The private half of DeriveKeyPair(ikm) (§7.1.3)."""
        raise NotImplementedError

    # -- DHKEM -------------------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        sk = self._derive_private(ikm)
        return sk, self._public_of(self._load(sk))

    def public_key(self, private: bytes) -> bytes:
        return self._public_of(self._load(private))

    def dh(self, private: bytes, public: bytes) -> bytes:
        """DH(skX, pkY) with the checks of §7.1.4."""
        return self._exchange(self._load(private), public)

    def _dkp_prk(self, ikm: bytes) -> bytes:
        return self.kdf.labeled_extract(self.suite_id, b"", b"dkp_prk", ikm)

    def extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        eae_prk = self.kdf.labeled_extract(self.suite_id, b"", b"eae_prk", dh)
        return self.kdf.labeled_expand(
            self.suite_id, eae_prk, b"shared_secret", kem_context, self.nsecret
        )

    def encap(self, public: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
        """Encap(pkR) with ephemeral key ``DeriveKeyPair(ikm_e)``: ``(shared_secret, enc)``."""
        key = self._load(self._derive_private(ikm_e))
        pk_e = self._public_of(key)
        dh = self._exchange(key, public)
        return self.extract_and_expand(dh, pk_e + public), pk_e

    def decap(self, enc: bytes, private: bytes) -> bytes:
        key = self._load(private)
        dh = self._exchange(key, enc)
        return self.extract_and_expand(dh, enc + self._public_of(key))


# Deserialized public keys are cached: they are public, and TreeKEM encrypts to
# the same node keys again and again. Failures are not cached.


@lru_cache(maxsize=1024)
def _x25519_public(public: bytes) -> x25519.X25519PublicKey:
    if len(public) != 32:
        raise CryptoError("invalid X25519 public key")
    return x25519.X25519PublicKey.from_public_bytes(public)


@lru_cache(maxsize=1024)
def _x448_public(public: bytes) -> x448.X448PublicKey:
    if len(public) != 56:
        raise CryptoError("invalid X448 public key")
    return x448.X448PublicKey.from_public_bytes(public)


@lru_cache(maxsize=1024)
def ec_public_key(curve_name: str, public: bytes) -> ec.EllipticCurvePublicKey:
    """An uncompressed SEC1 point of a NIST curve, checked to be on the curve."""
    curve, size = _CURVES[curve_name]
    # from_encoded_point checks the coordinates are in range and on the curve.
    if len(public) != 1 + 2 * size or public[0] != 0x04:
        raise CryptoError(f"invalid {curve_name} public key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, public)
    except ValueError:
        raise CryptoError(f"invalid {curve_name} public key") from None


_CURVES: Final[dict[str, tuple[ec.EllipticCurve, int]]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}


def ec_private_key(curve_name: str, private: bytes) -> ec.EllipticCurvePrivateKey:
    """A big-endian scalar of the curve's size, ``0 < d < n``; :class:`UsageError` otherwise."""
    curve, size = _CURVES[curve_name]
    if len(private) != size:
        raise UsageError(f"{curve_name} private key must be {size} bytes")
    scalar = int.from_bytes(private, "big")
    if not 0 < scalar < CURVE_ORDERS[curve_name]:
        raise UsageError(f"{curve_name} private key out of range")
    return ec.derive_private_key(scalar, curve)


def ec_public_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


_XPrivate = x25519.X25519PrivateKey | x448.X448PrivateKey


class _XKem(DhKem[_XPrivate]):
    """DHKEM over X25519 or X448 (RFC 7748)."""

    __slots__ = ("_private_cls", "_public")

    def __init__(self, kem_id: int, curve: str, kdf_id: int, size: int) -> None:
        kdf = hpke_kdf(kdf_id)
        name = f"DHKEM({curve}, {kdf.name})"
        super().__init__(kem_id, name, kdf, npk=size, nsk=size, ndh=size)
        self._private_cls: type[x25519.X25519PrivateKey] | type[x448.X448PrivateKey] = (
            x25519.X25519PrivateKey if size == 32 else x448.X448PrivateKey
        )
        self._public = _x25519_public if size == 32 else _x448_public

    def _load(self, private: bytes) -> _XPrivate:
        if len(private) != self.nsk:
            raise UsageError(f"{self.name} private key must be {self.nsk} bytes")
        return self._private_cls.from_private_bytes(private)

    def _derive_private(self, ikm: bytes) -> bytes:
        # §7.1.3: sk = LabeledExpand(dkp_prk, "sk", "", Nsk), kept unclamped.
        return self.kdf.labeled_expand(self.suite_id, self._dkp_prk(ikm), b"sk", b"", self.nsk)

    def _public_of(self, key: _XPrivate) -> bytes:
        return key.public_key().public_bytes_raw()

    def check_public_key(self, public: bytes) -> None:
        self._public(public)

    def _exchange(self, key: _XPrivate, public: bytes) -> bytes:
        peer = self._public(public)
        try:
            # cryptography refuses an all-zero shared secret (a low-order peer
            # point), which is the check RFC 9180 §7.1.4 requires.
            return key.exchange(peer)  # type: ignore[arg-type]
        except ValueError:
            raise CryptoError(f"{self.name} key exchange failed") from None


class _X25519Kem(DhKem[bytes]):
    """DHKEM(X25519, HKDF-SHA256) through libsodium (:mod:`.sodium`: the faster
    binding; it clamps the scalar and refuses an all-zero shared secret)."""

    __slots__ = ()

    def __init__(self) -> None:
        kdf = hpke_kdf(KDF_HKDF_SHA256)
        super().__init__(
            KEM_X25519_HKDF_SHA256, f"DHKEM(X25519, {kdf.name})", kdf, npk=32, nsk=32, ndh=32
        )

    def _load(self, private: bytes) -> bytes:
        if len(private) != 32:
            raise UsageError(f"{self.name} private key must be 32 bytes")
        return private

    def _derive_private(self, ikm: bytes) -> bytes:
        # §7.1.3: sk = LabeledExpand(dkp_prk, "sk", "", Nsk), kept unclamped.
        return self.kdf.labeled_expand(self.suite_id, self._dkp_prk(ikm), b"sk", b"", self.nsk)

    def _public_of(self, key: bytes) -> bytes:
        return x25519_public(key)

    def check_public_key(self, public: bytes) -> None:
        _x25519_public(public)

    def _exchange(self, key: bytes, public: bytes) -> bytes:
        return x25519_exchange(key, public)


class _EcKem(DhKem[ec.EllipticCurvePrivateKey]):
    """DHKEM over a NIST curve; DeriveKeyPair by rejection sampling (§7.1.3)."""

    __slots__ = ("_bitmask", "_curve", "_order")

    def __init__(self, kem_id: int, curve: str, kdf_id: int, bitmask: int) -> None:
        kdf = hpke_kdf(kdf_id)
        size = _CURVES[curve][1]
        name = f"DHKEM({curve}, {kdf.name})"
        super().__init__(kem_id, name, kdf, npk=1 + 2 * size, nsk=size, ndh=size)
        self._curve = curve
        self._order = CURVE_ORDERS[curve]
        self._bitmask = bitmask

    def _derive_private(self, ikm: bytes) -> bytes:
        dkp_prk = self._dkp_prk(ikm)
        for counter in range(256):
            candidate = bytearray(
                self.kdf.labeled_expand(
                    self.suite_id, dkp_prk, b"candidate", bytes((counter,)), self.nsk
                )
            )
            candidate[0] &= self._bitmask  # 0xFF for P-256/P-384, 0x01 for P-521
            if 0 < int.from_bytes(candidate, "big") < self._order:
                return bytes(candidate)
        raise CryptoError("DeriveKeyPair failed")  # probability about 2^-8192 or less

    def _load(self, private: bytes) -> ec.EllipticCurvePrivateKey:
        return ec_private_key(self._curve, private)

    def _public_of(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        return ec_public_bytes(key)

    def check_public_key(self, public: bytes) -> None:
        ec_public_key(self._curve, public)

    def _exchange(self, key: ec.EllipticCurvePrivateKey, public: bytes) -> bytes:
        peer = ec_public_key(self._curve, public)
        try:
            # The shared secret is the x-coordinate, Ndh bytes (§7.1.1). With a
            # validated peer point and 0 < sk < order it is never infinity.
            return key.exchange(ec.ECDH(), peer)
        except ValueError:
            raise CryptoError(f"{self._curve} key exchange failed") from None


DHKEMS: Final[dict[int, DhKem[ec.EllipticCurvePrivateKey] | DhKem[_XPrivate] | DhKem[bytes]]] = {
    KEM_P256_HKDF_SHA256: _EcKem(KEM_P256_HKDF_SHA256, "P-256", KDF_HKDF_SHA256, 0xFF),
    KEM_P384_HKDF_SHA384: _EcKem(KEM_P384_HKDF_SHA384, "P-384", KDF_HKDF_SHA384, 0xFF),
    KEM_P521_HKDF_SHA512: _EcKem(KEM_P521_HKDF_SHA512, "P-521", KDF_HKDF_SHA512, 0x01),
    KEM_X25519_HKDF_SHA256: _X25519Kem(),
    KEM_X448_HKDF_SHA512: _XKem(KEM_X448_HKDF_SHA512, "X448", KDF_HKDF_SHA512, 56),
}
