"""Hybrid Public Key Encryption (RFC 9180), base mode, for every Cove cipher suite.

``cryptography`` offers single-shot HPKE only (no AAD, no context, no export,
no DeriveKeyPair), so Cove builds RFC 9180 from its primitives:

* KEMs (:mod:`.dhkem`, :mod:`.xwing`): DHKEM over P-256 ``0x0010``, P-384
  ``0x0011``, P-521 ``0x0012``, X25519 ``0x0020`` and X448 ``0x0021`` (§4.1),
  with DeriveKeyPair (§7.1.3), SerializePublicKey/SerializePrivateKey
  (§7.1.1, §7.1.2) and the input validation of §7.1.4; and the X-Wing hybrid
  MLKEM768-X25519 ``0x647a`` of draft-ietf-hpke-pq;
* KDFs (:mod:`.kdf`): HKDF-SHA256/384/512 ``0x0001``-``0x0003`` (two-stage)
  and SHAKE256 ``0x0011`` (one-stage, draft-ietf-hpke-pq §5);
* AEADs: AES-128-GCM ``0x0001``, AES-256-GCM ``0x0002``,
  ChaCha20-Poly1305 ``0x0003`` (§7.3);
* the base-mode key schedule (§5.1; its one-stage form from
  draft-ietf-hpke-hpke §5.1), SetupBaseS/SetupBaseR (§5.1.1), the context's
  Seal/Open with the sequence-number nonce (§5.2) and Export (§5.3), plus
  single-shot SealBase/OpenBase (§6.1).

PSK and Auth modes are not implemented. Functions here are deterministic: the
sender's ephemeral randomness ``ikmE`` (``kem.encap_random_length`` bytes) is
supplied by the caller. (X-Wing's ML-KEM half is the one exception, see
:mod:`.xwing`.)

Errors: a failed AEAD open, an invalid peer public key or a zero DH output
raises :class:`~cove.protocol.errors.CryptoError`; a malformed argument of our
own (wrong private-key length, an out-of-range length) raises
:class:`~cove.protocol.errors.UsageError`.
"""

from __future__ import annotations

from functools import cache
from typing import Final, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import CryptoError, StateError, UsageError
from .dhkem import (
    DHKEMS,
    KEM_P256_HKDF_SHA256,
    KEM_P384_HKDF_SHA384,
    KEM_P521_HKDF_SHA512,
    KEM_X448_HKDF_SHA512,
    KEM_X25519_HKDF_SHA256,
    P256_ORDER,
    DhKem,
    HpkeKem,
)
from .kdf import (
    KDF_HKDF_SHA256,
    KDF_HKDF_SHA384,
    KDF_HKDF_SHA512,
    KDF_SHAKE256,
    HpkeKdf,
    hkdf_expand,
    hkdf_extract,
    hpke_kdf,
)
from .xwing import KEM_MLKEM768_X25519, XWING_AVAILABLE, XWingKem

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "AEAD_EXPORT_ONLY",
    "KDF_HKDF_SHA256",
    "KDF_HKDF_SHA384",
    "KDF_HKDF_SHA512",
    "KDF_SHAKE256",
    "KEM_MLKEM768_X25519",
    "KEM_P256_HKDF_SHA256",
    "KEM_P384_HKDF_SHA384",
    "KEM_P521_HKDF_SHA512",
    "KEM_X448_HKDF_SHA512",
    "KEM_X25519_HKDF_SHA256",
    "MODE_BASE",
    "P256_ORDER",
    "DhKem",
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

AEAD_AES_128_GCM: Final = 0x0001
AEAD_AES_256_GCM: Final = 0x0002
AEAD_CHACHA20_POLY1305: Final = 0x0003
AEAD_EXPORT_ONLY: Final = 0xFFFF
MODE_BASE: Final = 0x00


# --------------------------------------------------------------------------- AEAD


class _AeadCipher(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class HpkeAead:
    """An AEAD of RFC 9180 §7.3 (all with a 16-byte tag appended to the ciphertext).

    ``factory=None`` is the export-only "AEAD" ``0xFFFF``: Nk = Nn = Nt = 0, and a
    context built on it can only Export.
    """

    __slots__ = ("_factory", "aead_id", "name", "nk", "nn", "nt")

    def __init__(
        self,
        aead_id: int,
        name: str,
        nk: int,
        factory: type[AESGCM] | type[ChaCha20Poly1305] | None,
    ) -> None:
        self.aead_id = aead_id
        self.name = name
        self.nk = nk
        self.nn = 12 if factory is not None else 0
        self.nt = 16 if factory is not None else 0
        self._factory = factory

    @property
    def export_only(self) -> bool:
        return self._factory is None

    def new(self, key: bytes) -> _AeadCipher:
        """A reusable cipher object for ``key``."""
        if self._factory is None:
            raise UsageError("the export-only HPKE AEAD cannot seal or open")
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
    AEAD_EXPORT_ONLY: HpkeAead(AEAD_EXPORT_ONLY, "export-only", 0, None),
}


