"""The receive path's fast encodings and caches give exactly the bytes of the generic
encoders, and a cached encoding never outlives the value it encodes."""

from __future__ import annotations

import dataclasses

import pytest

from cove.protocol.codec import Writer, encode_varint
from cove.protocol.crypto.labels import kdf_label, kdf_label_prefix
from cove.protocol.errors import DecodeError
from cove.protocol.mls.extensions import Extension
from cove.protocol.mls.framing import (
    ContentType,
    FramedContent,
    FramedContentAuthData,
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    Sender,
    SenderData,
    SenderDataAAD,
    WireFormat,
    framed_content_tbs,
)
from cove.protocol.mls.group_context import MLS10, GroupContext
from cove.protocol.mls.proposals import Proposal, Remove


def _generic_context_bytes(ctx: GroupContext) -> bytes:
    w = Writer()
    w.uint16(ctx.version)
    w.uint16(ctx.cipher_suite)
    w.opaque(ctx.group_id)
    w.uint64(ctx.epoch)
    w.opaque(ctx.tree_hash)
    w.opaque(ctx.confirmed_transcript_hash)
    inner = Writer()
    for ext in ctx.extensions:
        ext.encode(inner)
    w.opaque(inner.getvalue())
    return w.getvalue()


def _generic_tbs(wire_format: int, content: FramedContent, ctx: GroupContext | None) -> bytes:
    w = Writer()
    w.uint16(MLS10)
    w.uint16(wire_format)
    w.opaque(content.group_id)
    w.uint64(content.epoch)
    content.sender.encode(w)
    w.opaque(content.authenticated_data)
    w.uint8(content.content_type)
    if isinstance(content.content, bytes):
        w.opaque(content.content)
    else:
        content.content.encode(w)
    if ctx is not None:
        w.fixed(_generic_context_bytes(ctx))
    return w.getvalue()


CTX = GroupContext(1, b"g" * 16, 7, b"t" * 32, b"c" * 32, (Extension(0xF0C2, b"\x01"),))


def test_group_context_cache_is_its_encoding_and_a_new_epoch_is_not_stale() -> None:
    first = CTX.to_bytes()
    assert first == _generic_context_bytes(CTX)
    assert CTX.to_bytes() is first  # cached
    w = Writer()
    CTX.encode(w)
    assert w.getvalue() == first
    # A changed context (the next epoch, a new tree hash) is a new value with its own
    # encoding, never the cached bytes of the old one.
    for change in ({"epoch": 8}, {"tree_hash": b"u" * 32}, {"extensions": ()}):
        changed = dataclasses.replace(CTX, **change)
        assert changed.to_bytes() == _generic_context_bytes(changed) != first
    assert GroupContext.from_bytes(first) == CTX
    assert "_encoded" not in repr(CTX)


@pytest.mark.parametrize(
    "content",
    [
        FramedContent(b"g" * 16, 7, Sender.member(3), b"", b"x" * 1024),
        FramedContent(b"g" * 100, 2**40, Sender.member(2**31), b"a" * 70, b"y" * 20_000),
        FramedContent(b"g", 1, Sender.member(0), b"", Proposal(Remove(1))),
        FramedContent(b"g", 1, Sender.external(0), b"ad", Proposal(Remove(1))),
        FramedContent(b"g", 1, Sender.new_member_proposal(), b"", Proposal(Remove(1))),
    ],
)
def test_framed_content_tbs_matches_the_generic_encoding(content: FramedContent) -> None:
    member = content.sender.sender_type.name == "MEMBER"
    ctx = CTX if member else None
    for wf in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE):
        assert framed_content_tbs(wf, content, ctx) == _generic_tbs(wf, content, ctx)
    assert content.to_bytes() == _generic_tbs(1, content, None)[4:]


def test_member_senders_are_shared_equal_values() -> None:
    assert Sender.member(5) is Sender.member(5)
    assert Sender.member(5) == Sender(Sender.member(5).sender_type, 5)
    assert Sender.member(6).index == 6


def test_private_message_aads_match_their_structs() -> None:
    message = PrivateMessage(b"g" * 70, 9, ContentType.COMMIT, b"a" * 300, b"s", b"c")
    assert message.sender_data_aad() == SenderDataAAD(b"g" * 70, 9, ContentType.COMMIT).to_bytes()
    assert (
        message.content_aad()
        == PrivateContentAAD(b"g" * 70, 9, ContentType.COMMIT, b"a" * 300).to_bytes()
    )


def test_sender_data_fast_decode_and_its_refusals() -> None:
    assert SenderData.from_bytes(bytes(range(12))) == SenderData(
        0x00010203, 0x04050607, b"\x08\t\n\x0b"
    )
    with pytest.raises(DecodeError, match=r"need 4 bytes, 3 left \(SenderData, offset 8\)"):
        SenderData.from_bytes(bytes(11))
    with pytest.raises(DecodeError, match=r"1 trailing bytes \(SenderData, offset 12\)"):
        SenderData.from_bytes(bytes(13))


def test_private_content_fast_parse_matches_from_bytes() -> None:
    auth = FramedContentAuthData(b"s" * 64)
    body = PrivateMessageContent(b"hello", auth, padding=9).to_bytes()
    assert PrivateMessageContent.content_and_auth(body, ContentType.APPLICATION) == (b"hello", auth)
    plain = PrivateMessageContent.from_bytes(body, ContentType.APPLICATION)
    assert (plain.content, plain.auth, plain.padding) == (b"hello", auth, 9)
    proposal = PrivateMessageContent(Proposal(Remove(2)), auth).to_bytes()
    assert PrivateMessageContent.content_and_auth(proposal, ContentType.PROPOSAL) == (
        Proposal(Remove(2)),
        auth,
    )
    bad = body[:-3] + b"\x00\x07\x00"
    with pytest.raises(DecodeError, match=r"non-zero padding byte \(PrivateMessageContent, offset"):
        PrivateMessageContent.content_and_auth(bad, ContentType.APPLICATION)
    with pytest.raises(DecodeError, match="PrivateMessageContent"):
        PrivateMessageContent.content_and_auth(body[:10], ContentType.APPLICATION)


