"""Attachment encryption (cove.protocol.crypto.stream): round trips, streaming,
the construction byte for byte, and every tampering refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.crypto import FixedRandom, SeededRandom
from cove.protocol.crypto.stream import (
    ATTACHMENT_PADDING_MIN,
    COMMITMENT_LEN,
    DEFAULT_CHUNK_SIZE,
    MAX_ATTACHMENT_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    TAG_LEN,
    AttachmentDecryptor,
    AttachmentEncryptor,
    ciphertext_length,
    decrypt_attachment,
    encrypt_attachment,
    new_attachment_key,
    padded_length,
)
from cove.protocol.errors import CryptoError, UsageError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CS = MIN_CHUNK_SIZE  # small chunks: many boundaries in little data


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def data(n: int, seed: int = 0) -> bytes:
    return SeededRandom(seed).random_bytes(n)


def split(blob: bytes, chunk_size: int = CS) -> tuple[bytes, list[bytes]]:
    """The commitment and the sealed chunks of a blob."""
    step = chunk_size + TAG_LEN
    body = blob[COMMITMENT_LEN:]
    return blob[:COMMITMENT_LEN], [body[i : i + step] for i in range(0, len(body), step)]


def reference_encrypt(key: bytes, plaintext: bytes, chunk_size: int) -> bytes:
    """The construction exactly as docs/protocol/app-content.md §7 writes it."""
    aead = ChaCha20Poly1305(hmac.new(key, b"cove attachment v1 aead key", "sha256").digest())
    commitment = hmac.new(key, b"cove attachment v1 key commitment", "sha256").digest()
    padded = plaintext + bytes(padded_length(len(plaintext), 4096) - len(plaintext))
    chunks = [padded[i : i + chunk_size] for i in range(0, len(padded), chunk_size)]
    ad = b"cove attachment v1" + chunk_size.to_bytes(4, "big")
    out = [commitment]
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        nonce = bytes(7) + i.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        out.append(
            aead.encrypt(nonce, chunk, ad + len(plaintext).to_bytes(8, "big") if last else ad)
        )
    return b"".join(out)


def open_blob(
    blob: bytes,
    *,
    key: bytes = KEY,
    chunk_size: int = CS,
    size: int,
    digest: bytes | None = None,
) -> bytes:
    """Decrypt through the streaming API (hash defaults to the blob's own)."""
    dec = AttachmentDecryptor(key, chunk_size, sha(blob) if digest is None else digest, size)
    return dec.push(blob) + dec.finish()


# -- padding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "minimum", "expected"),
    [
        (0, 512, 512),
        (1, 512, 512),
        (512, 512, 512),
        (513, 512, 640),
        (640, 512, 640),
        (641, 512, 768),
        (1000, 512, 1024),
        (1025, 512, 1280),
        (4097, 512, 5120),
        (0, 4096, 4096),
        (4096, 4096, 4096),
        (4097, 4096, 5120),
        (7 * 2**20 + 1, 4096, 8 * 2**20),
        (5, 0, 5),
    ],
)
def test_padded_length_table(n: int, minimum: int, expected: int) -> None:
    assert padded_length(n, minimum) == expected


@given(st.integers(0, 2**45), st.sampled_from([0, 512, 4096]))
def test_padded_length_buckets(n: int, minimum: int) -> None:
    p = padded_length(n, minimum)
    assert p >= max(n, minimum)
    assert padded_length(p, minimum) == p  # a bucket pads to itself
    if p >= 8:
        assert p >> (p.bit_length() - 3) << (p.bit_length() - 3) == p  # <= 3 significant bits
    if n > minimum:
        assert p < n * 1.25 + 1  # under 25 % overhead
    assert padded_length(n + 1, minimum) >= p  # monotone


@pytest.mark.parametrize("bad", [-1, 1.0, True, "1", None])
def test_padded_length_refuses_non_ints(bad: object) -> None:
    with pytest.raises(UsageError):
        padded_length(bad, 512)  # type: ignore[arg-type]