def hpke_aead(aead_id: int) -> HpkeAead:
    try:
        return _AEADS[aead_id]
    except KeyError:
        raise UsageError(f"unsupported HPKE AEAD 0x{aead_id:04x}") from None


# --------------------------------------------------------------------------- KEM

_KEMS: Final[dict[int, HpkeKem]] = {**DHKEMS}
if XWING_AVAILABLE:
    _KEMS[KEM_MLKEM768_X25519] = XWingKem()


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
        self._cipher = None if suite.aead.export_only else suite.aead.new(key)
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
        if self._cipher is None:
            raise UsageError("an export-only HPKE context cannot seal")
        ciphertext = self._cipher.encrypt(self._next_nonce(), plaintext, aad)
        self._seq += 1
        return ciphertext

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        """ContextR.Open(aad, ct); :class:`CryptoError` on a bad tag."""
        if self._role != "receiver":
            raise UsageError("a sender HPKE context cannot open")
        if self._cipher is None:
            raise UsageError("an export-only HPKE context cannot open")
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
        if kdf.one_stage:
            # draft-ietf-hpke-hpke §5.3: Export_OneStage, L up to 65535.
            return kdf.labeled_derive(
                self._suite.suite_id, self._exporter_secret, b"sec", exporter_context, length
            )
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
        self._psk_id_hash = (
            b"" if kdf.one_stage else kdf.labeled_extract(self.suite_id, b"", b"psk_id_hash", b"")
        )

    def key_schedule_inputs(self, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
        """Base mode ``(key_schedule_context, secret)`` of §5.1 (two-stage KDFs)."""
        kdf = self.kdf
        info_hash = kdf.labeled_extract(self.suite_id, b"", b"info_hash", info)
        key_schedule_context = bytes((MODE_BASE,)) + self._psk_id_hash + info_hash
        secret = kdf.labeled_extract(self.suite_id, shared_secret, b"secret", b"")
        return key_schedule_context, secret

    def key_schedule(self, shared_secret: bytes, info: bytes, role: Role) -> HPKEContext:
        """KeySchedule<ROLE>(mode_base, shared_secret, info, "", "") (§5.1)."""
        kdf, sid = self.kdf, self.suite_id
        if kdf.one_stage:
            return self._key_schedule_one_stage(shared_secret, info, role)
        ksc, secret = self.key_schedule_inputs(shared_secret, info)
        key = kdf.labeled_expand(sid, secret, b"key", ksc, self.aead.nk)
        base_nonce = kdf.labeled_expand(sid, secret, b"base_nonce", ksc, self.aead.nn)
        exporter_secret = kdf.labeled_expand(sid, secret, b"exp", ksc, kdf.nh)
        return HPKEContext(self, role, key, base_nonce, exporter_secret)

    def _key_schedule_one_stage(self, shared_secret: bytes, info: bytes, role: Role) -> HPKEContext:
        # draft-ietf-hpke-hpke §5.1 CombineSecrets_OneStage, base mode (psk = psk_id = ""):
        #   secrets = lengthPrefixed("") || lengthPrefixed(shared_secret)
        #   context = mode || lengthPrefixed("") || lengthPrefixed(info)
        #   key || base_nonce || exporter_secret
        #       = LabeledDerive(secrets, "secret", context, Nk + Nn + Nh)
        kdf, aead = self.kdf, self.aead
        if len(info) > 0xFFFF:
            raise UsageError("HPKE info longer than 65535 bytes")
        secrets = b"\x00\x00" + len(shared_secret).to_bytes(2, "big") + shared_secret
        context = bytes((MODE_BASE,)) + b"\x00\x00" + len(info).to_bytes(2, "big") + info
        out = kdf.labeled_derive(
            self.suite_id, secrets, b"secret", context, aead.nk + aead.nn + kdf.nh
        )
        key, base_nonce = out[: aead.nk], out[aead.nk : aead.nk + aead.nn]
        return HPKEContext(self, role, key, base_nonce, out[aead.nk + aead.nn :])

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
        return f"HpkeSuite({self.kem.name}, {self.kdf.name}, {self.aead.name})"


@cache
def hpke_suite(kem_id: int, kdf_id: int, aead_id: int) -> HpkeSuite:
    """The (cached) HPKE suite for the three algorithm ids."""
    return HpkeSuite(hpke_kem(kem_id), hpke_kdf(kdf_id), hpke_aead(aead_id))
