"""The newcomer's history bundle: what each level holds, encryption, key sealing."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.app import Post, Reaction, ThreadRoot, decode
from cove.protocol.app.join_records import Rules
from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.invites import (
    HistoryBundle,
    HistoryItem,
    HistoryLevel,
    InviteRefused,
    build_bundle,
    check_bundle,
    open_bundle,
    open_bundle_key,
    seal_bundle,
    seal_bundle_key,
)

from .helpers import GROUP_ID, NOW, RULES_SALT, RULES_TEXT, person

ANA = person("ana", 1)
NIA = person("nia", 3)
ROOT = ThreadRoot(
    id=b"\x01" * 16, sent_at=NOW, title="Fatigue tips", body="What helps you on bad days?"
)
REPLY = Post(id=b"\x02" * 16, sent_at=NOW, thread=ROOT.id, body="Short walks, and naps.")
LIKE = Reaction(id=b"\x03" * 16, sent_at=NOW, target=REPLY.id, emoji="💜")
RULES = Rules(id=b"\x04" * 16, sent_at=NOW, version=1, salt=RULES_SALT, text=RULES_TEXT)


def item(position: int, record: object, who=ANA) -> HistoryItem:  # type: ignore[no-untyped-def]
    return HistoryItem(position, NOW + position, who.identity_key, who.handle, record.encode())  # type: ignore[attr-defined]


ITEMS = [item(3, ROOT), item(5, REPLY), item(6, LIKE), item(9, RULES)]


def bundle(level: HistoryLevel) -> HistoryBundle:
    return build_bundle(GROUP_ID, NIA.identity_key, level, ITEMS, 10)


def refused(
    rule: str, b: HistoryBundle, level: HistoryLevel = HistoryLevel.FULL, **kw: object
) -> None:
    args: dict[str, object] = {"group_id": GROUP_ID, "newcomer": NIA.identity_key}
    args.update(kw)
    with pytest.raises(InviteRefused) as info:
        check_bundle(b, level=level, **args)  # type: ignore[arg-type]
    assert info.value.rule == rule


def test_titles_level_holds_titles_and_rules_only() -> None:
    b = bundle(HistoryLevel.TITLES)
    records = [decode(i.record) for i in b.items]
    assert [type(r).__name__ for r in records] == ["ThreadRoot", "Rules"]
    root = records[0]
    assert isinstance(root, ThreadRoot)
    assert (root.id, root.title, root.body) == (ROOT.id, "Fatigue tips", "")
    check_bundle(b, level=HistoryLevel.TITLES, group_id=GROUP_ID, newcomer=NIA.identity_key)
    check_bundle(b, level=HistoryLevel.FULL, group_id=GROUP_ID, newcomer=NIA.identity_key)


def test_full_level_keeps_everything_and_the_newcomer_can_reply() -> None:
    b = bundle(HistoryLevel.FULL)
    assert [i.record for i in b.items] == [i.record for i in ITEMS]
    check_bundle(b, level=HistoryLevel.FULL, group_id=GROUP_ID, newcomer=NIA.identity_key)
    root = decode(b.items[0].record)
    reply = Post(id=b"\x05" * 16, sent_at=NOW, thread=root.id, body="Thank you!", reply_to=REPLY.id)
    assert reply.thread == ROOT.id  # the thread every member already has


def test_pins_are_kept_at_the_titles_level_when_named() -> None:
    b = build_bundle(
        GROUP_ID, NIA.identity_key, HistoryLevel.TITLES, ITEMS, 10, pin_types=frozenset({3})
    )
    assert len(b.items) == 3  # the reaction stands in for a pin type here
    check_bundle(
        b,
        level=HistoryLevel.TITLES,
        group_id=GROUP_ID,
        newcomer=NIA.identity_key,
        pin_types=frozenset({3}),
    )


def test_bundles_beyond_the_setting_are_refused() -> None:
    full = bundle(HistoryLevel.FULL)
    refused("invite.history.beyond_setting", full, HistoryLevel.TITLES)
    refused("invite.history.beyond_setting", bundle(HistoryLevel.TITLES), HistoryLevel.NOTHING)
    # a "titles" bundle that smuggles a body or a post
    smuggled = replace(bundle(HistoryLevel.TITLES), items=(item(3, ROOT),))
    refused("invite.history.beyond_setting", smuggled, HistoryLevel.TITLES)
    posts = replace(bundle(HistoryLevel.TITLES), items=(item(5, REPLY),))
    refused("invite.history.beyond_setting", posts, HistoryLevel.TITLES)
    refused("invite.history.wrong_group", full, group_id=b"other")
    refused("invite.history.wrong_group", full, newcomer=ANA.identity_key)
    garbage = replace(full, items=(HistoryItem(1, NOW, ANA.identity_key, "ana", b"\x00" * 512),))
    refused("invite.history.malformed", garbage)


def test_bundle_construction_checks() -> None:
    with pytest.raises(UsageError, match="shares no history"):
        bundle(HistoryLevel.NOTHING)
    with pytest.raises(UsageError, match="positions must increase"):
        HistoryBundle(GROUP_ID, NIA.identity_key, HistoryLevel.FULL, 10, (ITEMS[1], ITEMS[0]))
    with pytest.raises(UsageError, match="after up_to"):
        HistoryBundle(GROUP_ID, NIA.identity_key, HistoryLevel.FULL, 4, tuple(ITEMS))
    assert "Fatigue" not in repr(bundle(HistoryLevel.FULL)) and "hidden" in repr(ITEMS[0])


def test_encryption_round_trip_and_refusals() -> None:
    b = bundle(HistoryLevel.FULL)
    sealed = seal_bundle(b, SeededRandom(1), chunk_size=1024)
    assert b"Fatigue" not in sealed.blob and "hidden" in repr(sealed)
    opened = open_bundle(
        sealed.blob, sealed.key, sha256=sealed.sha256, size=sealed.size, chunk_size=1024
    )
    assert opened == b
    with pytest.raises(InviteRefused) as info:
        open_bundle(sealed.blob, bytes(32), sha256=sealed.sha256, size=sealed.size, chunk_size=1024)
    assert info.value.rule == "invite.history.undecryptable"
    changed = bytearray(sealed.blob)
    changed[100] ^= 1
    with pytest.raises(InviteRefused) as info:
        open_bundle(
            bytes(changed), sealed.key, sha256=sealed.sha256, size=sealed.size, chunk_size=1024
        )
    assert info.value.rule == "invite.history.undecryptable"
    with pytest.raises(InviteRefused) as info:
        open_bundle(b"", sealed.key, sha256=sealed.sha256, size=1 << 27, chunk_size=1024)
    assert info.value.rule == "invite.history.malformed"


@pytest.mark.parametrize("suite_id", [1, 2, 3])
def test_key_sealed_to_the_newcomers_leaf(suite_id: int) -> None:
    suite = suite_for(suite_id)
    leaf_private, leaf_public = suite.generate_kem_key_pair(SeededRandom(2))
    key = bytes(range(32))
    args = {"group_id": GROUP_ID, "epoch": 4, "newcomer": NIA.identity_key}
    kem_output, sealed_key = seal_bundle_key(
        suite, leaf_public, key=key, rng=SeededRandom(3), **args
    )  # type: ignore[arg-type]
    assert len(sealed_key) == 48
    assert (
        open_bundle_key(suite, leaf_private, kem_output=kem_output, sealed_key=sealed_key, **args)
        == key
    )  # type: ignore[arg-type]
    other_private, _ = suite.generate_kem_key_pair(SeededRandom(4))
    for private, ctx in (
        (other_private, args),
        (leaf_private, {**args, "epoch": 5}),
        (leaf_private, {**args, "newcomer": ANA.identity_key}),
    ):
        with pytest.raises(InviteRefused) as info:
            open_bundle_key(suite, private, kem_output=kem_output, sealed_key=sealed_key, **ctx)  # type: ignore[arg-type]
        assert info.value.rule == "invite.history.undecryptable"


@given(st.binary(max_size=600))
def test_bundle_decoder_is_bounded_and_typed(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        HistoryBundle.from_bytes(data)


@given(st.integers(0, 600), st.integers(1, 255))
def test_bundle_decoder_on_mutations(at: int, xor: int) -> None:
    data = bytearray(bundle(HistoryLevel.TITLES).to_bytes())
    data[at % len(data)] ^= xor
    with contextlib.suppress(DecodeError):
        HistoryBundle.from_bytes(bytes(data))
