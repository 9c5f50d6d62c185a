"""Hybrid Public Key Encryption (RFC 9180), base mode, for MLS cipher suites 1-3.

``cryptography`` offers single-shot HPKE only (no AAD, no context, no export,
no DeriveKeyPair), so this module builds RFC 9180 from its primitives:

* KEMs: DHKEM(P-256, HKDF-SHA256) ``0x0010`` and DHKEM(X25519, HKDF-SHA256)
  ``0x0020`` (§4.1), with DeriveKeyPair (§7.1.3), SerializePublicKey/
  SerializePrivateKey (§7.1.1, §7.1.2) and the input validation of §7.1.4;
* KDFs: HKDF-SHA256/384/512 ``0x0001``-``0x0003`` (RFC 5869), with
  LabeledExtract/LabeledExpand (§4);
* AEADs: AES-128-GCM ``0x0001``, AES-256-GCM ``0x0002``,
  ChaCha20-Poly1305 ``0x0003`` (§7.3);
* the base-mode key schedule (§5.1), SetupBaseS/SetupBaseR (§5.1.1), the
  context's Seal/Open with the sequence-number nonce (§5.2) and Export (§5.3),
  plus single-shot SealBase/OpenBase (§6.1).

PSK and Auth modes are not implemented. Functions here are deterministic: the
sender's ephemeral key is ``DeriveKeyPair(ikmE)`` with ``ikmE`` supplied by the
caller (``Nsk`` random bytes in production; the published ``ikmE`` when
reproducing test vectors).

Errors: a failed AEAD open, an invalid peer public key or a zero DH output
raises :class:`~cove.protocol.errors.CryptoError`; a malformed argument of our
own (wrong private-key length, an out-of-range length) raises
:class:`~cove.protocol.errors.UsageError`.
"""

from __future__ import annotations

import hmac
from functools import cache, lru_cache
from typing import Final, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import CryptoError, StateError, UsageError

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "KDF_HKDF_SHA256",
    "KDF_HKDF_SHA384",
    "KDF_HKDF_SHA512",
    "KEM_P256_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "MODE_BASE",
    "HPKEContext",
    "HpkeAead",
    "HpkeKdf",
    "HpkeKem",
    "HpkeSuite",
    "hkdf_expand",
    "hkdf_extract",
    "hpke_aead",
    "hpke_kdf",
    "hpke_kem",
    "hpke_suite",
]

KEM_P256_HKDF_SHA256: Final = 0x0010
KEM_X25519_HKDF_SHA256: Final = 0x0020
KDF_HKDF_SHA256: Final = 0x0001
KDF_HKDF_SHA384: Final = 0x0002
KDF_HKDF_SHA512: Final = 0x0003
AEAD_AES_128_GCM: Final = 0x0001
AEAD_AES_256_GCM: Final = 0x0002
AEAD_CHACHA20_POLY1305: Final = 0x0003
MODE_BASE: Final = 0x00

_HPKE_V1: Final = b"HPKE-v1"


# --------------------------------------------------------------------------- HKDF


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


class HpkeKdf:
    """An HKDF-based HPKE KDF (§7.2) with LabeledExtract/LabeledExpand (§4)."""

    __slots__ = ("hash_name", "kdf_id", "nh")

    def __init__(self, kdf_id: int, hash_name: str, nh: int) -> None:
        self.kdf_id = kdf_id
        self.hash_name = hash_name
        self.nh = nh

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        return hmac.digest(salt, ikm, self.hash_name)

    def expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        return hkdf_expand(self.hash_name, self.nh, prk, info, length)

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        """``Extract(salt, "HPKE-v1" || suite_id || label || ikm)``."""
        return hmac.digest(salt, _HPKE_V1 + suite_id + label + ikm, self.hash_name)

    def labeled_expand(
        self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
    ) -> bytes:
        """``Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)``."""
        if not 0 <= length <= 0xFFFF:
            raise UsageError(f"LabeledExpand length {length} out of range")
        labeled_info = length.to_bytes(2, "big") + _HPKE_V1 + suite_id + label + info
        return hkdf_expand(self.hash_name, self.nh, prk, labeled_info, length)

    def __repr__(self) -> str:
        return f"HpkeKdf(0x{self.kdf_id:04x}, HKDF-{self.hash_name.upper()})"


