"""PublicMessage / PrivateMessage protection: every tampering is refused (§6)."""

from __future__ import annotations

import dataclasses

import pytest

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.errors import CryptoError, DecodeError, StateError, UsageError
from cove.protocol.mls.framing import (
    FramedContent,
    PrivateMessage,
    PublicMessage,
    Sender,
    WireFormat,
)
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.message_protection import (
    padding_for,
    protect_private,
    protect_public,
    sign_content,
    unprotect_private,
    unprotect_public,
)
from cove.protocol.mls.proposals import Proposal, Remove
from cove.protocol.mls.secret_tree import SecretTree

SUITE = suite_for(1)
RNG = SeededRandom(b"test")
PRIV, PUB = SUITE.generate_signature_key_pair(RNG)
CTX = GroupContext(1, b"group", 3, b"t" * 32, b"c" * 32)
ENC = b"e" * 32
SD = b"s" * 32
MK = b"m" * 32


def key_for(content: FramedContent) -> bytes:
    return PUB


def tree() -> SecretTree:
    return SecretTree(SUITE, ENC, 4)


def _private(data: bytes = b"hello", padding_block: int = 32) -> PrivateMessage:
    content = FramedContent(CTX.group_id, CTX.epoch, Sender.member(2), b"aad", data)
    signed = sign_content(SUITE, WireFormat.PRIVATE_MESSAGE, content, PRIV, CTX)
    return protect_private(SUITE, signed, tree(), SD, RNG, padding_block=padding_block)


def _public() -> PublicMessage:
    content = FramedContent(CTX.group_id, CTX.epoch, Sender.member(2), b"", Proposal(Remove(1)))
    signed = sign_content(SUITE, WireFormat.PUBLIC_MESSAGE, content, PRIV, CTX)
    return protect_public(SUITE, signed, CTX, MK)


def test_private_roundtrip_and_padding_hides_length() -> None:
    a, b = _private(b"x"), _private(b"x" * 20)
    assert len(a.ciphertext) == len(b.ciphertext)
    got = unprotect_private(SUITE, a, tree(), SD, CTX, key_for)
    assert got.content.content == b"x"
    assert got.content.authenticated_data == b"aad"
    assert padding_for(33, 32) == 31 and padding_for(64, 32) == 0 and padding_for(5, 1) == 0


@pytest.mark.parametrize("field", ["ciphertext", "encrypted_sender_data", "authenticated_data"])
def test_private_tampering_is_a_crypto_error(field: str) -> None:
    msg = _private()
    value = bytearray(getattr(msg, field))
    value[-1] ^= 1
    with pytest.raises(CryptoError):
        unprotect_private(
            SUITE, dataclasses.replace(msg, **{field: bytes(value)}), tree(), SD, CTX, key_for
        )


def test_private_wrong_epoch_header_fails_the_aead() -> None:
    msg = dataclasses.replace(_private(), epoch=4)
    with pytest.raises(CryptoError):
        unprotect_private(SUITE, msg, tree(), SD, CTX, key_for)


def test_private_wrong_signer_is_refused() -> None:
    _, other = SUITE.generate_signature_key_pair(SeededRandom(b"other"))
    with pytest.raises(CryptoError):
        unprotect_private(SUITE, _private(), tree(), SD, CTX, lambda c: other)


def test_private_replay_is_refused() -> None:
    msg = _private()
    receiver = tree()
    unprotect_private(SUITE, msg, receiver, SD, CTX, key_for)
    with pytest.raises(StateError):
        unprotect_private(SUITE, msg, receiver, SD, CTX, key_for)


def test_private_nonzero_padding_is_a_decode_error() -> None:
    # Build a PrivateMessage whose padding holds a non-zero byte, encrypted correctly.
    from cove.protocol.mls.framing import (
        PrivateMessageContent,
        SenderData,
    )
    from cove.protocol.mls.message_protection import sender_data_key_nonce

    content = FramedContent(CTX.group_id, CTX.epoch, Sender.member(0), b"", b"hi")
    signed = sign_content(SUITE, WireFormat.PRIVATE_MESSAGE, content, PRIV, CTX)
    body = PrivateMessageContent(b"hi", signed.auth).to_bytes() + b"\x00\x07"
    sender = tree()
    gen, key, nonce = sender.next_encryption_keys(0, 1)
    shell = PrivateMessage(CTX.group_id, CTX.epoch, 1, b"", b"", b"")
    ct = SUITE.aead_encrypt(key, nonce, shell.content_aad(), body)
    sk, sn = sender_data_key_nonce(SUITE, SD, ct)
    esd = SUITE.aead_encrypt(
        sk, sn, shell.sender_data_aad(), SenderData(0, gen, bytes(4)).to_bytes()
    )
    msg = dataclasses.replace(shell, encrypted_sender_data=esd, ciphertext=ct)
    with pytest.raises(DecodeError, match="padding"):
        unprotect_private(SUITE, msg, tree(), SD, CTX, key_for)


def test_public_roundtrip_and_tampered_membership_tag() -> None:
    msg = _public()
    assert unprotect_public(SUITE, msg, CTX, MK, key_for).content == msg.content
    assert msg.membership_tag is not None
    bad = dataclasses.replace(msg, membership_tag=bytes(len(msg.membership_tag)))
    with pytest.raises(CryptoError, match="membership"):
        unprotect_public(SUITE, bad, CTX, MK, key_for)
    with pytest.raises(CryptoError):
        unprotect_public(SUITE, msg, dataclasses.replace(CTX, epoch=9), MK, key_for)


def test_public_tampered_signature() -> None:
    msg = _public()
    sig = bytearray(msg.auth.signature)
    sig[0] ^= 1
    forged = dataclasses.replace(msg, auth=dataclasses.replace(msg.auth, signature=bytes(sig)))
    # Re-MAC so that only the signature is wrong.
    unsigned = dataclasses.replace(forged, membership_tag=b"")
    forged = dataclasses.replace(forged, membership_tag=SUITE.mac(MK, unsigned.tbm(CTX)))
    with pytest.raises(CryptoError):
        unprotect_public(SUITE, forged, CTX, MK, key_for)


def test_protect_refuses_misuse() -> None:
    content = FramedContent(CTX.group_id, CTX.epoch, Sender.member(0), b"", b"app")
    signed = sign_content(SUITE, WireFormat.PUBLIC_MESSAGE, content, PRIV, CTX)
    with pytest.raises(UsageError):
        protect_public(SUITE, signed, CTX, MK)
    with pytest.raises(UsageError):
        protect_private(SUITE, signed, tree(), SD, RNG)
