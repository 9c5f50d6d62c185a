"""The adapter on real MLS groups: a Cove group created with the policy
extension, commits made by the Group API, judged from the structs MLS has."""

from __future__ import annotations

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.identity import CoveCredentialValidator
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.framing import MLSMessage, PublicMessage, Sender, SenderType, WireFormat
from cove.protocol.mls.group import Group, GroupConfig
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.leaf_node import LeafNodeSource
from cove.protocol.mls.proposal_list import ProposalInfo
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal, Remove, Update
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.policy import (
    Decision,
    GroupPolicy,
    PolicyRefused,
    Role,
    authorize_join,
    authorize_mls_commit,
    ban_proposals,
    commit_input,
    group_state,
    initial_extensions,
    remove_proposals,
    roster_from_tree,
    set_role_proposals,
    unban_proposals,
)
from tests.support.hostile import under_the_client

from .people import CAPS, METADATA, P, refused

NOW = 1_800_000_000
PUBLIC = GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE)
VALIDATOR = CoveCredentialValidator()


def bundle(name: str, rng: SeededRandom) -> KeyPackageBundle:
    p = P(name)
    return KeyPackageBundle.create(
        1,
        p.identity().credential(),
        rng,
        now=NOW,
        signature_private=p.device_private,
        capabilities=CAPS,
    )


def tree_of(g: Group) -> RatchetTree:
    return RatchetTree.from_bytes(g.suite, g.ratchet_tree())


def judge(receiver: Group, commit_bytes: bytes) -> Decision:
    """What ``receiver`` decides about a commit, from the MLS structs alone."""
    msg = MLSMessage.from_bytes(commit_bytes)
    assert isinstance(msg.body, PublicMessage)
    content = msg.body.content
    commit = content.content
    assert isinstance(commit, Commit)
    infos = [
        ProposalInfo(item.proposal, content.sender) for item in commit.proposals if item.proposal
    ]
    return authorize_mls_commit(
        tree_of(receiver), receiver.extensions, infos, content.sender, commit.path
    )


def make_group() -> tuple[list[Group], SeededRandom]:
    """olga (owner), mona, ana, cara, each in their own Group object."""
    rng = SeededRandom(b"policy adapter")
    olga = Group.create(
        1,
        b"g" * 16,
        P("olga").identity().credential(),
        rng,
        signature_private=P("olga").device_private,
        extensions=initial_extensions(P("olga").identity_key, METADATA),
        capabilities=CAPS,
        config=PUBLIC,
        credential_validator=VALIDATOR,
        now=NOW,
    )
    bundles = [bundle(n, rng) for n in ("mona", "ana", "cara")]
    out = olga.add([b.key_package_bytes() for b in bundles], now=NOW)
    olga.apply_pending_commit()
    assert out.welcome is not None
    others = [
        Group.join(out.welcome, b, rng, config=PUBLIC, credential_validator=VALIDATOR)
        for b in bundles
    ]
    return [olga, *others], rng


def commit_everywhere(groups: list[Group], sender: Group, out_commit: bytes) -> None:
    for g in groups:
        if g is sender:
            g.apply_pending_commit()
        else:
            assert judge(g, out_commit).allowed
            g.process(out_commit)


def test_roster_from_a_real_tree() -> None:
    groups, _ = make_group()
    roster = roster_from_tree(tree_of(groups[0]))
    assert [(m.leaf, m.handle) for m in roster] == [
        (0, "olga"),
        (1, "mona"),
        (2, "ana"),
        (3, "cara"),
    ]
    assert roster.by_identity(P("ana").identity_key) == roster.at(2)
    policy = GroupPolicy.from_extensions(groups[0].extensions)
    assert policy is not None
    assert policy.roles_in(roster) == {
        0: Role.OWNER,
        1: Role.MEMBER,
        2: Role.MEMBER,
        3: Role.MEMBER,
    }


