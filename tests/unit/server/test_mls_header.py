"""The relay's MLS header peek (protocol/wire/mls_header.py)."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.codec import Writer
from cove.protocol.errors import DecodeError
from cove.protocol.wire.mls_header import ContentType, WireFormat, peek_mls_header
from tests.support.relay_process import (
    fake_private_message,
    fake_public_message,
    fake_welcome,
    make_key_package,
)

GID = bytes(range(32))


def test_private_message() -> None:
    h = peek_mls_header(fake_private_message(GID, 3, epoch=7))
    assert (h.wire_format, h.group_id, h.epoch, h.content_type) == (
        WireFormat.PRIVATE_MESSAGE, GID, 7, ContentType.COMMIT)  # fmt: skip
    assert h.is_framed and h.is_handshake and h.is_commit
    app = peek_mls_header(fake_private_message(GID, 1))
    assert not app.is_handshake


def test_public_message() -> None:
    h = peek_mls_header(fake_public_message(GID, 2, epoch=1))
    assert (h.wire_format, h.group_id, h.epoch, h.content_type) == (
        WireFormat.PUBLIC_MESSAGE, GID, 1, ContentType.PROPOSAL)  # fmt: skip
    assert h.is_handshake and not h.is_commit


def test_welcome_and_key_package_by_wire_format() -> None:
    assert peek_mls_header(fake_welcome()).wire_format is WireFormat.WELCOME
    kp = peek_mls_header(
        make_key_package("alice", Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate())
    )
    assert kp.wire_format is WireFormat.KEY_PACKAGE and kp.cipher_suite == 1
    assert not kp.is_framed and not kp.is_handshake


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x02",  # version 2
        b"\x00\x01\x00\x09",  # unknown wire format
        b"\x00\x01\x00\x02\xc0",  # varint prefix 0b11
        b"\x00\x01\x00\x02\x40\x05" + b"x" * 5,  # non-minimal varint
    ],
)
def test_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        peek_mls_header(data)


def test_private_message_content_type_and_trailing_bytes() -> None:
    msg = bytearray(fake_private_message(GID, 1))
    with pytest.raises(DecodeError):
        peek_mls_header(bytes(msg) + b"\x00")
    msg[4 + 1 + 32 + 8] = 9  # content type
    with pytest.raises(DecodeError):
        peek_mls_header(bytes(msg))


def test_every_truncation_of_a_private_message_is_refused() -> None:
    msg = fake_private_message(GID, 3)
    for n in range(len(msg)):
        with pytest.raises(DecodeError):
            peek_mls_header(msg[:n])


def test_group_id_length_is_bounded() -> None:
    w = Writer()
    w.uint16(1)
    w.uint16(2)
    w.opaque(b"g" * 300)
    with pytest.raises(DecodeError):
        peek_mls_header(w.getvalue() + b"\x00" * 20)


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        peek_mls_header(b"\x00\x01" + data)
