"""MLS cipher suites (RFC 9420 §5.1, §17.1): one immutable :class:`Suite` per suite.

Built: 1 (X25519/AES-128-GCM/SHA-256/Ed25519), 2 (P-256/AES-128-GCM/SHA-256/
ECDSA-P256) and 3 (X25519/ChaCha20-Poly1305/SHA-256/Ed25519). Suites 4-7 and
unknown ids raise :class:`~cove.protocol.errors.UnsupportedCipherSuite`.

Encodings (those of the MLS interop vectors):

* HPKE public keys: SerializePublicKey (X25519: 32 raw bytes; P-256: the 65-byte
  uncompressed SEC1 point ``04 || x || y``). HPKE private keys: SerializePrivateKey
  (X25519: 32 raw bytes, not clamped; P-256: 32-byte big-endian scalar).
* Signature public keys: Ed25519 32 raw bytes (RFC 8032); P-256 the uncompressed
  point (RFC 9420 §5.1.1). Signature private keys: Ed25519 the 32-byte seed;
  P-256 the 32-byte big-endian scalar.
* Signatures: Ed25519 ``R || S`` (64 bytes); ECDSA the DER ``Ecdsa-Sig-Value``
  (RFC 9420 §5.1.2 via RFC 8446), which is what the vectors carry. Our ECDSA
  signatures are deterministic (RFC 6979).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from enum import IntEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import CryptoError, UnsupportedCipherSuite, UsageError
from .hpke import (
    AEAD_AES_128_GCM,
    AEAD_CHACHA20_POLY1305,
    KDF_HKDF_SHA256,
    KEM_P256_HKDF_SHA256,
    KEM_X25519_HKDF_SHA256,
    P256_ORDER,
    HPKEContext,
    HpkeSuite,
    hkdf_expand,
    hpke_suite,
)
from .rng import RandomProvider

if TYPE_CHECKING:
    from _hashlib import HASH

__all__ = ["SUPPORTED_SUITES", "CipherSuite", "Suite", "suite_for"]


class CipherSuite(IntEnum):
    """The MLS cipher suites of the IANA registry (RFC 9420 §17.1)."""

    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 = 0x0001
    MLS_128_DHKEMP256_AES128GCM_SHA256_P256 = 0x0002
    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 = 0x0003
    MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448 = 0x0004
    MLS_256_DHKEMP521_AES256GCM_SHA512_P521 = 0x0005
    MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448 = 0x0006
    MLS_256_DHKEMP384_AES256GCM_SHA384_P384 = 0x0007


#: The suites :func:`suite_for` builds.
SUPPORTED_SUITES: Final = frozenset({1, 2, 3})

#: TLS SignatureScheme values (RFC 8446 §4.2.3).
_ED25519: Final = 0x0807
_ECDSA_SECP256R1_SHA256: Final = 0x0403


# --------------------------------------------------------------------------- signatures


@lru_cache(maxsize=1024)
def _ed25519_public(public: bytes) -> ed25519.Ed25519PublicKey:
    if len(public) != 32:
        raise CryptoError("invalid Ed25519 public key")
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise CryptoError("invalid Ed25519 public key") from None


@lru_cache(maxsize=1024)
def _p256_sig_public(public: bytes) -> ec.EllipticCurvePublicKey:
    if len(public) != 65 or public[0] != 0x04:
        raise CryptoError("invalid P-256 signature public key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise CryptoError("invalid P-256 signature public key") from None


class _Signer:
    """A signature scheme over raw-bytes keys (see the module docstring for encodings)."""

    __slots__ = ()
    scheme: int = 0
    name: str = ""

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


class _Ed25519(_Signer):
    __slots__ = ()
    scheme = _ED25519
    name = "ed25519"

    @staticmethod
    @lru_cache(maxsize=8)
    def _private(private: bytes) -> ed25519.Ed25519PrivateKey:
        # Signature keys are long-lived device keys, so a few key objects are kept:
        # building one costs a scalar multiplication per message signed.
        if len(private) != 32:
            raise UsageError("Ed25519 private key (seed) must be 32 bytes")
        return ed25519.Ed25519PrivateKey.from_private_bytes(private)

    def generate(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        seed = rng.random_bytes(32)
        return seed, self.public(seed)

    def public(self, private: bytes) -> bytes:
        return self._private(private).public_key().public_bytes_raw()

    def sign(self, private: bytes, message: bytes) -> bytes:
        return self._private(private).sign(message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        key = _ed25519_public(public)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            raise CryptoError("signature verification failed") from None

    def check_public(self, public: bytes) -> None:
        _ed25519_public(public)


_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_ECDSA_SHA256_VERIFY: Final = ec.ECDSA(hashes.SHA256())


class _EcdsaP256(_Signer):
    __slots__ = ()
    scheme = _ECDSA_SECP256R1_SHA256
    name = "ecdsa_secp256r1_sha256"

    @staticmethod
    def _private(private: bytes) -> ec.EllipticCurvePrivateKey:
        if len(private) != 32:
            raise UsageError("P-256 signature private key must be 32 bytes")
        scalar = int.from_bytes(private, "big")
        if not 0 < scalar < P256_ORDER:
            raise UsageError("P-256 signature private key out of range")
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def generate(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        # Uniform scalar in [1, order-1] by rejection (a draw fails with prob. ~2^-32).
        while True:
            candidate = rng.random_bytes(32)
            if 0 < int.from_bytes(candidate, "big") < P256_ORDER:
                return candidate, self.public(candidate)

    def public(self, private: bytes) -> bytes:
        return (
            self._private(private)
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )

    def sign(self, private: bytes, message: bytes) -> bytes:
        # DER-encoded Ecdsa-Sig-Value, deterministic nonce (RFC 6979).
        return self._private(private).sign(message, _ECDSA_SHA256)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        key = _p256_sig_public(public)
        try:
            # OpenSSL accepts only strict DER here.
            key.verify(signature, message, _ECDSA_SHA256_VERIFY)
        except InvalidSignature:
            raise CryptoError("signature verification failed") from None

    def check_public(self, public: bytes) -> None:
        _p256_sig_public(public)


_ED25519_SIGNER: Final = _Ed25519()
_ECDSA_P256_SIGNER: Final = _EcdsaP256()


# --------------------------------------------------------------------------- suite


class Suite:
    """One MLS cipher suite: hash, MAC, KDF, AEAD, signature and HPKE operations.

    Obtain it with :func:`suite_for`; there is exactly one object per suite, it
    is immutable and holds no key material.
    """

    __slots__ = (
        "_aead_factory",
        "_hash_name",
        "_hash_new",
        "_hpke",
        "_sig",
        "aead_id",
        "aead_key_length",
        "aead_nonce_length",
        "aead_tag_length",
        "hash_length",
        "kdf_id",
        "kem_id",
        "kem_output_length",
        "kem_private_key_length",
        "kem_public_key_length",
        "name",
        "signature_scheme",
        "suite_id",
    )

    suite_id: int
    name: str
    hash_length: int
    aead_key_length: int
    aead_nonce_length: int
    aead_tag_length: int
    kem_id: int
    kdf_id: int
    aead_id: int
    kem_output_length: int
    kem_public_key_length: int
    kem_private_key_length: int
    signature_scheme: int
    _hash_name: str
    _hash_new: Callable[[bytes], HASH]
    _aead_factory: type[AESGCM] | type[ChaCha20Poly1305]
    _hpke: HpkeSuite
    _sig: _Signer

    def __init__(self, suite_id: CipherSuite, kem_id: int, aead_id: int, sig: _Signer) -> None:
        hpke = hpke_suite(kem_id, KDF_HKDF_SHA256, aead_id)
        values: dict[str, object] = {
            "suite_id": int(suite_id),
            "name": suite_id.name,
            "hash_length": 32,
            "aead_key_length": hpke.aead.nk,
            "aead_nonce_length": hpke.aead.nn,
            "aead_tag_length": hpke.aead.nt,
            "kem_id": kem_id,
            "kdf_id": KDF_HKDF_SHA256,
            "aead_id": aead_id,
            "kem_output_length": hpke.kem.nenc,
            "kem_public_key_length": hpke.kem.npk,
            "kem_private_key_length": hpke.kem.nsk,
            "signature_scheme": sig.scheme,
            "_hash_name": "sha256",
            "_hash_new": hashlib.sha256,
            "_aead_factory": AESGCM if aead_id == AEAD_AES_128_GCM else ChaCha20Poly1305,
            "_hpke": hpke,
            "_sig": sig,
        }
        for attr, value in values.items():
            object.__setattr__(self, attr, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Suite is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Suite is immutable")

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (suite_for, (self.suite_id,))

    def __repr__(self) -> str:
        return f"Suite({self.suite_id}, {self.name})"

    @property
    def hpke(self) -> HpkeSuite:
        """The HPKE suite (KEM, HKDF-SHA256, AEAD) of this cipher suite."""
        return self._hpke

    @property
    def signature_name(self) -> str:
        """The TLS name of the signature scheme, e.g. ``"ed25519"``."""
        return self._sig.name

    # -- hash, MAC, KDF ------------------------------------------------------

    def hash(self, data: bytes) -> bytes:
        return self._hash_new(data).digest()

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC with the suite hash (RFC 2104)."""
        return hmac.digest(key, data, self._hash_name)

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        """HKDF-Extract(salt, ikm); an empty salt equals ``Nh`` zero bytes."""
        return hmac.digest(salt, ikm, self._hash_name)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        """HKDF-Expand(prk, info, length), ``0 <= length <= 255 * Nh``."""
        if 0 <= length <= self.hash_length:
            # One block, T(1) = HMAC(prk, info || 0x01): almost every MLS call.
            return hmac.digest(prk, info + b"\x01", self._hash_name)[:length]
        return hkdf_expand(self._hash_name, self.hash_length, prk, info, length)

    # -- AEAD ----------------------------------------------------------------

    def aead_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """AEAD seal: ciphertext with the 16-byte tag appended."""
        if len(key) != self.aead_key_length or len(nonce) != self.aead_nonce_length:
            raise UsageError("AEAD key or nonce has the wrong length")
        return self._aead_factory(key).encrypt(nonce, plaintext, aad)

    def aead_decrypt(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """AEAD open; :class:`CryptoError` if the tag does not verify."""
        if len(key) != self.aead_key_length or len(nonce) != self.aead_nonce_length:
            raise UsageError("AEAD key or nonce has the wrong length")
        if len(ciphertext) < self.aead_tag_length:
            raise CryptoError("AEAD decryption failed")
        try:
            return self._aead_factory(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError("AEAD decryption failed") from None

    # -- signatures ----------------------------------------------------------

    def generate_signature_key_pair(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        """A fresh ``(private, public)`` signature key pair drawn from ``rng``."""
        return self._sig.generate(rng)

    def signature_public_key(self, private: bytes) -> bytes:
        return self._sig.public(private)

    def sign(self, private: bytes, message: bytes) -> bytes:
        return self._sig.sign(private, message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> None:
        """Raises :class:`CryptoError` unless ``signature`` is valid (also for a bad key)."""
        self._sig.verify(public, message, signature)

    def check_signature_public_key(self, public: bytes) -> None:
        """:class:`CryptoError` unless ``public`` is a valid signature public key."""
        self._sig.check_public(public)

    # -- HPKE / KEM ----------------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """KEM DeriveKeyPair(ikm) (RFC 9180 §7.1.3): ``(private, public)``."""
        return self._hpke.kem.derive_key_pair(ikm)

    def generate_kem_key_pair(self, rng: RandomProvider) -> tuple[bytes, bytes]:
        """GenerateKeyPair() = DeriveKeyPair(random(Nsk))."""
        return self._hpke.kem.derive_key_pair(rng.random_bytes(self.kem_private_key_length))

    def kem_public_key(self, private: bytes) -> bytes:
        return self._hpke.kem.public_key(private)

    def check_kem_public_key(self, public: bytes) -> None:
        """:class:`CryptoError` unless ``public`` is a valid HPKE public key (RFC 9180 §7.1.4)."""
        self._hpke.kem.check_public_key(public)

    def hpke_seal(
        self, public: bytes, info: bytes, aad: bytes, plaintext: bytes, rng: RandomProvider
    ) -> tuple[bytes, bytes]:
        """SealBase(pkR, info, aad, pt): ``(enc, ciphertext)``."""
        ikm_e = rng.random_bytes(self.kem_private_key_length)
        return self._hpke.seal_base(public, info, aad, plaintext, ikm_e)

    def hpke_open(
        self, private: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes
    ) -> bytes:
        """OpenBase(enc, skR, info, aad, ct); :class:`CryptoError` on any failure."""
        return self._hpke.open_base(enc, private, info, aad, ciphertext)

    def hpke_setup_sender(
        self, public: bytes, info: bytes, rng: RandomProvider
    ) -> tuple[bytes, HPKEContext]:
        """SetupBaseS(pkR, info): ``(enc, sender context)``."""
        ikm_e = rng.random_bytes(self.kem_private_key_length)
        return self._hpke.setup_base_sender(public, info, ikm_e)

    def hpke_setup_receiver(self, private: bytes, enc: bytes, info: bytes) -> HPKEContext:
        """SetupBaseR(enc, skR, info): the receiver context."""
        return self._hpke.setup_base_receiver(enc, private, info)


_SUITES: Final = {
    1: Suite(
        CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
        KEM_X25519_HKDF_SHA256,
        AEAD_AES_128_GCM,
        _ED25519_SIGNER,
    ),
    2: Suite(
        CipherSuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
        KEM_P256_HKDF_SHA256,
        AEAD_AES_128_GCM,
        _ECDSA_P256_SIGNER,
    ),
    3: Suite(
        CipherSuite.MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
        KEM_X25519_HKDF_SHA256,
        AEAD_CHACHA20_POLY1305,
        _ED25519_SIGNER,
    ),
}


def suite_for(suite_id: int) -> Suite:
    """The :class:`Suite` for an MLS cipher suite id (one shared object per suite).

    Raises :class:`~cove.protocol.errors.UnsupportedCipherSuite` for suites 4-7,
    GREASE values and unknown ids.
    """
    suite = _SUITES.get(suite_id)
    if suite is None:
        raise UnsupportedCipherSuite(int(suite_id) if isinstance(suite_id, int) else -1)
    return suite
