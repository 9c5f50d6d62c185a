"""The record rules of joining: rules text (moderators, the settings' current hash),
rules acceptances (the sender's identity key), acceptance lists (moderators, the
current rules, every entry signed), welcome messages and history shares
(moderators)."""

from __future__ import annotations

import pytest

from cove.protocol.app import decode
from cove.protocol.app.join_records import (
    MAX_LIST_ENTRIES,
    AcceptanceList,
    HistoryShare,
    Rules,
    RulesAcceptance,
    WelcomeMessage,
)
from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.invites import JoinSettings, rules_hash, sign_acceptance
from cove.protocol.policy import Decision, authorize_record

from .people import P, World, refused

GID = b"g" * 16
ID = b"\x05" * 16
SALT = b"s" * 16
TEXT = "Be kind. What is said here stays here."
SETTINGS = JoinSettings().with_rules(rules_hash(GID, 1, SALT, TEXT))


def decide(sender: str, record: object, settings: JoinSettings | None = SETTINGS) -> Decision:
    w = World.make()
    return authorize_record(
        w.policy,
        w.roster,
        P(sender).identity_key,
        record,  # type: ignore[arg-type]
        group_id=GID,
        join_settings=settings,
    )


def rules(text: str = TEXT, version: int = 1) -> Rules:
    return Rules(id=ID, sent_at=0, version=version, salt=SALT, text=text)


def acceptance(signer: str, version: int = 1, group_id: bytes = GID) -> RulesAcceptance:
    h = rules_hash(GID, 1, SALT, TEXT)
    sig = sign_acceptance(P(signer).identity_private, group_id, version, h)
    return RulesAcceptance(id=ID, sent_at=0, version=version, rules_hash=h, signature=sig)


def test_rules_come_from_moderators_and_match_the_settings() -> None:
    assert decide("mona", rules()).allowed
    assert decide("olga", rules()).allowed
    text = refused(decide("ana", rules()), "policy.record.rules_requires_moderator")
    assert text == (
        "ana tried to set the group's rules — refused: "
        "only moderators and owners can set the group's rules"
    )
    refused(decide("mona", rules("Anything goes.")), "policy.record.rules_mismatch")
    refused(decide("mona", rules(version=2)), "policy.record.rules_mismatch")
    refused(decide("mona", rules(), settings=None), "policy.record.rules_mismatch")
    refused(decide("mona", rules(), settings=JoinSettings()), "policy.record.rules_mismatch")


def test_acceptances_are_signed_by_the_senders_identity_key() -> None:
    assert decide("ana", acceptance("ana")).allowed
    # cara posts ana's acceptance as her own: not her signature
    text = refused(decide("cara", acceptance("ana")), "policy.record.acceptance_invalid")
    assert text.startswith("cara tried to accept the rules (version 1)")
    refused(
        decide("ana", acceptance("ana", group_id=b"h" * 16)), "policy.record.acceptance_invalid"
    )
    refused(decide("eve", acceptance("eve")), "policy.record.sender_not_member")


def test_welcome_messages_and_history_shares_come_from_moderators() -> None:
    welcome = WelcomeMessage(id=ID, sent_at=0, text="Welcome!", newcomer=P("eve").identity_key)
    share = HistoryShare(
        id=ID, sent_at=0, newcomer=P("eve").identity_key, level=1, blob_id=ID,
        sha256=b"h" * 32, size=10, chunk_size=1024, kem_output=b"k" * 32, sealed_key=b"x" * 48,
    )  # fmt: skip
    assert decide("mona", welcome).allowed and decide("olga", share).allowed
    refused(decide("ana", welcome), "policy.record.welcome_requires_moderator")
    refused(decide("cara", share), "policy.record.history_requires_moderator")


HASH = rules_hash(GID, 1, SALT, TEXT)


def signed(*signers: str, version: int = 1) -> list[tuple[bytes, bytes]]:
    return [
        (P(n).identity_key, sign_acceptance(P(n).identity_private, GID, version, HASH))
        for n in signers
    ]


def acceptance_list(pairs: list[tuple[bytes, bytes]], version: int = 1) -> AcceptanceList:
    return AcceptanceList(
        id=ID, sent_at=0, version=version, rules_hash=HASH, newcomer=P("eve").identity_key,
        entries=AcceptanceList.pack_entries(pairs),
    )  # fmt: skip


def test_acceptance_lists_come_from_moderators_with_every_entry_signed() -> None:
    good = acceptance_list(signed("ana", "cara", "olga"))
    assert decide("mona", good).allowed and decide("olga", good).allowed
    keys = sorted(P(n).identity_key for n in ("ana", "cara", "olga"))
    assert [k for k, _ in good.pairs()] == keys
    text = refused(decide("ana", good), "policy.record.acceptance_list_requires_moderator")
    assert text == (
        "ana tried to send a newcomer the rules acceptances — refused: only moderators and "
        "owners can send a newcomer the list of rules acceptances"
    )
    # cara's key with ana's signature: one forged entry refuses the whole list
    (ana,) = signed("ana")
    forged = acceptance_list([*signed("olga"), (P("cara").identity_key, ana[1])])
    refused(decide("mona", forged), "policy.record.acceptance_list_invalid")
    # signatures of another version, or a list for rules that are not the current ones
    refused(decide("mona", acceptance_list(signed("ana", version=2), version=2)),
            "policy.record.acceptance_list_mismatch")  # fmt: skip
    refused(decide("mona", good, settings=JoinSettings()), "policy.record.acceptance_list_mismatch")
    refused(decide("mona", good, settings=None), "policy.record.acceptance_list_mismatch")


def test_an_acceptance_list_is_bounded_and_has_one_spelling() -> None:
    pairs = [(bytes([i >> 8, i & 255]) + bytes(30), bytes(64)) for i in range(MAX_LIST_ENTRIES)]
    biggest = acceptance_list(pairs)
    data = biggest.encode()
    assert len(data) == 49152 and decode(data) == biggest
    assert repr(biggest) == f"AcceptanceList(version=1, entries={MAX_LIST_ENTRIES})"
    with pytest.raises(UsageError, match=r"not 1\.\.500 entries"):
        acceptance_list([*pairs, (b"\xff" * 32, bytes(64))])
    with pytest.raises(UsageError, match=r"not 1\.\.500 entries"):
        acceptance_list([])
    one = biggest.entries[:96]
    for entries, problem in (
        (one + one, "strictly ascending"),  # a duplicate
        (biggest.entries[96:192] + one, "strictly ascending"),  # out of order
        (one + b"x", "not 1..500 entries"),
    ):
        with pytest.raises(UsageError, match=problem):
            AcceptanceList(id=ID, sent_at=0, version=1, rules_hash=HASH,
                           newcomer=P("eve").identity_key, entries=entries)  # fmt: skip
    # the decoder refuses the same: a list written by hand with a duplicate entry
    import msgpack

    from cove.protocol.app.codec import padded_size

    body = {"v": 1, "t": 34, "id": ID, "sent_at": 0, "version": 1, "rules_hash": HASH,
            "newcomer": P("eve").identity_key, "entries": one + one}  # fmt: skip
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    with pytest.raises(DecodeError, match="strictly ascending"):
        decode(packed + bytes(padded_size(len(packed)) - len(packed)))
