"""The X-Wing hybrid KEM, MLKEM768-X25519 (HPKE KEM ``0x647a``).

Specified by draft-ietf-hpke-pq (§4, "Hybrid KEMs with ECDH and ML-KEM") on top
of the concrete hybrid KEM of draft-irtf-cfrg-concrete-hybrid-kems /
draft-connolly-cfrg-xwing-kem. ML-KEM-768 (FIPS 203) comes from
``cryptography``'s ``mlkem`` module (OpenSSL); X25519 from ``x25519``.

Sizes: Nsecret 32, Nenc 1120 (``ct_M[1088] || ct_X[32]``), Npk 1216
(``pk_M[1184] || pk_X[32]``), Nsk 32 (the decapsulation key is the 32-byte
seed).

::

    expand(seed)    = SHAKE256(seed, 96) = d[32] || z[32] || sk_X[32]
    sk_M, pk_M      = ML-KEM-768.KeyGen_internal(d, z)
    pk_X            = X25519(sk_X, 9)
    DeriveKeyPair(ikm) = seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32)
                         with suite_id "KEM" || 0x647a
    Encap(pk):  ek_X random 32 bytes; ct_X = X25519(ek_X, 9); ss_X = X25519(ek_X, pk_X)
                (ss_M, ct_M) = ML-KEM-768.Encaps(pk_M)
    Decap(ct, seed): ss_M = ML-KEM-768.Decaps(sk_M, ct_M); ss_X = X25519(sk_X, ct_X)
    shared_secret = SHA3-256(ss_M || ss_X || ct_X || pk_X || "\\.//^\\")

Randomness: ``cryptography`` has no derandomized ML-KEM encapsulation, so the
32-byte ML-KEM message of Encap is drawn by OpenSSL's CSPRNG; only the X25519
ephemeral key ``ek_X`` (the second half of the draft's 64-byte ``eseed``)
comes from the caller. X-Wing encryption is therefore not reproducible from a
seeded :class:`~cove.protocol.crypto.rng.RandomProvider` (documented in
docs/protocol/crypto.md).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from ..errors import CryptoError, UsageError
from .dhkem import HpkeKem
from .kdf import labeled_derive_shake256

__all__ = ["KEM_MLKEM768_X25519", "XWING_AVAILABLE", "XWING_LABEL", "XWingKem"]

KEM_MLKEM768_X25519: Final = 0x647A
#: The combiner's domain separator ``\.//^\`` (6 bytes).
XWING_LABEL: Final = b"\\.//^\\"

_PK_M: Final = 1184
_CT_M: Final = 1088


def _probe() -> bool:
    # cryptography >= 47 has the module; whether ML-KEM works depends on the
    # OpenSSL (3.5+) or AWS-LC it was built with.
    try:
        mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(64))
    except UnsupportedAlgorithm:  # pragma: no cover - depends on the build
        return False
    return True


#: Whether this ``cryptography`` build has ML-KEM-768; without it the X-Wing KEM
#: and the PQ suite are not offered (``UnsupportedCipherSuite``).
XWING_AVAILABLE: Final = _probe()


def _expand(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    if len(seed) != 32:
        raise UsageError("X-Wing private key (seed) must be 32 bytes")
    expanded = hashlib.shake_256(seed).digest(96)
    return (
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )


@lru_cache(maxsize=256)
def _public(public: bytes) -> tuple[mlkem.MLKEM768PublicKey, x25519.X25519PublicKey]:
    if len(public) != _PK_M + 32:
        raise CryptoError("invalid X-Wing public key")
    try:
        pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(public[:_PK_M])
    except ValueError:
        # FIPS 203 §7.2 encapsulation key check (coefficients below q)
        raise CryptoError("invalid X-Wing public key") from None
    return pk_m, x25519.X25519PublicKey.from_public_bytes(public[_PK_M:])


def _combine(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


class XWingKem(HpkeKem):
    """MLKEM768-X25519 as an HPKE KEM (see the module docstring)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(
            KEM_MLKEM768_X25519,
            "MLKEM768-X25519 (X-Wing)",
            nsecret=32,
            nenc=_CT_M + 32,
            npk=_PK_M + 32,
            nsk=32,
            nrand=32,
        )

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        seed = labeled_derive_shake256(self.suite_id, ikm, b"DeriveKeyPair", b"", 32)
        return seed, self.public_key(seed)

    def public_key(self, private: bytes) -> bytes:
        sk_m, sk_x = _expand(private)
        return sk_m.public_key().public_bytes_raw() + sk_x.public_key().public_bytes_raw()

    def check_public_key(self, public: bytes) -> None:
        _public(public)

    def encap(self, public: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
        if len(ikm_e) != 32:
            raise UsageError("X-Wing Encap takes 32 random bytes")
        pk_m, pk_x = _public(public)
        ek_x = x25519.X25519PrivateKey.from_private_bytes(ikm_e)
        ct_x = ek_x.public_key().public_bytes_raw()
        try:
            ss_x = ek_x.exchange(pk_x)
        except ValueError:
            raise CryptoError("X-Wing key exchange failed") from None
        ss_m, ct_m = pk_m.encapsulate()
        return _combine(ss_m, ss_x, ct_x, public[_PK_M:]), ct_m + ct_x

    def decap(self, enc: bytes, private: bytes) -> bytes:
        sk_m, sk_x = _expand(private)
        if len(enc) != self.nenc:
            raise CryptoError("invalid X-Wing ciphertext")
        ct_x = enc[_CT_M:]
        try:
            ss_m = sk_m.decapsulate(enc[:_CT_M])
            ss_x = sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
        except ValueError:
            raise CryptoError("X-Wing decapsulation failed") from None
        return _combine(ss_m, ss_x, ct_x, sk_x.public_key().public_bytes_raw())
