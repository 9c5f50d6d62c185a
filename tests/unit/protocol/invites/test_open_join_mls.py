"""An open-link join through real MLS: the GroupInfo sealed to the link, an external
commit carrying the link proof, members' checks, the count, and a hostile reuse."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity
from cove.protocol.invites import (
    JOIN_SETTINGS_EXTENSION,
    ExternalJoin,
    InviteRefused,
    JoinSettings,
    LinkMode,
    check_external_join,
    check_join_settings_change,
    external_join_of,
    make_link_join_proof,
    open_group_info,
    seal_group_info,
    with_join_settings,
)
from cove.protocol.mls.framing import MLSMessage, PublicMessage, Sender
from cove.protocol.mls.group import Group
from cove.protocol.mls.key_package_bundle import default_capabilities
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal, ProposalOrRef, Remove
from cove.protocol.mls.welcome import GroupInfo

from .helpers import ED, GROUP_ID, NOW, entry_for, settings_with

VALIDATOR = CoveCredentialValidator()


def caps() -> Capabilities:
    base = default_capabilities(1)
    return replace(base, extensions=(*base.extensions, JOIN_SETTINGS_EXTENSION))


def identity(handle: str, seed: int) -> tuple[bytes, bytes, CoveIdentity]:
    rng = SeededRandom(f"mls {handle} {seed}")
    identity_private, _ = ED.generate_signature_key_pair(rng)
    device_private, device_key = ED.generate_signature_key_pair(rng)
    return (
        identity_private,
        device_private,
        CoveIdentity.create(handle, identity_private, device_key),
    )


def external_join(commit: bytes, roster: dict[int, bytes]) -> ExternalJoin:
    """What a member's policy engine hands to check_external_join."""
    body = MLSMessage.from_bytes(commit).body
    assert isinstance(body, PublicMessage)
    return external_join_of(body.content, roster.get)