def test_blob_lengths_fall_in_buckets() -> None:
    # Sizes in one bucket give blobs of one length; the relay learns the bucket only.
    lengths = {len(encrypt_attachment(KEY, data(n), CS)) for n in (0, 1, 100, 4000, 4096)}
    assert lengths == {COMMITMENT_LEN + 4096 + 4 * TAG_LEN}
    assert len(encrypt_attachment(KEY, data(4097), CS)) == COMMITMENT_LEN + 5120 + 5 * TAG_LEN


# -- round trips -----------------------------------------------------------------


@pytest.mark.parametrize(
    "n", [0, 1, CS - 1, CS, CS + 1, 4095, 4096, 4097, 5 * CS, 5120, 5121, 20_000]
)
@pytest.mark.parametrize("chunk_size", [MIN_CHUNK_SIZE, 1500, 4096, DEFAULT_CHUNK_SIZE])
def test_round_trip(n: int, chunk_size: int) -> None:
    plain = data(n, n)
    enc = AttachmentEncryptor(KEY, chunk_size)
    blob = enc.push(plain) + enc.finish()
    assert len(blob) == ciphertext_length(n, chunk_size) == enc.ciphertext_size
    assert enc.sha256 == sha(blob) and enc.size == n
    assert blob == encrypt_attachment(KEY, plain, chunk_size)
    assert decrypt_attachment(KEY, blob, chunk_size, sha(blob), n) == plain
    assert open_blob(blob, chunk_size=chunk_size, size=n) == plain


def test_largest_chunk_size() -> None:
    plain = data(MAX_CHUNK_SIZE + 10)
    blob = encrypt_attachment(KEY, plain, MAX_CHUNK_SIZE)
    padded = padded_length(len(plain), ATTACHMENT_PADDING_MIN)
    assert len(blob) == COMMITMENT_LEN + padded + 2 * TAG_LEN
    assert decrypt_attachment(KEY, blob, MAX_CHUNK_SIZE, sha(blob), len(plain)) == plain


def test_empty_file() -> None:
    blob = encrypt_attachment(KEY, b"", CS)
    assert len(blob) == COMMITMENT_LEN + ATTACHMENT_PADDING_MIN + 4 * TAG_LEN
    assert decrypt_attachment(KEY, blob, CS, sha(blob), 0) == b""
    enc = AttachmentEncryptor(KEY, CS)  # finish() without any push()
    assert enc.finish() == blob


def test_construction_byte_for_byte() -> None:
    for n in (0, 5, 4096, 9000):
        plain = data(n, 7)
        assert encrypt_attachment(KEY, plain, CS) == reference_encrypt(KEY, plain, CS)


def test_known_answer() -> None:
    # Pins the format: this value is also printed in docs/protocol/app-content.md.
    blob = encrypt_attachment(bytes(32), b"cove", MIN_CHUNK_SIZE)
    assert len(blob) == 4192
    assert blob[:COMMITMENT_LEN].hex() == (
        hmac.new(bytes(32), b"cove attachment v1 key commitment", "sha256").hexdigest()
    )
    assert sha(blob).hex() == KNOWN_SHA256


KNOWN_SHA256 = "f524cf4a7d4b040ae27772fde10e87f843ee1f178e7c51a4589e0a05ce1413be"


def test_fresh_keys() -> None:
    a, b = new_attachment_key(SeededRandom(1)), new_attachment_key(SeededRandom(2))
    assert len(a) == len(b) == 32 and a != b
    assert new_attachment_key(FixedRandom(KEY)) == KEY
    with pytest.raises(UsageError):
        new_attachment_key(FixedRandom(b"short"))


def test_different_keys_different_blobs() -> None:
    plain = data(3000)
    assert encrypt_attachment(KEY, plain, CS) != encrypt_attachment(OTHER_KEY, plain, CS)


# -- streaming -------------------------------------------------------------------


def cut(blob: bytes, sizes: list[int]) -> list[bytes]:
    out, i = [], 0
    for s in sizes:
        out.append(blob[i : i + s])
        i += s
    out.append(blob[i:])
    return out


