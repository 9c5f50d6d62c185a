"""Ed25519 and X25519 through libsodium (PyNaCl's bindings), the faster binding here.

Measured on the development machine (``bench/bench_crypto_bindings.py``, same run):
libsodium verifies Ed25519 about 2x, signs about 1.6x and computes X25519 about
1.6x faster than ``cryptography`` (OpenSSL) does. Both implement RFC 8032 / RFC
7748 and give the same bytes; the differences are in what they refuse:

* Ed25519 verification (libsodium ``crypto_sign_verify``) refuses a signature
  whose S is not below the group order (as RFC 8032 §5.1.7 asks and OpenSSL
  does too), a non-canonical or small-order R or public key. Honest keys and
  signatures are never small-order; refusing them is stricter, never weaker.
* X25519 (``crypto_scalarmult``) refuses an all-zero shared secret (a low-order
  peer point), the check RFC 9180 §7.1.4 requires. The scalar is clamped inside,
  as RFC 7748 §5 specifies, so an unclamped private key (DeriveKeyPair's output)
  gives the same result as with OpenSSL.

Ed448, X448 and the NIST curves stay on ``cryptography``.
"""

from __future__ import annotations

from functools import lru_cache

import nacl.bindings as _sodium
import nacl.exceptions as _sodium_errors

from ..errors import CryptoError, UsageError

__all__ = [
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "x25519",
    "x25519_public",
]


@lru_cache(maxsize=8)
def _secret_key(seed: bytes) -> bytes:
    # libsodium's 64-byte secret key is seed || public key; signature keys are
    # long-lived device keys, so the few in use are kept rather than re-derived.
    if len(seed) != 32:
        raise UsageError("Ed25519 private key (seed) must be 32 bytes")
    _, secret = _sodium.crypto_sign_seed_keypair(seed)
    return bytes(secret)


def ed25519_public(seed: bytes) -> bytes:
    return _secret_key(seed)[32:]


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return bytes(_sodium.crypto_sign(message, _secret_key(seed))[:64])


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> None:
    if len(public) != 32:
        raise CryptoError("invalid Ed25519 public key")
    if len(signature) != 64:
        raise CryptoError("signature verification failed")
    try:
        _sodium.crypto_sign_open(signature + message, public)
    except _sodium_errors.CryptoError:
        raise CryptoError("signature verification failed") from None


def x25519_public(private: bytes) -> bytes:
    if len(private) != 32:
        raise UsageError("DHKEM(X25519, HKDF-SHA256) private key must be 32 bytes")
    return bytes(_sodium.crypto_scalarmult_base(private))


def x25519(private: bytes, public: bytes) -> bytes:
    if len(private) != 32:
        raise UsageError("DHKEM(X25519, HKDF-SHA256) private key must be 32 bytes")
    if len(public) != 32:
        raise CryptoError("invalid X25519 public key")
    try:
        return bytes(_sodium.crypto_scalarmult(private, public))
    except _sodium_errors.CryptoError:  # all-zero result: a low-order peer point
        raise CryptoError("DHKEM(X25519, HKDF-SHA256) key exchange failed") from None
