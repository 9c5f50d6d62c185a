"""The cryptography of the local store: KDF, header, key wrapping, row sealing.

Pure functions and small value types, no I/O (``docs/client/local-store.md``
specifies every byte; keep the two in step)::

    passphrase --NFC, UTF-8--> Argon2id(salt, t, m, p) --> KEK (32 bytes)
    KEK --XChaCha20-Poly1305(nonce, AAD = header[0:39])--> wrapped data key (header)
    data key --HKDF-SHA256("... row encryption key")--> K_enc
             --HKDF-SHA256("... row index key")-----> K_idx
    (collection, key, partition) --HMAC-SHA256(K_idx, label || ...)--> stored tags
    (key, value) --pad (Padmé)--> --XChaCha20-Poly1305(K_enc, random nonce,
                                     AAD = label || collection || tags || order)--> stored value

Nothing here logs, prints or puts a secret in a ``repr`` or an exception.
"""

from __future__ import annotations

import hmac
import secrets
import struct
import unicodedata
from dataclasses import dataclass, field
from hashlib import sha256

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from .errors import StoreCorrupted, WrongPassphrase

__all__ = [
    "FORMAT_VERSION",
    "HEADER_LEN",
    "KDF_CEILING",
    "KDF_FLOOR",
    "MAGIC",
    "Header",
    "KdfParams",
    "StoreKeys",
    "argon2id",
    "check_kdf_params",
    "encode_passphrase",
    "new_header",
    "padme",
    "unwrap_data_key",
]

MAGIC = b"COVESTOR"
FORMAT_VERSION = 1
KDF_ARGON2ID = 1  # Argon2id, version 0x13 (RFC 9106)
SALT_LEN = 16
NONCE_LEN = 24  # XChaCha20-Poly1305
KEY_LEN = 32
TAG_LEN = 16  # Poly1305
WRAPPED_LEN = KEY_LEN + TAG_LEN

# magic(8) version(u16) kdf_id(u8) t(u32) m_kib(u32) p(u32) salt(16) | nonce(24) wrapped(48)
_PREFIX = struct.Struct(">8sHBIII16s")
HEADER_AAD_LEN = _PREFIX.size  # 39: everything before the nonce is the wrap's AAD
HEADER_LEN = HEADER_AAD_LEN + NONCE_LEN + WRAPPED_LEN  # 111

_INFO_ENC = b"cove-store v1 row encryption key"
_INFO_IDX = b"cove-store v1 row index key"
_LABEL_COLLECTION = b"cove-store v1 collection\x00"
_LABEL_KEY = b"cove-store v1 key\x00"
_LABEL_PARTITION = b"cove-store v1 partition\x00"
_LABEL_ROW = b"cove-store v1 row\x00"

TAG_SIZE = 32  # HMAC-SHA256 output, stored untruncated
MIN_PADDED = 64
_U32 = struct.Struct(">I")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


# -- KDF parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters (RFC 9106 §4 names: t, m in KiB, p).

    The default is RFC 9106's second recommended option (t=3, m=64 MiB, p=4).
    ``create`` and ``open`` refuse anything below :data:`KDF_FLOOR` unless the
    params come from :meth:`insecure_for_tests`.
    """

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4
    _insecure_for_tests: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def insecure_for_tests(cls) -> KdfParams:
        """Cheap parameters (t=1, 1 MiB, p=1) for tests. NEVER use them for a real store.

        They are accepted below the floor only because this constructor marks
        them; pass the result as ``kdf=`` to ``Store.create`` and as
        ``kdf_floor=`` to ``Store.open``.
        """
        params = cls(time_cost=1, memory_kib=1024, parallelism=1)
        object.__setattr__(params, "_insecure_for_tests", True)
        return params

    @property
    def is_insecure_for_tests(self) -> bool:
        return self._insecure_for_tests

    def __repr__(self) -> str:
        mark = ", INSECURE_FOR_TESTS" if self._insecure_for_tests else ""
        return (
            f"KdfParams(time_cost={self.time_cost}, memory_kib={self.memory_kib}, "
            f"parallelism={self.parallelism}{mark})"
        )


#: the weakest parameters a store may have (RFC 9106 second option; p=1 allowed)
KDF_FLOOR = KdfParams(time_cost=3, memory_kib=65536, parallelism=1)
#: the strongest a header may claim: above this an edited header could exhaust memory
#: or time before the tag check fails (4 GiB covers RFC 9106's first option, 2 GiB)
KDF_CEILING = KdfParams(time_cost=64, memory_kib=4 * 1024 * 1024, parallelism=64)


def _is_plain_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_kdf_params(params: KdfParams, floor: KdfParams) -> bool:
    """True if ``floor <= params <= KDF_CEILING`` field by field and Argon2 accepts them."""
    values = (params.time_cost, params.memory_kib, params.parallelism)
    if not all(_is_plain_int(v) for v in values):
        return False
    t, m, p = values
    return (
        max(1, floor.time_cost) <= t <= KDF_CEILING.time_cost
        and max(8 * p, floor.memory_kib) <= m <= KDF_CEILING.memory_kib
        and max(1, floor.parallelism) <= p <= KDF_CEILING.parallelism
    )


def encode_passphrase(passphrase: str) -> bytes:
    """NFC-normalize and UTF-8 encode (raises UnicodeError on lone surrogates)."""
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be str")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8", "strict")


def argon2id(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id v1.3, 32-byte output, no secret key K and no associated data X."""
    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_LEN,
        type=Type.ID,
        version=19,
    )