@settings(deadline=None)
@given(
    n=st.integers(0, 6 * CS),
    chunk_size=st.sampled_from([MIN_CHUNK_SIZE, 1025, 2048, 3000]),
    enc_cuts=st.lists(st.integers(0, 2 * CS), max_size=12),
    dec_cuts=st.lists(st.integers(0, 2 * CS), max_size=12),
)
def test_streaming_with_any_push_sizes(
    n: int, chunk_size: int, enc_cuts: list[int], dec_cuts: list[int]
) -> None:
    plain = data(n, n)
    enc = AttachmentEncryptor(KEY, chunk_size)
    blob = b"".join(enc.push(p) for p in cut(plain, enc_cuts)) + enc.finish()
    assert blob == encrypt_attachment(KEY, plain, chunk_size)
    dec = AttachmentDecryptor(KEY, chunk_size, sha(blob), n)
    released = b""
    for piece in cut(blob, dec_cuts):
        released += dec.push(piece)
        assert plain.startswith(released)
    assert released + dec.finish() == plain


def test_push_accepts_bytearray_and_memoryview() -> None:
    plain = data(5000)
    enc = AttachmentEncryptor(KEY, CS)
    blob = enc.push(bytearray(plain[:10])) + enc.push(memoryview(plain)[10:]) + enc.finish()
    assert blob == encrypt_attachment(KEY, plain, CS)
    dec = AttachmentDecryptor(KEY, CS, sha(blob), 5000)
    assert dec.push(memoryview(blob)) + dec.finish() == plain
    # a view of 4-byte items still counts bytes
    wide = memoryview(plain[:4000]).cast("I")
    enc = AttachmentEncryptor(KEY, CS)
    assert enc.push(wide) + enc.finish() == encrypt_attachment(KEY, plain[:4000], CS)
    assert enc.size == 4000


def test_encryptor_output_is_incremental() -> None:
    enc = AttachmentEncryptor(KEY, CS)
    first = enc.push(b"x")
    assert len(first) == COMMITMENT_LEN  # the commitment, no chunk yet
    assert enc.push(bytes(CS - 1)) == b""  # one full chunk is held back
    assert len(enc.push(b"y")) == CS + TAG_LEN  # now chunk 0 cannot be the last
    assert len(enc.push(bytes(3 * CS))) == 3 * (CS + TAG_LEN)


def test_decryptor_releases_only_authenticated_chunks() -> None:
    plain = data(3 * CS)
    blob = encrypt_attachment(KEY, plain, CS)
    dec = AttachmentDecryptor(KEY, CS, sha(blob), len(plain))
    assert dec.push(blob[: COMMITMENT_LEN + CS + TAG_LEN - 1]) == b""  # chunk 0 incomplete
    assert (
        dec.push(blob[COMMITMENT_LEN + CS + TAG_LEN - 1 : COMMITMENT_LEN + CS + TAG_LEN])
        == (plain[:CS])
    )


def test_last_chunk_released_only_after_the_hash_check() -> None:
    plain = data(3 * CS + 10)  # the last of the four chunks holds data
    blob = encrypt_attachment(KEY, plain, CS)
    dec = AttachmentDecryptor(KEY, CS, sha(blob + b"x"), len(plain))
    released = dec.push(blob)
    assert len(released) < len(plain)
    with pytest.raises(CryptoError):
        dec.finish()


# -- tampering -------------------------------------------------------------------

PLAIN = data(3 * CS + 100, 99)  # padded to 4096: four chunks of CS
BLOB = encrypt_attachment(KEY, PLAIN, CS)
N = len(PLAIN)


