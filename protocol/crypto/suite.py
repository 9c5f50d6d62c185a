"""MLS cipher suites (RFC 9420 §5.1, §17.1): one immutable :class:`Suite` per suite.

Built: all seven suites of RFC 9420 §17.1 and one post-quantum hybrid suite,

| id | KEM | KDF / hash | AEAD | signature |
|---|---|---|---|---|
| 1 | DHKEM(X25519) | SHA-256 | AES-128-GCM | Ed25519 |
| 2 | DHKEM(P-256) | SHA-256 | AES-128-GCM | ECDSA P-256 |
| 3 | DHKEM(X25519) | SHA-256 | ChaCha20-Poly1305 | Ed25519 |
| 4 | DHKEM(X448) | SHA-512 | AES-256-GCM | Ed448 |
| 5 | DHKEM(P-521) | SHA-512 | AES-256-GCM | ECDSA P-521 |
| 6 | DHKEM(X448) | SHA-512 | ChaCha20-Poly1305 | Ed448 |
| 7 | DHKEM(P-384) | SHA-384 | AES-256-GCM | ECDSA P-384 |
| ``0xF001`` | MLKEM768-X25519 (X-Wing) | SHA-256 | AES-128-GCM | Ed25519 |

The last is ``MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519`` of
draft-ietf-mls-pq-ciphersuites-06 ("TBD1" there: the draft assigns no value
yet), carried on a code point of the private-use range 0xF000-0xFFFF of
RFC 9420 §17.1 until IANA assigns one. GREASE values and unknown ids raise
:class:`~cove.protocol.errors.UnsupportedCipherSuite`.

Key, signature and HPKE encodings are in :mod:`.signature`, :mod:`.dhkem`
and :mod:`.xwing`; docs/protocol/crypto.md is the specification.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import CryptoError, UnsupportedCipherSuite, UsageError
from .hpke import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AEAD_CHACHA20_POLY1305,
    KDF_HKDF_SHA256,
    KDF_HKDF_SHA384,
    KDF_HKDF_SHA512,
    KEM_MLKEM768_X25519,
    KEM_P256_HKDF_SHA256,
    KEM_P384_HKDF_SHA384,
    KEM_P521_HKDF_SHA512,
    KEM_X448_HKDF_SHA512,
    KEM_X25519_HKDF_SHA256,
    HPKEContext,
    HpkeSuite,
    hkdf_expand,
    hpke_suite,
)
from .rng import RandomProvider
from .signature import (
    ECDSA_SECP256R1_SHA256,
    ECDSA_SECP384R1_SHA384,
    ECDSA_SECP521R1_SHA512,
    ED448,
    ED25519,
    SIGNERS,
    Signer,
)
from .xwing import XWING_AVAILABLE

if TYPE_CHECKING:
    from _hashlib import HASH

__all__ = ["PQ_SUITES", "SUPPORTED_SUITES", "CipherSuite", "Suite", "suite_for"]


class CipherSuite(IntEnum):
    """The MLS cipher suites of the IANA registry (RFC 9420 §17.1), and Cove's PQ suite."""

    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 = 0x0001
    MLS_128_DHKEMP256_AES128GCM_SHA256_P256 = 0x0002
    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 = 0x0003
    MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448 = 0x0004
    MLS_256_DHKEMP521_AES256GCM_SHA512_P521 = 0x0005
    MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448 = 0x0006
    MLS_256_DHKEMP384_AES256GCM_SHA384_P384 = 0x0007
    #: draft-ietf-mls-pq-ciphersuites-06 "TBD1", on a private-use code point.
    MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519 = 0xF001


#: The post-quantum (hybrid KEM) suites (none if ``cryptography`` lacks ML-KEM).
PQ_SUITES: Final = frozenset({0xF001} if XWING_AVAILABLE else ())

#: The suites :func:`suite_for` builds.
SUPPORTED_SUITES: Final = frozenset({1, 2, 3, 4, 5, 6, 7}) | PQ_SUITES

