"""Transcript hashes and the confirmation tag (RFC 9420 §8.2, §6.1).

::

    confirmed_transcript_hash_[n] =
        Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
    interim_transcript_hash_[n] =
        Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])

    struct { WireFormat wire_format; FramedContent content; opaque signature<V>; }
        ConfirmedTranscriptHashInput;          /* content_type = commit */
    struct { MAC confirmation_tag; } InterimTranscriptHashInput;

    confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)

The interim hash of a new group (epoch 0) starts from the empty string.
Functions take the encoded inputs so that they serve both the sender and the
receiver without re-encoding.
"""

from __future__ import annotations

import hmac

from ..codec import encode_varint
from ..crypto import Suite
from ..errors import CryptoError


def confirmed_transcript_hash(suite: Suite, interim_before: bytes, confirmed_input: bytes) -> bytes:
    """``confirmed_input`` is the encoded ConfirmedTranscriptHashInput."""
    return suite.hash(interim_before + confirmed_input)


def interim_transcript_hash(suite: Suite, confirmed: bytes, confirmation_tag: bytes) -> bytes:
    return suite.hash(confirmed + encode_varint(len(confirmation_tag)) + confirmation_tag)


def confirmation_tag(suite: Suite, confirmation_key: bytes, confirmed: bytes) -> bytes:
    return suite.mac(confirmation_key, confirmed)


def verify_confirmation_tag(
    suite: Suite, confirmation_key: bytes, confirmed: bytes, tag: bytes
) -> None:
    """Raise :class:`CryptoError` unless ``tag`` is the confirmation tag (constant time)."""
    if not hmac.compare_digest(confirmation_tag(suite, confirmation_key, confirmed), tag):
        raise CryptoError("confirmation tag does not verify")
