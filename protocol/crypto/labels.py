"""The labelled operations of RFC 9420 (§5.1.2, §5.1.3, §5.2, §8, §9).

Labels are passed WITHOUT the ``"MLS 1.0 "`` prefix; every function here except
:func:`ref_hash` adds it. :func:`ref_hash` hashes its label exactly as given
(callers pass e.g. ``b"MLS 1.0 KeyPackage Reference"``). A label that already
starts with ``"MLS 1.0 "`` is refused by the prefixing functions, so the prefix
is never doubled by mistake.

All structs are TLS-encoded with MLS variable-length vector headers (§2.1.2)::

    KDFLabel       = uint16 length || varint(len(L)) || L || varint(len(context)) || context
    SignContent    = varint(len(L)) || L || varint(len(content)) || content
    EncryptContext = varint(len(L)) || L || varint(len(context)) || context
    RefHashInput   = varint(len(label)) || label || varint(len(value)) || value

with ``L = "MLS 1.0 " || Label``. The encoded label header ``varint(len(L)) || L``
is computed once per label and cached (the set of labels is small and fixed).
"""

from __future__ import annotations

import struct
from typing import Final

from ..codec import encode_varint
from ..errors import UsageError
from .rng import RandomProvider
from .suite import Suite

__all__ = [
    "LABEL_PREFIX",
    "decrypt_with_label",
    "derive_secret",
    "derive_tree_secret",
    "encrypt_context",
    "encrypt_with_label",
    "expand_with_label",
    "kdf_label",
    "kdf_label_prefix",
    "ref_hash",
    "sign_content",
    "sign_with_label",
    "verify_with_label",
]

#: Prepended to every label except RefHash's (§5.1.2, §5.1.3, §8).
LABEL_PREFIX: Final = b"MLS 1.0 "

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

#: Label -> varint(len("MLS 1.0 " + label)) || "MLS 1.0 " + label
_label_cache: dict[bytes, bytes] = {}
_LABEL_CACHE_MAX: Final = 512

# Small contexts are common (empty; a uint32 generation), so their varint
# headers come from tables rather than a function call.
_SHORT_VARINT: Final = tuple(bytes((n,)) for n in range(64))


def _vec(data: bytes) -> bytes:
    """``opaque data<V>``: varint length header then the bytes."""
    n = len(data)
    if n < 64:
        return _SHORT_VARINT[n] + data
    return encode_varint(n) + data


def _label(label: bytes) -> bytes:
    """The encoded ``opaque label<V> = "MLS 1.0 " + Label`` (cached)."""
    encoded = _label_cache.get(label)
    if encoded is None:
        if not isinstance(label, bytes):
            raise UsageError("labels are bytes")
        if label.startswith(LABEL_PREFIX):
            raise UsageError("pass labels without the 'MLS 1.0 ' prefix")
        encoded = _vec(LABEL_PREFIX + label)
        if len(_label_cache) < _LABEL_CACHE_MAX:
            _label_cache[label] = encoded
    return encoded


# --------------------------------------------------------------------------- structs


def kdf_label(label: bytes, context: bytes, length: int) -> bytes:
    """The encoded KDFLabel struct (§8)."""
    if not 0 <= length <= 0xFFFF:
        raise UsageError(f"ExpandWithLabel length {length} out of range")
    return _U16.pack(length) + _label(label) + _vec(context)


def kdf_label_prefix(label: bytes, length: int) -> bytes:
    """The KDFLabel bytes before the context: ``uint16(length) || label<V>``.

    For callers that derive with one label and length many times (the secret
    tree's ratchet): ``kdf_label(l, c, n) == kdf_label_prefix(l, n) + c<V>``.
    """
    if not 0 <= length <= 0xFFFF:
        raise UsageError(f"ExpandWithLabel length {length} out of range")
    return _U16.pack(length) + _label(label)


def sign_content(label: bytes, content: bytes) -> bytes:
    """The encoded SignContent struct (§5.1.2)."""
    return _label(label) + _vec(content)


def encrypt_context(label: bytes, context: bytes) -> bytes:
    """The encoded EncryptContext struct (§5.1.3)."""
    return _label(label) + _vec(context)


# --------------------------------------------------------------------------- operations


def ref_hash(suite: Suite, label: bytes, value: bytes) -> bytes:
    """RefHash(label, value) = Hash(RefHashInput) (§5.2). ``label`` is used as given."""
    return suite.hash(_vec(label) + _vec(value))


def expand_with_label(
    suite: Suite, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length)."""
    if not 0 <= length <= 0xFFFF:
        raise UsageError(f"ExpandWithLabel length {length} out of range")
    return suite.kdf_expand(secret, _U16.pack(length) + _label(label) + _vec(context), length)


def derive_secret(suite: Suite, secret: bytes, label: bytes) -> bytes:
    """DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", Nh) (§8)."""
    nh = suite.hash_length
    return suite.kdf_expand(secret, _U16.pack(nh) + _label(label) + b"\x00", nh)


def derive_tree_secret(
    suite: Suite, secret: bytes, label: bytes, generation: int, length: int
) -> bytes:
    """DeriveTreeSecret = ExpandWithLabel(Secret, Label, uint32(Generation), Length) (§9.1)."""
    if not 0 <= length <= 0xFFFF:
        raise UsageError(f"DeriveTreeSecret length {length} out of range")
    try:
        gen = _U32.pack(generation)
    except struct.error:
        raise UsageError("generation must fit in a uint32") from None
    # context<V> of 4 bytes: varint header 0x04.
    return suite.kdf_expand(secret, _U16.pack(length) + _label(label) + b"\x04" + gen, length)


def sign_with_label(suite: Suite, private: bytes, label: bytes, content: bytes) -> bytes:
    """SignWithLabel(SignatureKey, Label, Content) = Signature.Sign(key, SignContent) (§5.1.2)."""
    return suite.sign(private, _label(label) + _vec(content))


def verify_with_label(
    suite: Suite, public: bytes, label: bytes, content: bytes, signature: bytes
) -> None:
    """VerifyWithLabel; raises :class:`~cove.protocol.errors.CryptoError` if invalid."""
    suite.verify(public, _label(label) + _vec(content), signature)


def encrypt_with_label(
    suite: Suite,
    public: bytes,
    label: bytes,
    context: bytes,
    plaintext: bytes,
    rng: RandomProvider,
) -> tuple[bytes, bytes]:
    """EncryptWithLabel = SealBase(pk, EncryptContext, "", pt) (§5.1.3): ``(kem_output, ct)``."""
    return suite.hpke_seal(public, _label(label) + _vec(context), b"", plaintext, rng)


def decrypt_with_label(
    suite: Suite,
    private: bytes,
    label: bytes,
    context: bytes,
    kem_output: bytes,
    ciphertext: bytes,
) -> bytes:
    """DecryptWithLabel = OpenBase(kem_output, sk, EncryptContext, "", ct) (§5.1.3)."""
    return suite.hpke_open(private, kem_output, _label(label) + _vec(context), b"", ciphertext)
