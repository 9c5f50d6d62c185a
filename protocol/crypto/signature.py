"""Signature schemes of the MLS cipher suites (RFC 9420 §5.1.1, §5.1.2).

| scheme (TLS id) | public key | private key | signature |
|---|---|---|---|
| ``ed25519`` ``0x0807`` | 32 bytes (RFC 8032) | the 32-byte seed | ``R || S``, 64 bytes |
| ``ed448`` ``0x0808`` | 57 bytes (RFC 8032) | the 57-byte seed | ``R || S``, 114 bytes |
| ``ecdsa_secp256r1_sha256`` ``0x0403`` | uncompressed point, 65 bytes | 32-byte scalar | DER |
| ``ecdsa_secp384r1_sha384`` ``0x0503`` | uncompressed point, 97 bytes | 48-byte scalar | DER |
| ``ecdsa_secp521r1_sha512`` ``0x0603`` | uncompressed point, 133 bytes | 66-byte scalar | DER |

ECDSA signatures are the DER ``Ecdsa-Sig-Value`` (RFC 9420 §5.1.2 via RFC 8446;
what the interop vectors carry) with deterministic RFC 6979 nonces. Ed25519 and
Ed448 are deterministic by construction (Ed448 with an empty context, "Ed448"
of RFC 8032 §5.2, not Ed448ph).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from ..errors import CryptoError, UsageError
from .dhkem import CURVE_ORDERS, ec_private_key, ec_public_bytes, ec_public_key
from .rng import RandomProvider
from .sodium import ed25519_public, ed25519_sign, ed25519_verify

__all__ = ["SIGNERS", "Signer"]

#: TLS SignatureScheme values (RFC 8446 §4.2.3).
ED25519: Final = 0x0807
ED448: Final = 0x0808
ECDSA_SECP256R1_SHA256: Final = 0x0403
ECDSA_SECP384R1_SHA384: Final = 0x0503
ECDSA_SECP521R1_SHA512: Final = 0x0603


class Signer:
    """A signature scheme over raw-bytes keys (see the module docstring for encodings)."""

    __slots__ = ("name", "scheme")

    def __init__(self, scheme: int, name: str) -> None:
        self.scheme = scheme
        self.name = name

    def generate(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        raise NotImplementedError

    def public(self, private: bytes) -> bytes:
        raise NotImplementedError

    def sign(self, private: bytes, message: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        raise NotImplementedError

    def check_public(self, public: bytes) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"Signer({self.name})"


@lru_cache(maxsize=1024)
def _eddsa_public(size: int, public: bytes) -> ed25519.Ed25519PublicKey | ed448.Ed448PublicKey:
    name = "Ed25519" if size == 32 else "Ed448"
    if len(public) != size:
        raise CryptoError(f"invalid {name} public key")
    try:
        if size == 32:
            return ed25519.Ed25519PublicKey.from_public_bytes(public)
        return ed448.Ed448PublicKey.from_public_bytes(public)
    except ValueError:
        raise CryptoError(f"invalid {name} public key") from None


@lru_cache(maxsize=8)
def _eddsa_private(size: int, private: bytes) -> ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey:
    # Signature keys are long-lived device keys, so a few key objects are kept:
    # building one costs a scalar multiplication per message signed.
    if len(private) != size:
        name = "Ed25519" if size == 32 else "Ed448"
        raise UsageError(f"{name} private key (seed) must be {size} bytes")
    if size == 32:
        return ed25519.Ed25519PrivateKey.from_private_bytes(private)
    return ed448.Ed448PrivateKey.from_private_bytes(private)


class _EdDsa(Signer):
    __slots__ = ("_size",)

    def __init__(self, scheme: int, name: str, size: int) -> None:
        super().__init__(scheme, name)
        self._size = size

    def generate(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        seed = rng.random_bytes(self._size)
        return seed, self.public(seed)

    def public(self, private: bytes) -> bytes:
        return _eddsa_private(self._size, private).public_key().public_bytes_raw()

    def sign(self, private: bytes, message: bytes) -> bytes:
        return _eddsa_private(self._size, private).sign(message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        key = _eddsa_public(self._size, public)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            raise CryptoError("signature verification failed") from None

    def check_public(self, public: bytes) -> None:
        _eddsa_public(self._size, public)


class _Ed25519(_EdDsa):
    """Ed25519 signing and verification through libsodium (:mod:`.sodium`: the
    faster binding; same signatures, refuses small-order keys in verification)."""

    __slots__ = ()

    def public(self, private: bytes) -> bytes:
        return ed25519_public(private)

    def sign(self, private: bytes, message: bytes) -> bytes:
        return ed25519_sign(private, message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        ed25519_verify(public, message, signature)


class _Ecdsa(Signer):
    __slots__ = ("_curve", "_sign_alg", "_size", "_verify_alg")

    def __init__(self, scheme: int, name: str, curve: str, hash_alg: hashes.HashAlgorithm) -> None:
        super().__init__(scheme, name)
        self._curve = curve
        self._size = {"P-256": 32, "P-384": 48, "P-521": 66}[curve]
        self._sign_alg = ec.ECDSA(hash_alg, deterministic_signing=True)
        self._verify_alg = ec.ECDSA(hash_alg)

    def generate(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        # Uniform scalar in [1, order-1] by rejection; for P-521 the first byte
        # is masked to its one significant bit first (as DeriveKeyPair does).
        order = CURVE_ORDERS[self._curve]
        while True:
            candidate = bytearray(rng.random_bytes(self._size))
            if self._curve == "P-521":
                candidate[0] &= 0x01
            if 0 < int.from_bytes(candidate, "big") < order:
                private = bytes(candidate)
                return private, self.public(private)

    def public(self, private: bytes) -> bytes:
        return ec_public_bytes(self._private(private))

    def _private(self, private: bytes) -> ec.EllipticCurvePrivateKey:
        try:
            return ec_private_key(self._curve, private)
        except UsageError as exc:
            raise UsageError(str(exc).replace("private key", "signature private key")) from None

    def sign(self, private: bytes, message: bytes) -> bytes:
        # DER-encoded Ecdsa-Sig-Value, deterministic nonce (RFC 6979).
        return self._private(private).sign(message, self._sign_alg)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        key = self._public(public)
        try:
            # OpenSSL accepts only strict DER here.
            key.verify(signature, message, self._verify_alg)
        except InvalidSignature:
            raise CryptoError("signature verification failed") from None

    def _public(self, public: bytes) -> ec.EllipticCurvePublicKey:
        try:
            return ec_public_key(self._curve, public)
        except CryptoError:
            raise CryptoError(f"invalid {self._curve} signature public key") from None

    def check_public(self, public: bytes) -> None:
        self._public(public)


SIGNERS: Final[dict[int, Signer]] = {
    ED25519: _Ed25519(ED25519, "ed25519", 32),
    ED448: _EdDsa(ED448, "ed448", 57),
    ECDSA_SECP256R1_SHA256: _Ecdsa(
        ECDSA_SECP256R1_SHA256, "ecdsa_secp256r1_sha256", "P-256", hashes.SHA256()
    ),
    ECDSA_SECP384R1_SHA384: _Ecdsa(
        ECDSA_SECP384R1_SHA384, "ecdsa_secp384r1_sha384", "P-384", hashes.SHA384()
    ),
    ECDSA_SECP521R1_SHA512: _Ecdsa(
        ECDSA_SECP521R1_SHA512, "ecdsa_secp521r1_sha512", "P-521", hashes.SHA512()
    ),
}