def refused(blob: bytes, **kwargs: object) -> None:
    """Refused whether or not the attacker could also replace the hash."""
    kwargs.setdefault("size", N)
    with pytest.raises(CryptoError):
        open_blob(blob, digest=sha(BLOB), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        open_blob(blob, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        decrypt_attachment(
            kwargs.get("key", KEY),  # type: ignore[arg-type]
            blob,
            kwargs.get("chunk_size", CS),  # type: ignore[arg-type]
            sha(BLOB),
            kwargs["size"],  # type: ignore[arg-type]
        )


def test_blob_shape() -> None:
    _, chunks = split(BLOB)
    assert len(chunks) == 4 and all(len(c) == CS + TAG_LEN for c in chunks)


def test_every_bit_position_flipped_is_refused() -> None:
    for i in range(len(BLOB)):
        bad = bytearray(BLOB)
        bad[i] ^= 1 << (i % 8)
        refused(bytes(bad))


def test_every_truncation_is_refused() -> None:
    for cut_at in range(len(BLOB)):
        refused(BLOB[:cut_at])


def test_truncation_at_every_chunk_boundary_with_a_large_file() -> None:
    plain = data(8 * CS)  # padded length 8 KiB: 8 chunks, so sizes can shrink chunk by chunk
    blob = encrypt_attachment(KEY, plain, CS)
    head, chunks = split(blob)
    assert len(chunks) == 8
    for keep in range(0, 8):
        short = head + b"".join(chunks[:keep])
        with pytest.raises(CryptoError):
            open_blob(short, size=len(plain))
    # The relay drops the last chunks and the size in the record shrinks to
    # match the shorter blob (4..7 KiB are whole buckets): the flag detects it.
    for keep in range(4, 8):
        short = head + b"".join(chunks[:keep])
        assert ciphertext_length(keep * CS, CS) == len(short)
        with pytest.raises(CryptoError, match="authenticate"):
            open_blob(short, size=keep * CS)


def test_appended_bytes_are_refused() -> None:
    _, chunks = split(BLOB)
    refused(BLOB + b"\x00")
    refused(BLOB + chunks[-1])
    refused(BLOB + BLOB)
    # extension with a size that matches the longer blob: the flag on the old
    # last chunk gives it away
    plain = data(5 * CS)
    blob5 = encrypt_attachment(KEY, plain, CS)
    h5, c5 = split(blob5)
    longer = h5 + b"".join(c5) + c5[-1]
    assert ciphertext_length(6 * CS, CS) == len(longer)
    with pytest.raises(CryptoError):
        open_blob(longer, size=6 * CS)


def test_reordered_chunks_are_refused() -> None:
    head, chunks = split(BLOB)
    for i in range(len(chunks)):
        for j in range(len(chunks)):
            if i != j:
                swapped = list(chunks)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                refused(head + b"".join(swapped))
    refused(head + b"".join([chunks[0], chunks[0], chunks[2], chunks[3]]))  # repeated


def test_chunks_swapped_between_two_files_are_refused() -> None:
    other = encrypt_attachment(OTHER_KEY, data(N, 5), CS)
    head, chunks = split(BLOB)
    other_head, other_chunks = split(other)
    for i in range(len(chunks)):
        mixed = list(chunks)
        mixed[i] = other_chunks[i]
        refused(head + b"".join(mixed))
    refused(other_head + b"".join(chunks))  # the other file's commitment


def test_wrong_key_is_refused_at_the_commitment() -> None:
    dec = AttachmentDecryptor(OTHER_KEY, CS, sha(BLOB), N)
    assert dec.push(BLOB[: COMMITMENT_LEN - 1]) == b""
    with pytest.raises(CryptoError, match="wrong key"):
        dec.push(BLOB[COMMITMENT_LEN - 1 :])
    refused(BLOB, key=OTHER_KEY)


def test_wrong_hash_is_refused() -> None:
    with pytest.raises(CryptoError, match="hash"):
        decrypt_attachment(KEY, BLOB, CS, sha(b"other"), N)
    with pytest.raises(CryptoError, match="hash"):
        open_blob(BLOB, size=N, digest=sha(b"other"))


def test_wrong_chunk_size_is_refused() -> None:
    blob = encrypt_attachment(KEY, data(4096), 2048)  # two chunks of 2048
    blob_1k = encrypt_attachment(KEY, data(4096), 1024)
    assert len(blob) != len(blob_1k)
    with pytest.raises(CryptoError):
        open_blob(blob, chunk_size=1024, size=4096)
    # same total length (one chunk of 4096 or of 8192 covers it): the AD differs
    one = encrypt_attachment(KEY, data(4096), 4096)
    assert ciphertext_length(4096, 8192) == len(one)
    with pytest.raises(CryptoError):
        open_blob(one, chunk_size=8192, size=4096)


def test_wrong_size_is_refused() -> None:
    # Same bucket, so the same length: a smaller size meets data where padding
    # should be (padding check) or the size in the last chunk's AD.
    for size, why in ((0, "padding"), (3000, "padding"), (N - 1, "authenticate")):
        assert ciphertext_length(size, CS) == len(BLOB)
        with pytest.raises(CryptoError, match=why):
            open_blob(BLOB, size=size)
    with pytest.raises(CryptoError, match="authenticate"):
        open_blob(BLOB, size=N + 1)  # would read padding as data: the last AD has the size
    with pytest.raises(CryptoError):
        open_blob(BLOB, size=5000)  # another bucket: another length


def test_failed_decryptor_stays_failed() -> None:
    bad = bytearray(BLOB)
    bad[COMMITMENT_LEN + 3] ^= 1
    dec = AttachmentDecryptor(KEY, CS, sha(BLOB), N)
    with pytest.raises(CryptoError):
        dec.push(bytes(bad))
    with pytest.raises(UsageError):
        dec.push(b"")
    with pytest.raises(UsageError):
        dec.finish()


# -- misuse ----------------------------------------------------------------------


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), bytearray(32), "k" * 32, None])
def test_bad_keys(key: object) -> None:
    with pytest.raises(UsageError):
        AttachmentEncryptor(key)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        AttachmentDecryptor(key, CS, bytes(32), 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "chunk_size", [0, -1, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1, True, 4096.0, "4096", None]
)
def test_bad_chunk_sizes(chunk_size: object) -> None:
    with pytest.raises(UsageError):
        AttachmentEncryptor(KEY, chunk_size)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        AttachmentDecryptor(KEY, chunk_size, bytes(32), 0)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ciphertext_length(0, chunk_size)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [-1, MAX_ATTACHMENT_SIZE + 1, True, 1.0, None])