def test_open_link_join_end_to_end() -> None:
    _ana_id, ana_dev, ana = identity("ana", 1)
    link = link_for_handle(ana)
    entry = entry_for(link, LinkMode.OPEN, max_uses=1)
    settings = settings_with(entry, rules=True)
    rng = SeededRandom("open join")
    group = Group.create(
        1,
        GROUP_ID,
        ana.credential(),
        rng,
        signature_private=ana_dev,
        extensions=(settings.extension(),),
        capabilities=caps(),
        credential_validator=VALIDATOR,
        now=NOW,
    )
    sealed = seal_group_info(
        entry.link_id,
        entry.groupinfo_key,
        group.epoch,
        group.group_info_bytes(),
        group.ratchet_tree(),
        rng,
    )

    # the joiner, with the link only
    nia_id, nia_dev, nia = identity("nia", 2)
    epoch, info_bytes, tree = open_group_info(sealed, link.keys())
    info = MLSMessage.from_bytes(info_bytes).body
    assert isinstance(info, GroupInfo) and info.group_context.group_id == GROUP_ID
    seen = JoinSettings.from_extensions(info.group_context.extensions)
    assert seen == settings
    proof = make_link_join_proof(
        link.keys(),
        group_id=GROUP_ID,
        epoch=epoch,
        joiner_signature_key=ED.signature_public_key(nia_dev),
        identity_private=nia_id,
        rules=seen.rules,
    )
    joined, commit = Group.join_external(
        info_bytes,
        nia.credential(),
        rng,
        signature_private=nia_dev,
        ratchet_tree=tree,
        capabilities=caps(),
        credential_validator=VALIDATOR,
        authenticated_data=proof,
    )

    # ana (every member) checks the external commit before applying it
    members = frozenset({ana.identity_key})
    j = external_join(commit, {0: ana.identity_key})
    assert (j.epoch, j.joiner_identity_key, j.other_proposals) == (0, nia.identity_key, 0)
    used = check_external_join(
        settings,
        j,
        members=members,
        banned=frozenset(),
        pending_link_join=None,
    )
    assert used == entry.link_id
    group.process(commit)
    assert group.epoch == joined.epoch == 1

    # a hostile party replays the same proof with her own external commit: refused
    eve_id, eve_dev, eve = identity("eve", 3)
    _, eve_commit = Group.join_external(
        group.group_info_bytes(),
        eve.credential(),
        rng,
        signature_private=eve_dev,
        ratchet_tree=group.ratchet_tree(),
        capabilities=caps(),
        credential_validator=VALIDATOR,
        authenticated_data=proof,
    )
    with pytest.raises(InviteRefused) as info_refused:
        check_external_join(
            settings,
            external_join(eve_commit, {0: ana.identity_key, 1: nia.identity_key}),
            members=members | {nia.identity_key},
            banned=frozenset(),
            pending_link_join=used,
        )
    assert info_refused.value.rule == "invite.open.not_counted"
    # and even with the count done, the lifted proof fails: its rules acceptance is nia's
    with pytest.raises(InviteRefused) as info_refused:
        check_external_join(
            settings,
            external_join(eve_commit, {0: ana.identity_key, 1: nia.identity_key}),
            members=members | {nia.identity_key},
            banned=frozenset(),
            pending_link_join=None,
        )
    assert info_refused.value.rule == "invite.open.rules_not_accepted"

    # the joiner's first own commit counts her join (any member may make exactly this change)
    counted = settings.with_use_counted(used)
    out = joined.commit(
        [Proposal(GroupContextExtensions(with_join_settings(joined.extensions, counted)))]
    )
    check_join_settings_change(
        settings.to_bytes(),
        counted.to_bytes(),
        may_manage=False,
        may_configure=False,
        pending_link_join=used,
    )
    joined.apply_pending_commit()
    # the adapter refuses what is not an external commit with a path, or removes a blank leaf
    eve_content = MLSMessage.from_bytes(eve_commit).body.content  # type: ignore[union-attr]
    as_member = replace(eve_content, sender=Sender.member(0))
    no_path = replace(eve_content, content=replace(eve_content.content, path=None))
    blank = replace(
        eve_content,
        content=replace(
            eve_content.content,
            proposals=(*eve_content.content.proposals, ProposalOrRef(Proposal(Remove(5)))),
        ),
    )
    for content, rule in (
        (as_member, "invite.open.extra_proposals"),
        (no_path, "invite.open.extra_proposals"),
        (blank, "invite.open.removes_other"),
    ):
        with pytest.raises(InviteRefused) as info_refused:
            external_join_of(content, {0: ana.identity_key}.get)
        assert info_refused.value.rule == rule
    removing = replace(
        eve_content,
        content=replace(
            eve_content.content,
            proposals=(*eve_content.content.proposals, ProposalOrRef(Proposal(Remove(0)))),
        ),
    )
    assert external_join_of(removing, {0: ana.identity_key}.get).removed_identity_keys == (
        ana.identity_key,
    )
    group.process(out.commit)
    after = JoinSettings.from_extensions(group.extensions)
    assert after is not None and after.link(used).used == 1  # type: ignore[union-attr]

    # now the link is used up: even a fresh, valid proof is refused
    fresh = make_link_join_proof(
        link.keys(),
        group_id=GROUP_ID,
        epoch=group.epoch,
        joiner_signature_key=ED.signature_public_key(eve_dev),
        identity_private=eve_id,
        rules=after.rules,
    )
    with pytest.raises(InviteRefused) as info_refused:
        check_external_join(
            after,
            ExternalJoin(
                GROUP_ID, group.epoch, ED.signature_public_key(eve_dev), eve.identity_key, fresh
            ),
            members=members | {nia.identity_key},
            banned=frozenset(),
            pending_link_join=None,
        )
    assert info_refused.value.rule == "invite.open.used_up"


def link_for_handle(ident: CoveIdentity):  # type: ignore[no-untyped-def]
    from cove.protocol.invites import new_invite_link

    return new_invite_link(
        "https://relay.example.org", ident.handle, ident.identity_key, SeededRandom(11)
    )