#: Per hash: (hashlib name, constructor, Nh, HKDF id).
_HASHES: Final[dict[str, tuple[Callable[[bytes], HASH], int, int]]] = {
    "sha256": (hashlib.sha256, 32, KDF_HKDF_SHA256),
    "sha384": (hashlib.sha384, 48, KDF_HKDF_SHA384),
    "sha512": (hashlib.sha512, 64, KDF_HKDF_SHA512),
}


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
    _sig: Signer

    def __init__(
        self, suite_id: CipherSuite, kem_id: int, hash_name: str, aead_id: int, sig: Signer
    ) -> None:
        hash_new, hash_length, kdf_id = _HASHES[hash_name]
        hpke = hpke_suite(kem_id, kdf_id, aead_id)
        values: dict[str, object] = {
            "suite_id": int(suite_id),
            "name": suite_id.name,
            "hash_length": hash_length,
            "aead_key_length": hpke.aead.nk,
            "aead_nonce_length": hpke.aead.nn,
            "aead_tag_length": hpke.aead.nt,
            "kem_id": kem_id,
            "kdf_id": kdf_id,
            "aead_id": aead_id,
            "kem_output_length": hpke.kem.nenc,
            "kem_public_key_length": hpke.kem.npk,
            "kem_private_key_length": hpke.kem.nsk,
            "signature_scheme": sig.scheme,
            "_hash_name": hash_name,
            "_hash_new": hash_new,
            "_aead_factory": ChaCha20Poly1305 if aead_id == AEAD_CHACHA20_POLY1305 else AESGCM,
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
        """The HPKE suite (KEM, the HKDF of the suite hash, AEAD) of this cipher suite."""
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
        ikm_e = rng.random_bytes(self._hpke.kem.encap_random_length)
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
        ikm_e = rng.random_bytes(self._hpke.kem.encap_random_length)
        return self._hpke.setup_base_sender(public, info, ikm_e)

    def hpke_setup_receiver(self, private: bytes, enc: bytes, info: bytes) -> HPKEContext:
        """SetupBaseR(enc, skR, info): the receiver context."""
        return self._hpke.setup_base_receiver(enc, private, info)


_C = CipherSuite
_SUITES: Final = {
    int(suite.suite_id): suite
    for suite in (
        Suite(_C(1), KEM_X25519_HKDF_SHA256, "sha256", AEAD_AES_128_GCM, SIGNERS[ED25519]),
        Suite(
            _C(2), KEM_P256_HKDF_SHA256, "sha256", AEAD_AES_128_GCM, SIGNERS[ECDSA_SECP256R1_SHA256]
        ),
        Suite(_C(3), KEM_X25519_HKDF_SHA256, "sha256", AEAD_CHACHA20_POLY1305, SIGNERS[ED25519]),
        Suite(_C(4), KEM_X448_HKDF_SHA512, "sha512", AEAD_AES_256_GCM, SIGNERS[ED448]),
        Suite(
            _C(5), KEM_P521_HKDF_SHA512, "sha512", AEAD_AES_256_GCM, SIGNERS[ECDSA_SECP521R1_SHA512]
        ),
        Suite(_C(6), KEM_X448_HKDF_SHA512, "sha512", AEAD_CHACHA20_POLY1305, SIGNERS[ED448]),
        Suite(
            _C(7), KEM_P384_HKDF_SHA384, "sha384", AEAD_AES_256_GCM, SIGNERS[ECDSA_SECP384R1_SHA384]
        ),
    )
}
if XWING_AVAILABLE:
    _SUITES[0xF001] = Suite(
        _C(0xF001), KEM_MLKEM768_X25519, "sha256", AEAD_AES_128_GCM, SIGNERS[ED25519]
    )
assert frozenset(_SUITES) == SUPPORTED_SUITES


def suite_for(suite_id: int) -> Suite:
    """The :class:`Suite` for an MLS cipher suite id (one shared object per suite).

    Raises :class:`~cove.protocol.errors.UnsupportedCipherSuite` for GREASE
    values and every id not in :data:`SUPPORTED_SUITES`.
    """
    suite = _SUITES.get(suite_id)
    if suite is None:
        raise UnsupportedCipherSuite(int(suite_id) if isinstance(suite_id, int) else -1)
    return suite