_KDFS: Final = {
    KDF_HKDF_SHA256: HpkeKdf(KDF_HKDF_SHA256, "sha256", 32),
    KDF_HKDF_SHA384: HpkeKdf(KDF_HKDF_SHA384, "sha384", 48),
    KDF_HKDF_SHA512: HpkeKdf(KDF_HKDF_SHA512, "sha512", 64),
}


def hpke_kdf(kdf_id: int) -> HpkeKdf:
    try:
        return _KDFS[kdf_id]
    except KeyError:
        raise UsageError(f"unsupported HPKE KDF 0x{kdf_id:04x}") from None


# --------------------------------------------------------------------------- AEAD


class _AeadCipher(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class HpkeAead:
    """An AEAD of RFC 9180 §7.3 (all with a 16-byte tag appended to the ciphertext)."""

    __slots__ = ("_factory", "aead_id", "name", "nk", "nn", "nt")

    def __init__(
        self, aead_id: int, name: str, nk: int, factory: type[AESGCM] | type[ChaCha20Poly1305]
    ) -> None:
        self.aead_id = aead_id
        self.name = name
        self.nk = nk
        self.nn = 12
        self.nt = 16
        self._factory = factory

    def new(self, key: bytes) -> _AeadCipher:
        """A reusable cipher object for ``key``."""
        if len(key) != self.nk:
            raise UsageError(f"{self.name} key must be {self.nk} bytes")
        return self._factory(key)

    def seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if len(nonce) != self.nn:
            raise UsageError(f"{self.name} nonce must be {self.nn} bytes")
        return self.new(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != self.nn:
            raise UsageError(f"{self.name} nonce must be {self.nn} bytes")
        cipher = self.new(key)
        if len(ciphertext) < self.nt:
            raise CryptoError("AEAD decryption failed")
        try:
            return cipher.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError("AEAD decryption failed") from None

    def __repr__(self) -> str:
        return f"HpkeAead(0x{self.aead_id:04x}, {self.name})"


_AEADS: Final = {
    AEAD_AES_128_GCM: HpkeAead(AEAD_AES_128_GCM, "AES-128-GCM", 16, AESGCM),
    AEAD_AES_256_GCM: HpkeAead(AEAD_AES_256_GCM, "AES-256-GCM", 32, AESGCM),
    AEAD_CHACHA20_POLY1305: HpkeAead(
        AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305", 32, ChaCha20Poly1305
    ),
}


def hpke_aead(aead_id: int) -> HpkeAead:
    try:
        return _AEADS[aead_id]
    except KeyError:
        raise UsageError(f"unsupported HPKE AEAD 0x{aead_id:04x}") from None


# --------------------------------------------------------------------------- KEM


class HpkeKem:
    """DHKEM(Group, HKDF-SHA256) of RFC 9180 §4.1. Subclasses supply the group.

    Keys cross this API as bytes: public keys in SerializePublicKey form
    (``npk`` bytes), private keys in SerializePrivateKey form (``nsk`` bytes).
    """

    __slots__ = ("kdf", "kem_id", "name", "ndh", "nenc", "npk", "nsecret", "nsk", "suite_id")

    def __init__(self, kem_id: int, name: str, *, npk: int, nsk: int, ndh: int) -> None:
        self.kem_id = kem_id
        self.name = name
        self.kdf = _KDFS[KDF_HKDF_SHA256]
        self.nsecret = 32
        self.nenc = npk
        self.npk = npk
        self.nsk = nsk
        self.ndh = ndh
        #: suite_id = concat("KEM", I2OSP(kem_id, 2)) (§4.1)
        self.suite_id = b"KEM" + kem_id.to_bytes(2, "big")

    # -- group operations (subclasses) -------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """DeriveKeyPair(ikm) (§7.1.3): ``(SerializePrivateKey(sk), SerializePublicKey(pk))``."""
        raise NotImplementedError

    def public_key(self, private: bytes) -> bytes:
        """SerializePublicKey(pk(sk)) for a serialized private key."""
        raise NotImplementedError

    def check_public_key(self, public: bytes) -> None:
        """DeserializePublicKey plus the validation of §7.1.4; :class:`CryptoError` if invalid."""
        raise NotImplementedError

    def dh(self, private: bytes, public: bytes) -> bytes:
        """DH(skX, pkY) with the checks of §7.1.4."""
        raise NotImplementedError

    # -- DHKEM -------------------------------------------------------------

    def _dkp_prk(self, ikm: bytes) -> bytes:
        return self.kdf.labeled_extract(self.suite_id, b"", b"dkp_prk", ikm)

    def extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        eae_prk = self.kdf.labeled_extract(self.suite_id, b"", b"eae_prk", dh)
        return self.kdf.labeled_expand(
            self.suite_id, eae_prk, b"shared_secret", kem_context, self.nsecret
        )

    def encap(self, public: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
        """Encap(pkR) with ephemeral key ``DeriveKeyPair(ikm_e)``: ``(shared_secret, enc)``."""
        sk_e, pk_e = self.derive_key_pair(ikm_e)
        dh = self.dh(sk_e, public)
        return self.extract_and_expand(dh, pk_e + public), pk_e

    def decap(self, enc: bytes, private: bytes) -> bytes:
        """Decap(enc, skR): the shared secret. :class:`CryptoError` on an invalid ``enc``."""
        dh = self.dh(private, enc)
        return self.extract_and_expand(dh, enc + self.public_key(private))

    def __repr__(self) -> str:
        return f"HpkeKem(0x{self.kem_id:04x}, {self.name})"


# Deserialized public keys are cached: they are public, and TreeKEM encrypts to
# the same node keys again and again. Failures are not cached.


@lru_cache(maxsize=1024)
def _x25519_public(public: bytes) -> x25519.X25519PublicKey:
    if len(public) != 32:
        raise CryptoError("invalid X25519 public key")
    return x25519.X25519PublicKey.from_public_bytes(public)


@lru_cache(maxsize=1024)
def _p256_public(public: bytes) -> ec.EllipticCurvePublicKey:
    # SerializePublicKey for P-256 is the uncompressed SEC1 point (§7.1.1);
    # from_encoded_point checks the coordinates are in range and on the curve.
    if len(public) != 65 or public[0] != 0x04:
        raise CryptoError("invalid P-256 public key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise CryptoError("invalid P-256 public key") from None


class _X25519Kem(HpkeKem):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(
            KEM_X25519_HKDF_SHA256, "DHKEM(X25519, HKDF-SHA256)", npk=32, nsk=32, ndh=32
        )

    def _private(self, private: bytes) -> x25519.X25519PrivateKey:
        if len(private) != 32:
            raise UsageError("X25519 private key must be 32 bytes")
        return x25519.X25519PrivateKey.from_private_bytes(private)

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        sk = self.kdf.labeled_expand(self.suite_id, self._dkp_prk(ikm), b"sk", b"", self.nsk)
        return sk, self.public_key(sk)

    def public_key(self, private: bytes) -> bytes:
        return self._private(private).public_key().public_bytes_raw()

    def check_public_key(self, public: bytes) -> None:
        _x25519_public(public)

    def dh(self, private: bytes, public: bytes) -> bytes:
        peer = _x25519_public(public)
        try:
            # cryptography refuses an all-zero shared secret (a low-order peer
            # point), which is the check RFC 9180 §7.1.4 requires.
            return self._private(private).exchange(peer)
        except ValueError:
            raise CryptoError("X25519 key exchange failed") from None


#: Order of the P-256 group (RFC 9180 §7.1.3; SEC 2 / FIPS 186).
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class _P256Kem(HpkeKem):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(KEM_P256_HKDF_SHA256, "DHKEM(P-256, HKDF-SHA256)", npk=65, nsk=32, ndh=32)

    def _private(self, private: bytes) -> ec.EllipticCurvePrivateKey:
        if len(private) != 32:
            raise UsageError("P-256 private key must be 32 bytes")
        scalar = int.from_bytes(private, "big")
        if not 0 < scalar < P256_ORDER:
            raise UsageError("P-256 private key out of range")
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        # Rejection sampling over scalars, bitmask 0xFF for P-256 (§7.1.3).
        dkp_prk = self._dkp_prk(ikm)
        for counter in range(256):
            candidate = self.kdf.labeled_expand(
                self.suite_id, dkp_prk, b"candidate", bytes((counter,)), self.nsk
            )
            scalar = int.from_bytes(candidate, "big")  # bitmask 0xFF: first byte unchanged
            if 0 < scalar < P256_ORDER:
                return candidate, self.public_key(candidate)
        raise CryptoError("DeriveKeyPair failed")  # probability about 2^-8192

    def public_key(self, private: bytes) -> bytes:
        return (
            self._private(private)
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )

    def check_public_key(self, public: bytes) -> None:
        _p256_public(public)

    def dh(self, private: bytes, public: bytes) -> bytes:
        peer = _p256_public(public)
        try:
            # The shared secret is the x-coordinate, 32 bytes (§7.1.1). With a
            # validated peer point and 0 < sk < order it is never infinity.
            return self._private(private).exchange(ec.ECDH(), peer)
        except ValueError:
            raise CryptoError("P-256 key exchange failed") from None


_KEMS: Final[dict[int, HpkeKem]] = {
    KEM_X25519_HKDF_SHA256: _X25519Kem(),
    KEM_P256_HKDF_SHA256: _P256Kem(),
}


def hpke_kem(kem_id: int) -> HpkeKem:
    try:
        return _KEMS[kem_id]
    except KeyError:
        raise UsageError(f"unsupported HPKE KEM 0x{kem_id:04x}") from None


# --------------------------------------------------------------------------- context

Role = Literal["sender", "receiver"]


class HPKEContext:
    """An HPKE encryption context (§5.2, §5.3) for one role.

    ``seal`` (sender) and ``open`` (receiver) use the nonce
    ``base_nonce XOR I2OSP(seq, Nn)`` and advance ``seq`` after each success;
    a failed ``open`` leaves ``seq`` unchanged. ``export`` works in both roles.
    A sender context refuses ``open`` and a receiver context refuses ``seal``
    (§5.2). The repr never shows key material.
    """

    __slots__ = (
        "_base_nonce",
        "_cipher",
        "_exporter_secret",
        "_key",
        "_nonce_int",
        "_role",
        "_seq",
        "_seq_limit",
        "_suite",
    )

    def __init__(
        self, suite: HpkeSuite, role: Role, key: bytes, base_nonce: bytes, exporter_secret: bytes
    ) -> None:
        if role not in ("sender", "receiver"):
            raise UsageError("role must be 'sender' or 'receiver'")
        if len(base_nonce) != suite.aead.nn:
            raise UsageError("base_nonce has the wrong length")
        self._suite = suite
        self._role: Role = role
        self._key = key
        self._cipher = suite.aead.new(key)
        self._base_nonce = base_nonce
        self._nonce_int = int.from_bytes(base_nonce, "big")
        self._exporter_secret = exporter_secret
        self._seq = 0
        self._seq_limit = (1 << (8 * suite.aead.nn)) - 1

    @property
    def suite(self) -> HpkeSuite:
        return self._suite

    @property
    def role(self) -> Role:
        return self._role

    @property
    def sequence_number(self) -> int:
        """The sequence number the next seal/open will use."""
        return self._seq

    @property
    def key(self) -> bytes:
        return self._key

    @property
    def base_nonce(self) -> bytes:
        return self._base_nonce

    @property
    def exporter_secret(self) -> bytes:
        return self._exporter_secret

    def compute_nonce(self, seq: int) -> bytes:
        """``xor(base_nonce, I2OSP(seq, Nn))``."""
        if not 0 <= seq < self._seq_limit:
            raise UsageError("sequence number out of range")
        return (self._nonce_int ^ seq).to_bytes(len(self._base_nonce), "big")

    def _next_nonce(self) -> bytes:
        if self._seq >= self._seq_limit:
            raise StateError("HPKE context message limit reached")
        return (self._nonce_int ^ self._seq).to_bytes(len(self._base_nonce), "big")

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        """ContextS.Seal(aad, pt)."""
        if self._role != "sender":
            raise UsageError("a receiver HPKE context cannot seal")
        ciphertext = self._cipher.encrypt(self._next_nonce(), plaintext, aad)
        self._seq += 1
        return ciphertext

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        """ContextR.Open(aad, ct); :class:`CryptoError` on a bad tag."""
        if self._role != "receiver":
            raise UsageError("a sender HPKE context cannot open")
        nonce = self._next_nonce()
        if len(ciphertext) < self._suite.aead.nt:
            raise CryptoError("HPKE open failed")
        try:
            plaintext = self._cipher.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError("HPKE open failed") from None
        self._seq += 1
        return plaintext

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """Context.Export(exporter_context, L) = LabeledExpand(exporter_secret, "sec", ctx, L)."""
        kdf = self._suite.kdf
        if not 0 <= length <= 255 * kdf.nh:
            raise UsageError(f"export length {length} out of range")
        return kdf.labeled_expand(
            self._suite.suite_id, self._exporter_secret, b"sec", exporter_context, length
        )

    def __repr__(self) -> str:
        return f"HPKEContext({self._suite!r}, role={self._role}, seq={self._seq}, <keys hidden>)"


# --------------------------------------------------------------------------- suite


class HpkeSuite:
    """An HPKE cipher suite (KEM, KDF, AEAD) in base mode."""

    __slots__ = ("_psk_id_hash", "aead", "kdf", "kem", "suite_id")

    def __init__(self, kem: HpkeKem, kdf: HpkeKdf, aead: HpkeAead) -> None:
        self.kem = kem
        self.kdf = kdf
        self.aead = aead
        #: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2)) (§5.1)
        self.suite_id = (
            b"HPKE"
            + kem.kem_id.to_bytes(2, "big")
            + kdf.kdf_id.to_bytes(2, "big")
            + aead.aead_id.to_bytes(2, "big")
        )
        # Base mode: psk = psk_id = "", so psk_id_hash is a per-suite constant.
        self._psk_id_hash = kdf.labeled_extract(self.suite_id, b"", b"psk_id_hash", b"")

    def key_schedule_inputs(self, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
        """Base mode ``(key_schedule_context, secret)`` of §5.1."""
        kdf = self.kdf
        info_hash = kdf.labeled_extract(self.suite_id, b"", b"info_hash", info)
        key_schedule_context = bytes((MODE_BASE,)) + self._psk_id_hash + info_hash
        secret = kdf.labeled_extract(self.suite_id, shared_secret, b"secret", b"")
        return key_schedule_context, secret

    def key_schedule(self, shared_secret: bytes, info: bytes, role: Role) -> HPKEContext:
        """KeySchedule<ROLE>(mode_base, shared_secret, info, "", "") (§5.1)."""
        ksc, secret = self.key_schedule_inputs(shared_secret, info)
        kdf, sid = self.kdf, self.suite_id
        key = kdf.labeled_expand(sid, secret, b"key", ksc, self.aead.nk)
        base_nonce = kdf.labeled_expand(sid, secret, b"base_nonce", ksc, self.aead.nn)
        exporter_secret = kdf.labeled_expand(sid, secret, b"exp", ksc, kdf.nh)
        return HPKEContext(self, role, key, base_nonce, exporter_secret)

    def setup_base_sender(
        self, public: bytes, info: bytes, ikm_e: bytes
    ) -> tuple[bytes, HPKEContext]:
        """SetupBaseS(pkR, info) with ephemeral ``DeriveKeyPair(ikm_e)``: ``(enc, context)``."""
        shared_secret, enc = self.kem.encap(public, ikm_e)
        return enc, self.key_schedule(shared_secret, info, "sender")

    def setup_base_receiver(self, enc: bytes, private: bytes, info: bytes) -> HPKEContext:
        """SetupBaseR(enc, skR, info)."""
        return self.key_schedule(self.kem.decap(enc, private), info, "receiver")

    def seal_base(
        self, public: bytes, info: bytes, aad: bytes, plaintext: bytes, ikm_e: bytes
    ) -> tuple[bytes, bytes]:
        """SealBase (§6.1): ``(enc, ct)``."""
        enc, ctx = self.setup_base_sender(public, info, ikm_e)
        return enc, ctx.seal(aad, plaintext)

    def open_base(
        self, enc: bytes, private: bytes, info: bytes, aad: bytes, ciphertext: bytes
    ) -> bytes:
        """OpenBase (§6.1); :class:`CryptoError` if anything fails to check."""
        return self.setup_base_receiver(enc, private, info).open(aad, ciphertext)

    def __repr__(self) -> str:
        return f"HpkeSuite({self.kem.name}, HKDF-{self.kdf.hash_name.upper()}, {self.aead.name})"


@cache
def hpke_suite(kem_id: int, kdf_id: int, aead_id: int) -> HpkeSuite:
    """The (cached) HPKE suite for the three algorithm ids."""
    return HpkeSuite(hpke_kem(kem_id), hpke_kdf(kdf_id), hpke_aead(aead_id))