# -- header ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Header:
    """The store header: 111 bytes, see docs/client/local-store.md "Header"."""

    version: int
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    wrapped_key: bytes

    def aad(self) -> bytes:
        """Bytes 0..38: magic, version, KDF id and params, salt (the wrap's AAD)."""
        return _PREFIX.pack(
            MAGIC,
            self.version,
            KDF_ARGON2ID,
            self.kdf.time_cost,
            self.kdf.memory_kib,
            self.kdf.parallelism,
            self.salt,
        )

    def encode(self) -> bytes:
        return self.aad() + self.nonce + self.wrapped_key

    @classmethod
    def decode(cls, data: bytes) -> Header:
        """Parse; StoreCorrupted on a wrong length, magic, version or KDF id."""
        if not isinstance(data, bytes) or len(data) != HEADER_LEN:
            raise StoreCorrupted("store header has the wrong length")
        magic, version, kdf_id, t, m, p, salt = _PREFIX.unpack_from(data)
        if magic != MAGIC:
            raise StoreCorrupted("store header has the wrong magic")
        if version != FORMAT_VERSION:
            raise StoreCorrupted("unsupported store format version")
        if kdf_id != KDF_ARGON2ID:
            raise StoreCorrupted("unsupported key derivation function")
        nonce = data[HEADER_AAD_LEN : HEADER_AAD_LEN + NONCE_LEN]
        wrapped = data[HEADER_AAD_LEN + NONCE_LEN :]
        return cls(version, KdfParams(t, m, p), salt, nonce, wrapped)

    def __repr__(self) -> str:
        return f"Header(version={self.version}, kdf={self.kdf!r}, salt=<16 bytes>, key=<wrapped>)"


def new_header(kek: bytes, data_key: bytes, kdf: KdfParams, salt: bytes) -> Header:
    """Wrap ``data_key`` under ``kek`` with a fresh random nonce."""
    draft = Header(FORMAT_VERSION, kdf, salt, b"", b"")
    nonce = secrets.token_bytes(NONCE_LEN)
    wrapped = crypto_aead_xchacha20poly1305_ietf_encrypt(data_key, draft.aad(), nonce, kek)
    return Header(FORMAT_VERSION, kdf, salt, nonce, wrapped)


def unwrap_data_key(kek: bytes, header: Header) -> bytes:
    """The data key, or WrongPassphrase (one generic error for every failure)."""
    try:
        key = crypto_aead_xchacha20poly1305_ietf_decrypt(
            header.wrapped_key, header.aad(), header.nonce, kek
        )
    except CryptoError:
        raise WrongPassphrase() from None
    if len(key) != KEY_LEN:  # impossible unless the writer was broken
        raise WrongPassphrase()
    return key


