"""Attachment encryption: chunked online AEAD (STREAM) with a key commitment.

Every attachment gets a fresh random 32-byte file key (:func:`new_attachment_key`).
The key, the SHA-256 of the ciphertext, the plaintext size and the chunk size
travel inside the MLS-encrypted app record (``AttachmentRef``); the relay stores
only the ciphertext. The construction is the STREAM scheme of Hoang,
Reyhanitabar, Rogaway and Vizár ("Online Authenticated-Encryption and its
Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over ChaCha20-Poly1305 (RFC 8439)::

    K_aead     = HMAC-SHA256(key, "cove attachment v1 aead key")
    commitment = HMAC-SHA256(key, "cove attachment v1 key commitment")
    P'         = P || 0x00 * (padded_length(len(P), 4096) - len(P))
    P'_i       = P'[i*chunk_size : (i+1)*chunk_size]          for i = 0 .. n-1
    N_i        = 0x00 * 7 || uint32_be(i) || (0x01 if i == n-1 else 0x00)
    AD_i       = "cove attachment v1" || uint32_be(chunk_size)              for i < n-1
    AD_{n-1}   = "cove attachment v1" || uint32_be(chunk_size) || uint64_be(len(P))
    C_i        = ChaCha20-Poly1305(K_aead).seal(N_i, AD_i, P'_i)  # |P'_i| + 16 bytes
    blob       = commitment || C_0 || ... || C_{n-1}

``n = ceil(len(P') / chunk_size)`` (at least 1: ``P'`` is never empty), so every
chunk but the last holds exactly ``chunk_size`` plaintext bytes and the last
holds 1 to ``chunk_size``. What each part stops:

* the counter in the nonce: reordering, dropping or repeating chunks;
* the last-chunk flag: truncation at a chunk boundary, and appending chunks;
* ``chunk_size`` in the associated data: decrypting with another chunking;
* the plaintext length in the last chunk's associated data: reading padding
  as data (or data as padding), so a blob and its key fix the plaintext;
* the key (fresh per file) and the commitment: moving chunks between files,
  and one ciphertext that opens under two keys ("invisible salamanders");
* the SHA-256 of the whole blob, carried in the signed record and checked at
  :meth:`AttachmentDecryptor.finish`: any change at all, before the last
  chunk is released;
* the padding (zero bytes, checked on decryption) hides the exact size from
  the relay: plaintext lengths are rounded up by :func:`padded_length`.

Plaintext chunks are released only after their tag verified, but the whole
attachment is confirmed only when ``finish()`` returns: write the output to a
temporary place and use it only then. ``docs/protocol/app-content.md`` has the
byte-by-byte description.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..errors import CryptoError, UsageError
from .rng import RandomProvider

__all__ = [
    "ATTACHMENT_PADDING_MIN",
    "COMMITMENT_LEN",
    "DEFAULT_CHUNK_SIZE",
    "KEY_LEN",
    "MAX_ATTACHMENT_SIZE",
    "MAX_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "TAG_LEN",
    "AttachmentDecryptor",
    "AttachmentEncryptor",
    "ciphertext_length",
    "decrypt_attachment",
    "encrypt_attachment",
    "largest_plaintext",
    "new_attachment_key",
    "padded_length",
]

#: Length of a file key (and of the key commitment, and of a SHA-256).
KEY_LEN: Final = 32
COMMITMENT_LEN: Final = 32
#: Poly1305 tag appended to every chunk.
TAG_LEN: Final = 16
#: Bounds and default of the chunk size (plaintext bytes per chunk).
MIN_CHUNK_SIZE: Final = 1024
MAX_CHUNK_SIZE: Final = 1024 * 1024
DEFAULT_CHUNK_SIZE: Final = 64 * 1024
#: Plaintexts are padded to at least this many bytes.
ATTACHMENT_PADDING_MIN: Final = 4096
#: Largest plaintext (1 TiB); with MIN_CHUNK_SIZE that is 2^30 chunks, under 2^32.
MAX_ATTACHMENT_SIZE: Final = 1 << 40

_LABEL: Final = b"cove attachment v1"
_AEAD_KEY_INFO: Final = _LABEL + b" aead key"
_COMMITMENT_INFO: Final = _LABEL + b" key commitment"
_NONCE_PREFIX: Final = bytes(7)
_MAX_CHUNKS: Final = 1 << 32


def padded_length(length: int, minimum: int) -> int:
    """``length`` rounded up to a number with at most three significant bits.

    The result is at least ``minimum`` and has the form ``m * 2**k`` with
    ``m`` in 4..7 (for results of 4 and more): 512, 640, 768, 896, 1024, 1280,
    ... Each step is at most a quarter of the value below it, so padding adds
    less than 25 % while a length reveals only which of about four buckets per
    doubling it fell in. Used for app records and attachments alike.
    """
    if type(length) is not int or type(minimum) is not int or length < 0 or minimum < 0:
        raise UsageError("padded_length needs non-negative ints")
    n = max(length, minimum)
    if n < 8:
        return n
    shift = n.bit_length() - 3
    mask = (1 << shift) - 1
    return (n + mask) & ~mask


def _chunk_count(padded: int, chunk_size: int) -> int:
    return -(-padded // chunk_size)


def ciphertext_length(size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Length of the blob that a ``size``-byte plaintext encrypts to."""
    _check_chunk_size(chunk_size)
    _check_size(size)
    padded = padded_length(size, ATTACHMENT_PADDING_MIN)
    return COMMITMENT_LEN + padded + TAG_LEN * _chunk_count(padded, chunk_size)