def test_bad_sizes(size: object) -> None:
    with pytest.raises(UsageError):
        AttachmentDecryptor(KEY, CS, bytes(32), size)  # type: ignore[arg-type]


@pytest.mark.parametrize("digest", [b"", bytes(31), bytes(33), "0" * 64, None])
def test_bad_expected_hash(digest: object) -> None:
    with pytest.raises(UsageError):
        AttachmentDecryptor(KEY, CS, digest, 0)  # type: ignore[arg-type]


def test_encryptor_misuse() -> None:
    enc = AttachmentEncryptor(KEY, CS)
    with pytest.raises(UsageError):
        enc.push("text")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        _ = enc.sha256
    with pytest.raises(UsageError):
        _ = enc.ciphertext_size
    enc.finish()
    with pytest.raises(UsageError):
        enc.push(b"more")
    with pytest.raises(UsageError):
        enc.finish()


def test_decryptor_misuse() -> None:
    dec = AttachmentDecryptor(KEY, CS, sha(BLOB), N)
    with pytest.raises(UsageError):
        dec.push(["not", "bytes"])  # type: ignore[arg-type]
    dec.push(BLOB)
    dec.finish()
    with pytest.raises(UsageError):
        dec.push(b"")
    with pytest.raises(UsageError):
        dec.finish()
    with pytest.raises(UsageError):
        decrypt_attachment(KEY, "blob", CS, sha(BLOB), N)  # type: ignore[arg-type]


def test_ciphertext_length_formula() -> None:
    assert ciphertext_length(0) == COMMITMENT_LEN + 4096 + TAG_LEN
    assert ciphertext_length(10**6) == COMMITMENT_LEN + 1048576 + 16 * TAG_LEN
    assert ciphertext_length(MAX_ATTACHMENT_SIZE, MIN_CHUNK_SIZE) == (
        COMMITMENT_LEN + 2**40 + 2**30 * TAG_LEN
    )