# -- rows -----------------------------------------------------------------------------


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019): pad to a length that leaks O(log log L) bits.

    Overhead is at most about 12 %; lengths below 2 are returned unchanged.
    """
    if length < 2:
        return length
    e = length.bit_length() - 1  # floor(log2 L)
    s = e.bit_length()  # floor(log2 e) + 1
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def _order_field(order: int | None) -> bytes:
    if order is None:
        return b"\x00" + bytes(8)
    return b"\x01" + order.to_bytes(8, "big", signed=True)


class StoreKeys:
    """The data key and its two subkeys; the only holder of key material.

    ``repr`` is redacted. Python cannot guarantee that copies of key bytes are
    wiped from memory; :meth:`forget` drops this object's references.
    """

    __slots__ = ("_data_key", "_enc_key", "_idx")

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != KEY_LEN:
            raise ValueError("data key must be 32 bytes")
        self._data_key = data_key
        self._enc_key = _hkdf(data_key, _INFO_ENC)
        self._idx = hmac.new(_hkdf(data_key, _INFO_IDX), digestmod=sha256)

    @classmethod
    def generate(cls) -> StoreKeys:
        return cls(secrets.token_bytes(KEY_LEN))

    @property
    def data_key(self) -> bytes:
        return self._data_key

    def forget(self) -> None:
        self._data_key = b""
        self._enc_key = b""
        self._idx = hmac.new(b"\x00" * KEY_LEN, digestmod=sha256)

    def __repr__(self) -> str:
        return "StoreKeys(<redacted>)"

    # tags: HMAC-SHA256(K_idx, label || u8 len(collection) || collection || data)

    def _tag(self, label: bytes, collection: bytes, data: bytes) -> bytes:
        h = self._idx.copy()
        h.update(label + bytes([len(collection)]) + collection + data)
        return h.digest()

    def collection_tag(self, collection: bytes) -> bytes:
        return self._tag(_LABEL_COLLECTION, collection, b"")

    def key_tag(self, collection: bytes, key: bytes) -> bytes:
        return self._tag(_LABEL_KEY, collection, key)

    def partition_tag(self, collection: bytes, partition: bytes) -> bytes:
        return self._tag(_LABEL_PARTITION, collection, partition)

    # row values: nonce(24) || XChaCha20-Poly1305(K_enc, nonce, padded, AAD)

    @staticmethod
    def _row_aad(collection: bytes, key_tag: bytes, part_tag: bytes, order: int | None) -> bytes:
        return (
            _LABEL_ROW
            + bytes([len(collection)])
            + collection
            + key_tag
            + part_tag
            + _order_field(order)
        )

    def seal_row(
        self,
        collection: bytes,
        key_tag: bytes,
        part_tag: bytes,
        order: int | None,
        key: bytes,
        value: bytes,
    ) -> bytes:
        body = _U32.pack(len(key)) + key + _U32.pack(len(value)) + value
        padded = body + bytes(padme(max(len(body), MIN_PADDED)) - len(body))
        nonce = secrets.token_bytes(NONCE_LEN)
        aad = self._row_aad(collection, key_tag, part_tag, order)
        return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(padded, aad, nonce, self._enc_key)

    def open_row(
        self, collection: bytes, key_tag: bytes, part_tag: bytes, order: int | None, blob: bytes
    ) -> tuple[bytes, bytes]:
        """(key, value) of a stored row, or StoreCorrupted.

        The embedded key is checked against ``key_tag`` too (a second line of
        defence: the AEAD already binds the row to its tags).
        """
        if len(blob) < NONCE_LEN + TAG_LEN + MIN_PADDED:
            raise StoreCorrupted("row failed authentication")
        aad = self._row_aad(collection, key_tag, part_tag, order)
        try:
            padded = crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[NONCE_LEN:], aad, blob[:NONCE_LEN], self._enc_key
            )
        except CryptoError:
            raise StoreCorrupted("row failed authentication") from None
        try:
            (klen,) = _U32.unpack_from(padded, 0)
            key = padded[4 : 4 + klen]
            (vlen,) = _U32.unpack_from(padded, 4 + klen)
            end = 8 + klen + vlen
        except struct.error:
            raise StoreCorrupted("row has a malformed body") from None
        if len(key) != klen or end > len(padded) or any(padded[end:]):
            raise StoreCorrupted("row has a malformed body")
        if not hmac.compare_digest(self.key_tag(collection, key), key_tag):
            raise StoreCorrupted("row key does not match its index")
        return key, padded[8 + klen : end]


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), empty salt (= 32 zero bytes), 32-byte output."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=None, info=info).derive(ikm)


def check_order(order: int | None, name: str = "order") -> None:
    if order is None:
        return
    if not _is_plain_int(order):
        raise TypeError(f"{name} must be int or None")
    if not _I64_MIN <= order <= _I64_MAX:
        raise ValueError(f"{name} must fit in a signed 64-bit integer")