def largest_plaintext(blob_limit: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """The largest plaintext whose encrypted blob is at most ``blob_limit`` bytes."""
    lo, hi = 0, min(blob_limit, MAX_ATTACHMENT_SIZE)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ciphertext_length(mid, chunk_size) <= blob_limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def new_attachment_key(rng: RandomProvider) -> bytes:
    """A fresh 32-byte file key. Never encrypt two files under one key."""
    key = rng.random_bytes(KEY_LEN)
    if type(key) is not bytes or len(key) != KEY_LEN:
        raise UsageError("the random provider returned the wrong number of bytes")
    return key


def _check_key(key: object) -> bytes:
    if type(key) is not bytes or len(key) != KEY_LEN:
        raise UsageError(f"an attachment key is {KEY_LEN} bytes")
    return key


def _check_chunk_size(chunk_size: object) -> int:
    if type(chunk_size) is not int or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise UsageError(f"chunk_size must be an int in {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    return chunk_size


def _check_size(size: object) -> int:
    if type(size) is not int or not 0 <= size <= MAX_ATTACHMENT_SIZE:
        raise UsageError(f"an attachment size is an int in 0..{MAX_ATTACHMENT_SIZE}")
    return size


def _as_bytes(data: object) -> bytes | bytearray:
    if isinstance(data, bytes | bytearray):
        return data
    if isinstance(data, memoryview):
        return data.tobytes()  # counts bytes whatever the view's item format
    raise UsageError("push() takes bytes")


class _Keys:
    """The per-file AEAD object, commitment and associated data."""

    __slots__ = ("aad", "aead", "commitment")

    def __init__(self, key: bytes, chunk_size: int) -> None:
        self.aead = ChaCha20Poly1305(hmac.digest(key, _AEAD_KEY_INFO, "sha256"))
        self.commitment = hmac.digest(key, _COMMITMENT_INFO, "sha256")
        self.aad = _LABEL + chunk_size.to_bytes(4, "big")

    def last_aad(self, size: int) -> bytes:
        return self.aad + size.to_bytes(8, "big")

    @staticmethod
    def nonce(counter: int, last: bool) -> bytes:
        return _NONCE_PREFIX + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class AttachmentEncryptor:
    """Encrypts one attachment incrementally with bounded memory.

    ``push(data)`` returns the ciphertext that is ready (possibly ``b""``): one
    full chunk is always held back, because only ``finish()`` knows which chunk
    is last. ``finish()`` pads, seals the remaining chunks and returns them;
    afterwards :attr:`sha256`, :attr:`size` and :attr:`ciphertext_size` give
    what goes into the ``AttachmentRef``. The key must be fresh for this file.
    """

    __slots__ = (
        "_buf",
        "_chunk_size",
        "_counter",
        "_digest",
        "_done",
        "_header_sent",
        "_keys",
        "_out_len",
        "_size",
    )

    def __init__(self, key: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._chunk_size = _check_chunk_size(chunk_size)
        self._keys = _Keys(_check_key(key), chunk_size)
        self._buf = bytearray()
        self._counter = 0
        self._size = 0
        self._out_len = 0
        self._digest = hashlib.sha256()
        self._header_sent = False
        self._done = False

    def _seal(self, chunk: bytes | bytearray, last: bool) -> bytes:
        if self._counter >= _MAX_CHUNKS:  # pragma: no cover - needs 2^32 chunks
            raise UsageError("attachment too large for its chunk size")
        out = self._keys.aead.encrypt(
            self._keys.nonce(self._counter, last),
            bytes(chunk),
            self._keys.last_aad(self._size) if last else self._keys.aad,
        )
        self._counter += 1
        return out

    def _emit(self, parts: list[bytes]) -> bytes:
        if not self._header_sent:
            parts.insert(0, self._keys.commitment)
            self._header_sent = True
        out = b"".join(parts)
        self._digest.update(out)
        self._out_len += len(out)
        return out

    def push(self, data: bytes | bytearray | memoryview) -> bytes:
        """Add plaintext; returns the ciphertext produced so far (maybe empty)."""
        if self._done:
            raise UsageError("push() after finish()")
        view = _as_bytes(data)
        if self._size + len(view) > MAX_ATTACHMENT_SIZE:
            raise UsageError(f"attachments are at most {MAX_ATTACHMENT_SIZE} bytes")
        self._size += len(view)
        self._buf += view
        cs = self._chunk_size
        parts: list[bytes] = []
        # Keep at least one full chunk back: it may turn out to be the last.
        full = (len(self._buf) - 1) // cs if self._buf else 0
        for i in range(full):
            parts.append(self._seal(self._buf[i * cs : (i + 1) * cs], last=False))
        if full:
            del self._buf[: full * cs]
        return self._emit(parts) if parts or not self._header_sent else b""

    def finish(self) -> bytes:
        """Pad, seal the rest (the last chunk flagged) and return it."""
        if self._done:
            raise UsageError("finish() called twice")
        self._done = True
        cs = self._chunk_size
        padded = padded_length(self._size, ATTACHMENT_PADDING_MIN)
        remaining = len(self._buf) + (padded - self._size)
        parts: list[bytes] = []
        buf = self._buf
        while remaining > 0:
            take = min(cs, remaining)
            if len(buf) < take:
                buf += bytes(take - len(buf))
            remaining -= take
            parts.append(self._seal(buf[:take], last=remaining == 0))
            del buf[:take]
        return self._emit(parts)

    def _finished(self) -> None:
        if not self._done:
            raise UsageError("available after finish()")

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the whole ciphertext (``AttachmentRef.sha256``)."""
        self._finished()
        return self._digest.digest()

    @property
    def size(self) -> int:
        """Plaintext bytes pushed (``AttachmentRef.size``)."""
        return self._size

    @property
    def ciphertext_size(self) -> int:
        """Bytes of ciphertext returned in total."""
        self._finished()
        return self._out_len


class AttachmentDecryptor:
    """Decrypts one attachment incrementally, checking as it goes.

    ``size`` is the plaintext size from the ``AttachmentRef``: with
    ``chunk_size`` it fixes the exact blob length, so extra bytes are refused
    as soon as they arrive and a short blob at ``finish()``. ``push`` returns
    plaintext of chunks whose tags verified; ``finish`` checks the SHA-256 of
    the whole blob before it decrypts and releases the last chunk.

    :class:`~cove.protocol.errors.CryptoError` for a wrong key, a changed,
    reordered, truncated or extended blob, bad padding or a hash mismatch; the
    decryptor is then unusable (:class:`~cove.protocol.errors.UsageError`).
    """

    __slots__ = (
        "_buf",
        "_chunk_size",
        "_counter",
        "_digest",
        "_expected_sha256",
        "_header_ok",
        "_keys",
        "_n_chunks",
        "_received",
        "_released",
        "_size",
        "_state",
        "_total",
    )

    def __init__(self, key: bytes, chunk_size: int, expected_sha256: bytes, size: int) -> None:
        self._chunk_size = _check_chunk_size(chunk_size)
        self._keys = _Keys(_check_key(key), chunk_size)
        if type(expected_sha256) is not bytes or len(expected_sha256) != 32:
            raise UsageError("expected_sha256 is 32 bytes")
        self._expected_sha256 = expected_sha256
        self._size = _check_size(size)
        padded = padded_length(size, ATTACHMENT_PADDING_MIN)
        self._n_chunks = _chunk_count(padded, chunk_size)
        self._total = COMMITMENT_LEN + padded + TAG_LEN * self._n_chunks
        self._buf = bytearray()
        self._digest = hashlib.sha256()
        self._received = 0
        self._released = 0
        self._counter = 0
        self._header_ok = False
        self._state = "open"

    def _fail(self, what: str) -> CryptoError:
        self._state = "failed"
        self._buf.clear()
        return CryptoError(f"attachment: {what}")

    def _check_state(self) -> None:
        if self._state == "failed":
            raise UsageError("the decryptor failed earlier")
        if self._state == "done":
            raise UsageError("the decryptor is finished")

    def _open(self, chunk: bytes, last: bool) -> bytes:
        try:
            plain = self._keys.aead.decrypt(
                self._keys.nonce(self._counter, last),
                chunk,
                self._keys.last_aad(self._size) if last else self._keys.aad,
            )
        except InvalidTag:
            raise self._fail("a chunk does not authenticate") from None
        self._counter += 1
        # Release real bytes; the padding after them must be zero.
        keep = max(0, min(len(plain), self._size - self._released))
        if any(plain[keep:]):
            raise self._fail("bad padding")
        self._released += keep
        return plain[:keep]

    def push(self, ciphertext: bytes | bytearray | memoryview) -> bytes:
        """Add ciphertext; returns the plaintext of newly authenticated chunks."""
        self._check_state()
        view = _as_bytes(ciphertext)
        if self._received + len(view) > self._total:
            raise self._fail("longer than its size says")
        self._received += len(view)
        self._digest.update(view)
        self._buf += view
        if not self._header_ok:
            if len(self._buf) < COMMITMENT_LEN:
                return b""
            if not hmac.compare_digest(bytes(self._buf[:COMMITMENT_LEN]), self._keys.commitment):
                raise self._fail("wrong key")
            del self._buf[:COMMITMENT_LEN]
            self._header_ok = True
        step = self._chunk_size + TAG_LEN
        out: list[bytes] = []
        # Every chunk but the last is full; the last is opened in finish().
        while self._counter < self._n_chunks - 1 and len(self._buf) >= step:
            out.append(self._open(bytes(self._buf[:step]), last=False))
            del self._buf[:step]
        return b"".join(out)

    def finish(self) -> bytes:
        """Check length and hash, then open and return the last chunk."""
        self._check_state()
        if self._received != self._total or not self._header_ok:
            raise self._fail("truncated")
        if not hmac.compare_digest(self._digest.digest(), self._expected_sha256):
            raise self._fail("hash mismatch")
        last = self._open(bytes(self._buf), last=True)
        self._buf.clear()
        if self._counter != self._n_chunks or self._released != self._size:
            raise self._fail("truncated")  # pragma: no cover - implied by the length check
        self._state = "done"
        return last


def encrypt_attachment(key: bytes, plaintext: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> bytes:
    """One-shot :class:`AttachmentEncryptor`; the caller hashes the result."""
    enc = AttachmentEncryptor(key, chunk_size)
    return enc.push(plaintext) + enc.finish()


def decrypt_attachment(
    key: bytes, ciphertext: bytes, chunk_size: int, expected_sha256: bytes, size: int
) -> bytes:
    """One-shot :class:`AttachmentDecryptor` (the hash is checked first)."""
    dec = AttachmentDecryptor(key, chunk_size, expected_sha256, size)
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise UsageError("ciphertext must be bytes")
    if not hmac.compare_digest(hashlib.sha256(ciphertext).digest(), expected_sha256):
        raise CryptoError("attachment: hash mismatch")
    return dec.push(ciphertext) + dec.finish()