def test_kdf_label_prefix_is_the_head_of_kdf_label() -> None:
    for label, context, length in ((b"key", b"\x00\x00\x00\x05", 16), (b"nonce", b"s" * 32, 12)):
        head = kdf_label_prefix(label, length)
        assert kdf_label(label, context, length) == head + bytes((len(context),)) + context


def test_ratchet_tree_encoding_follows_every_tree_change() -> None:
    from cove.protocol.crypto import SeededRandom
    from cove.protocol.mls.credentials import Credential
    from cove.protocol.mls.group import Group
    from cove.protocol.mls.key_package_bundle import KeyPackageBundle
    from cove.protocol.mls.nodes import Node, ParentNode, decode_ratchet_tree, encode_ratchet_tree

    rng, now = SeededRandom(b"tree-cache"), 1_800_000_000
    alice = Group.create(1, b"g" * 16, Credential.basic(b"alice"), rng, now=now)
    bundles = [
        KeyPackageBundle.create(1, Credential.basic(f"m{i}".encode()), rng, now=now)
        for i in range(3)
    ]
    alice.add([b.key_package for b in bundles], now=now)
    alice.apply_pending_commit()
    before = alice._epoch.tree.to_bytes()
    assert decode_ratchet_tree(before) == alice._epoch.tree.to_nodes()
    assert encode_ratchet_tree(alice._epoch.tree.to_nodes()) == before
    alice.update()  # new leaf and parent nodes on alice's path
    alice.apply_pending_commit()
    after = alice._epoch.tree.to_bytes()
    assert after != before
    assert decode_ratchet_tree(after) == alice._epoch.tree.to_nodes()
    # A node's kept encoding is its own: a changed copy is encoded afresh.
    parent = ParentNode(b"k" * 32, b"h" * 32, (1, 3))
    first = parent.to_bytes()
    changed = dataclasses.replace(parent, unmerged_leaves=(1,))
    assert changed.to_bytes() != first
    assert Node.from_bytes(bytes((2,)) + changed.to_bytes()).value == changed
    leaf = bundles[0].key_package.leaf_node
    assert dataclasses.replace(leaf, signature=b"x" * 64).to_bytes()[-64:] == b"x" * 64
    assert leaf.to_bytes()[-64:] == leaf.signature


def test_a_decoded_leaf_keeps_exactly_its_canonical_encoding() -> None:
    from cove.protocol.crypto import SeededRandom
    from cove.protocol.mls.credentials import Credential
    from cove.protocol.mls.key_package_bundle import KeyPackageBundle
    from cove.protocol.mls.leaf_node import LeafNode

    bundle = KeyPackageBundle.create(1, Credential.basic(b"m"), SeededRandom(b"leaf"), now=1)
    data = bundle.key_package.leaf_node.to_bytes()
    decoded = LeafNode.from_bytes(data)
    fresh = dataclasses.replace(decoded)  # same fields, nothing kept: encoded anew
    assert fresh._encoded is None and fresh.to_bytes() == decoded.to_bytes() == data
    signature = encode_varint(len(decoded.signature)) + decoded.signature
    assert data.endswith(signature)
    assert fresh.tbs() == decoded.tbs() == data[: -len(signature)]
    # Only the canonical encoding decodes, so the kept bytes are the re-encoding: a
    # non-minimal length (0x4020 for 32) is refused.
    assert data[0] == 32
    with pytest.raises(DecodeError, match=r"non-minimal varint \(LeafNode, offset 0\)"):
        LeafNode.from_bytes(b"\x40\x20" + data[1:])


def test_uint16_lists_decode_in_one_unpack_with_the_same_refusals() -> None:
    from cove.protocol.codec import Reader
    from cove.protocol.mls.extensions import read_uint16_list, write_uint16_list

    w = Writer()
    write_uint16_list(w, (1, 0xFFFF, 3))
    write_uint16_list(w, ())
    r = Reader(w.getvalue(), type_name="Capabilities")
    assert (read_uint16_list(r), read_uint16_list(r)) == ((1, 0xFFFF, 3), ())
    r.expect_end()
    with pytest.raises(DecodeError, match=r"truncated uint16 \(Capabilities, offset 3\)"):
        read_uint16_list(Reader(b"\x03\x00\x01\x00", type_name="Capabilities"))
    with pytest.raises(DecodeError, match=r"vector of 4 bytes, 2 left \(Capabilities, offset 1\)"):
        read_uint16_list(Reader(b"\x04\x00\x01", type_name="Capabilities"))


def test_decoding_a_tree_gives_the_garbage_collector_back_even_on_bad_input() -> None:
    import gc

    from cove.protocol.mls.nodes import decode_ratchet_tree

    assert gc.isenabled()
    with pytest.raises(DecodeError, match="empty ratchet tree"):
        decode_ratchet_tree(b"\x00")
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that paused it keeps it paused
        with pytest.raises(DecodeError, match="ratchet_tree"):
            decode_ratchet_tree(b"\x05\x01")
        assert not gc.isenabled()
    finally:
        gc.enable()
