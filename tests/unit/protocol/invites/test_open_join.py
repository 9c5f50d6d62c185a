"""Open links: the link proof in an external commit's authenticated data, the rule
every member checks, and the GroupInfo sealed to the link."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.invites import (
    ExternalJoin,
    InviteRefused,
    LinkJoinProof,
    LinkMode,
    check_external_join,
    make_link_join_proof,
    open_group_info,
    seal_group_info,
    sealed_group_info_epoch,
)

from .helpers import GROUP_ID, current_rules, entry_for, link_for, person, settings_with

ANA = person("ana", 1)
NEW = person("nia", 3)
OTHER = person("otto", 4)
OPEN_LINK = link_for(ANA, 2)
APPROVAL_LINK = link_for(ANA, 1)
OPEN = entry_for(OPEN_LINK, LinkMode.OPEN, max_uses=2)
SETTINGS = settings_with(entry_for(APPROVAL_LINK, LinkMode.APPROVAL), OPEN)
EPOCH = 7
RULES = current_rules()


def proof(link=OPEN_LINK, who=NEW, epoch=EPOCH, rules=RULES) -> bytes:  # type: ignore[no-untyped-def]
    return make_link_join_proof(
        link.keys(),
        group_id=GROUP_ID,
        epoch=epoch,
        joiner_signature_key=who.signature_key,
        identity_private=who.identity_private,
        rules=rules,
    )


def join(**kw: object) -> ExternalJoin:
    base = ExternalJoin(
        group_id=GROUP_ID,
        epoch=EPOCH,
        joiner_signature_key=NEW.signature_key,
        joiner_identity_key=NEW.identity_key,
        authenticated_data=proof(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def check(
    j: ExternalJoin,
    settings=SETTINGS,
    members=frozenset({ANA.identity_key}),
    banned=frozenset(),
    pending=None,
) -> bytes:  # type: ignore[no-untyped-def]
    return check_external_join(
        settings, j, members=members, banned=banned, pending_link_join=pending
    )


def refused(rule: str, j: ExternalJoin, **kw: object) -> None:
    with pytest.raises(InviteRefused) as info:
        check(j, **kw)  # type: ignore[arg-type]
    assert info.value.rule == rule


def test_a_valid_link_join_names_its_link() -> None:
    assert check(join()) == OPEN.link_id
    # a rejoin that removes her own old leaf is one join too
    assert (
        check(
            join(removed_identity_keys=(NEW.identity_key,)), members=frozenset({NEW.identity_key})
        )
        == OPEN.link_id
    )


def test_without_rules_no_acceptance_is_needed() -> None:
    settings = settings_with(OPEN, rules=False)
    assert check(join(authenticated_data=proof(rules=None)), settings=settings) == OPEN.link_id


def test_every_refusal() -> None:
    refused("invite.open.disabled", join(), settings=None)
    refused("invite.open.disabled", join(), settings=replace(SETTINGS, open_links=False))
    refused("invite.open.extra_proposals", join(other_proposals=1))
    refused(
        "invite.open.extra_proposals",
        join(removed_identity_keys=(NEW.identity_key, NEW.identity_key)),
    )
    refused("invite.open.removes_other", join(removed_identity_keys=(ANA.identity_key,)))
    refused("invite.open.banned", join(), banned=frozenset({NEW.identity_key}))
    refused("invite.open.already_member", join(), members=frozenset({NEW.identity_key}))
    refused("invite.open.no_proof", join(authenticated_data=b""))
    refused("invite.open.malformed_proof", join(authenticated_data=b"hello"))
    refused("invite.open.malformed_proof", join(authenticated_data=proof()[:-1]))
    refused("invite.open.unknown_link", join(authenticated_data=proof(link=link_for(ANA, 99))))
    revoked = SETTINGS.without_link(OPEN.link_id)
    refused("invite.open.unknown_link", join(), settings=revoked)
    refused("invite.open.approval_link", join(authenticated_data=proof(link=APPROVAL_LINK)))
    refused("invite.open.not_counted", join(), pending=OPEN.link_id)
    used_up = SETTINGS.with_use_counted(OPEN.link_id).with_use_counted(OPEN.link_id)
    refused("invite.open.used_up", join(), settings=used_up)
    refused("invite.open.rules_not_accepted", join(authenticated_data=proof(rules=None)))
    refused(
        "invite.open.rules_not_accepted", join(authenticated_data=proof(rules=(1, b"\x00" * 32)))
    )
    # the acceptance is by the joiner's identity key: another person's does not count
    refused(
        "invite.open.rules_not_accepted",
        join(authenticated_data=proof(who=OTHER), joiner_signature_key=OTHER.signature_key),
    )
    # the proof names the epoch and the joiner's keys: it cannot be lifted
    refused("invite.open.bad_proof", join(epoch=EPOCH + 1))
    refused("invite.open.bad_proof", join(joiner_signature_key=OTHER.signature_key))
    # another group: the rules acceptance (bound to the group) fails first; without rules, the proof
    refused("invite.open.rules_not_accepted", join(group_id=b"another group"))
    no_rules = settings_with(OPEN, rules=False)
    lifted = join(group_id=b"another group", authenticated_data=proof(rules=None))
    refused("invite.open.bad_proof", lifted, settings=no_rules)


def test_a_forged_proof_without_the_link_is_refused() -> None:
    good = LinkJoinProof.from_bytes(proof())
    forged = replace(good, link_signature=bytes(64))
    refused("invite.open.bad_proof", join(authenticated_data=forged.to_bytes()))


def test_caps_hold_across_a_sequence_of_joins() -> None:
    """Two uses: join, count, join, count, then the third is refused."""
    settings = SETTINGS
    for n in range(2):
        person_n = person(f"p{n}", 10 + n)
        j = join(
            joiner_signature_key=person_n.signature_key,
            joiner_identity_key=person_n.identity_key,
            authenticated_data=proof(who=person_n, epoch=EPOCH + 2 * n),
            epoch=EPOCH + 2 * n,
        )
        link_id = check(j, settings=settings)
        # a second joiner in the very next epoch, before the count: refused
        refused(
            "invite.open.not_counted",
            join(epoch=EPOCH + 2 * n + 1, authenticated_data=proof(epoch=EPOCH + 2 * n + 1)),
            settings=settings,
            pending=link_id,
        )
        settings = settings.with_use_counted(link_id)
    refused(
        "invite.open.used_up",
        join(epoch=EPOCH + 4, authenticated_data=proof(epoch=EPOCH + 4)),
        settings=settings,
    )


def test_proof_encoding() -> None:
    data = proof()
    decoded = LinkJoinProof.from_bytes(data)
    assert decoded.to_bytes() == data
    assert data.startswith(b"\x11cove link join v1")
    with pytest.raises(UsageError, match="acceptance without rules"):
        LinkJoinProof(OPEN.link_id, 0, b"", bytes(64), bytes(64))


@given(st.binary(max_size=300))
def test_proof_decoder_is_bounded_and_typed(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        LinkJoinProof.from_bytes(data)


@given(st.binary(max_size=300))
def test_check_raises_only_refusals_on_any_authenticated_data(data: bytes) -> None:
    with pytest.raises(InviteRefused):
        check(join(authenticated_data=data))


def test_sealed_group_info_round_trip_and_refusals() -> None:
    keys = OPEN_LINK.keys()
    sealed = seal_group_info(
        OPEN.link_id, OPEN.groupinfo_key, 9, b"group info", b"tree", SeededRandom(3)
    )
    assert sealed_group_info_epoch(sealed) == (OPEN.link_id, 9)
    assert open_group_info(sealed, keys) == (9, b"group info", b"tree")
    assert b"group info" not in sealed
    with pytest.raises(InviteRefused) as info:
        open_group_info(sealed, APPROVAL_LINK.keys())
    assert info.value.rule == "invite.preview.wrong_link"
    # the relay rewrites the epoch in the header (to pass an old one as new): refused
    changed = bytearray(sealed)
    changed[18] ^= 1
    with pytest.raises(InviteRefused) as info:
        open_group_info(bytes(changed), keys)
    assert info.value.rule == "invite.preview.undecryptable"
    with pytest.raises(InviteRefused) as info:
        sealed_group_info_epoch(b"\x01" * 20)
    assert info.value.rule == "invite.open.malformed_proof"


@given(st.binary(max_size=200))
def test_open_group_info_raises_only_refusals(data: bytes) -> None:
    with pytest.raises(InviteRefused):
        open_group_info(data, OPEN_LINK.keys())