def test_owner_actions_allowed_and_hostile_member_refused() -> None:
    groups, rng = make_group()
    olga, mona, ana, cara = groups
    state = group_state(tree_of(olga), olga.extensions)
    # olga makes mona a moderator: every member's policy check passes.
    out = olga.commit(
        [Proposal(b) for b in set_role_proposals(state, P("mona").identity_key, Role.MODERATOR)]
    )
    commit_everywhere(groups, olga, out.commit)
    policy = GroupPolicy.from_extensions(ana.extensions)
    assert policy is not None and policy.assigned(P("mona").identity_key) == Role.MODERATOR

    # cara goes under her client: she removes the owner and the moderator. MLS would
    # accept it; the policy refuses it for every honest member.
    with under_the_client():
        attack = cara.remove([olga.my_leaf_index, mona.my_leaf_index])
    for g in (olga, mona, ana):
        text = refused(judge(g, attack.commit), "policy.remove.requires_moderator")
        assert text.startswith("cara tried to remove olga")
    cara.discard_pending_commit()

    # cara promotes herself
    state = group_state(tree_of(cara), cara.extensions)
    promote = set_role_proposals(state, P("cara").identity_key, Role.OWNER)
    with under_the_client():
        attack = cara.commit([Proposal(b) for b in promote])
    refused(judge(ana, attack.commit), "policy.role.requires_owner")
    cara.discard_pending_commit()

    # cara adds an outsider
    with under_the_client():
        attack = cara.add([bundle("eve", rng).key_package_bytes()], now=NOW)
    refused(judge(olga, attack.commit), "policy.add.requires_moderator")
    cara.discard_pending_commit()

    # mona bans cara (Remove + banned role in one commit), then cannot re-add her
    state = group_state(tree_of(mona), mona.extensions)
    out = mona.commit([Proposal(b) for b in ban_proposals(state, P("cara").identity_key)])
    commit_everywhere([olga, mona, ana], mona, out.commit)
    assert cara.process(out.commit).removed_me  # type: ignore[union-attr]
    with under_the_client():
        readd = mona.add([bundle("cara", rng).key_package_bytes()], now=NOW)
    refused(judge(olga, readd.commit), "policy.add.banned")
    mona.discard_pending_commit()

    # unban, then re-adding works
    state = group_state(tree_of(mona), mona.extensions)
    out = mona.commit([Proposal(b) for b in unban_proposals(state, P("cara").identity_key)])
    commit_everywhere([olga, mona, ana], mona, out.commit)
    readd = mona.add([bundle("cara", rng).key_package_bytes()], now=NOW)
    assert judge(olga, readd.commit).allowed


def test_removing_a_moderator_clears_the_role() -> None:
    groups, _ = make_group()
    olga, mona, ana, _cara = groups
    state = group_state(tree_of(olga), olga.extensions)
    out = olga.commit(
        [Proposal(b) for b in set_role_proposals(state, P("mona").identity_key, Role.MODERATOR)]
    )
    commit_everywhere(groups, olga, out.commit)
    state = group_state(tree_of(olga), olga.extensions)
    with under_the_client():
        bare = olga.remove([mona.my_leaf_index])
    refused(judge(ana, bare.commit), "policy.remove.role_not_cleared")
    olga.discard_pending_commit()
    proposals = remove_proposals(state, [mona.my_leaf_index])
    assert isinstance(proposals[-1], GroupContextExtensions)
    out = olga.commit([Proposal(b) for b in proposals])
    assert judge(ana, out.commit).allowed


def test_outsider_added_by_a_member_refuses_the_welcome() -> None:
    groups, rng = make_group()
    olga, _mona, _ana, cara = groups
    eve_bundle = bundle("eve", rng)
    with under_the_client():
        attack = cara.add([eve_bundle.key_package_bytes()], now=NOW)  # Welcome in her own inbox
    refused(judge(olga, attack.commit), "policy.add.requires_moderator")
    cara.apply_pending_commit()  # cara goes ahead alone
    assert attack.welcome is not None
    # The group code runs authorize_join on the Welcome: eve does not join.
    with pytest.raises(PolicyRefused) as caught:
        Group.join(attack.welcome, eve_bundle, rng, config=PUBLIC, credential_validator=VALIDATOR)
    text = refused(caught.value.decision, "policy.add.requires_moderator")
    assert text == "cara tried to add you — refused: only moderators and owners can add members"
    # An honest owner's Welcome passes the same check.
    dan_bundle = bundle("dan", rng)
    out = olga.add([dan_bundle.key_package_bytes()], now=NOW)
    olga.apply_pending_commit()
    assert out.welcome is not None
    dan = Group.join(out.welcome, dan_bundle, rng, config=PUBLIC, credential_validator=VALIDATOR)
    state = group_state(tree_of(dan), dan.extensions)
    assert authorize_join(state, olga.my_leaf_index, P("dan").identity_key).allowed


def test_commit_input_maps_senders() -> None:
    groups, _ = make_group()
    olga = groups[0]
    update = Proposal(Update(P("ana").leaf(LeafNodeSource.UPDATE)))
    infos = [
        ProposalInfo(update, Sender.member(2), b"ref"),
        ProposalInfo(Proposal(Remove(3)), Sender(SenderType.NEW_MEMBER_PROPOSAL)),
    ]
    got = commit_input(infos, Sender.member(0), None)
    assert (got.committer, [p.proposer for p in got.proposals], got.path_leaf) == (
        0,
        [2, None],
        None,
    )
    external = Sender(SenderType.NEW_MEMBER_COMMIT)
    refused(
        authorize_mls_commit(tree_of(olga), olga.extensions, [], external, None),
        "policy.external.not_allowed",
    )
    refused(
        authorize_mls_commit(tree_of(olga), olga.extensions, infos, Sender.member(0), None),
        "policy.proposal.proposer_not_member",
    )
