"""Open links on real groups: an external commit is judged as a link join by every
member, the next commit must count it, and hostile joiners and members who go under
their client are refused with the exact rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cove.protocol.errors import ValidationError
from cove.protocol.invites import (
    LinkJoinProof,
    make_link_join_proof,
    new_invite_link,
    rules_hash,
)
from cove.protocol.invites.join_settings import HistoryLevel, JoinSettings, with_join_settings
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.framing import MLSMessage, PublicMessage
from cove.protocol.mls.group import Group, joining, policy_hook
from cove.protocol.mls.proposal_list import ProposalInfo
from cove.protocol.mls.proposals import Add, GroupContextExtensions, Proposal
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.policy import (
    Decision,
    PolicyRefused,
    authorize_mls_commit,
    ban_proposals,
    count_link_join,
    group_state,
)
from tests.support.hostile import under_the_client

from .link_groups import RELAY, Scene, bundle, make_scene
from .people import P, refused


@contextmanager
def not_counting() -> Iterator[None]:
    """A hostile member's group code that leaves the link join uncounted."""
    saved = policy_hook.link_count

    def as_is(extensions: Any, proposals: Any, pending: Any) -> list[Proposal]:
        return list(proposals)

    policy_hook.link_count = as_is  # type: ignore[assignment]
    try:
        yield
    finally:
        policy_hook.link_count = saved  # type: ignore[assignment]


def judge(s: Scene, name: str, commit: bytes) -> Decision:
    """The policy's decision on an external commit, from its structs alone (no MLS
    validation first): for rules MLS enforces before the policy runs."""
    g = s.g(name)
    body = MLSMessage.from_bytes(commit).body
    assert isinstance(body, PublicMessage) and isinstance(body.content.content, Commit)
    c = body.content.content
    infos = [ProposalInfo(i.proposal, body.content.sender) for i in c.proposals if i.proposal]
    tree = RatchetTree.from_bytes(g.suite, g.ratchet_tree())
    return authorize_mls_commit(
        tree,
        g.extensions,
        infos,
        body.content.sender,
        c.path,
        content=body.content,
        pending_link_join=g.pending_link_join,
    )


def joined(s: Scene, name: str, **kwargs: Any) -> Group:
    """``name`` joins by the open link and every member accepts it."""
    group, commit = s.join(name, **kwargs)
    s.deliver_external(commit)
    s.groups[name] = group
    return group


# -- the allowed path -----------------------------------------------------------------


def test_one_joiner_per_use_counted_by_the_next_commit_whoever_makes_it() -> None:
    s = make_scene(max_uses=2)
    link_id = s.open_link.link_id
    eve = joined(s, "eve")
    assert [g.pending_link_join for g in s.members] == [link_id] * 4
    assert (
        eve.epoch == s.g("olga").epoch
        and eve.epoch_authenticator == s.g("olga").epoch_authenticator
    )
    # ana, a plain member, makes an ordinary self-update: her group code counts the join.
    s.deliver("ana", s.g("ana").update().commit)
    assert [g.pending_link_join for g in s.members] == [None] * 4
    assert {s.used(n) for n in s.groups} == {1}

    # dan joins; this time the joiner's own first commit counts her join.
    dan = joined(s, "dan")
    assert dan.pending_link_join == link_id
    s.deliver("dan", dan.update().commit)
    assert {s.used(n) for n in s.groups} == {2}

    # At max_uses: the joiner's own client refuses, and a hostile one is refused by all.
    with pytest.raises(PolicyRefused) as caught:
        s.join("cara")
    refused(caught.value.decision, "policy.join.open.used_up")
    with under_the_client():
        _, commit = s.join("cara")
    [decision, *_] = s.refused_by_all(commit)
    text = refused(decision, "policy.join.open.used_up")
    assert text == (
        "cara tried to join the group through a link — refused: "
        "the link has been used as many times as it allows"
    )


def test_every_operation_after_a_link_join_counts_it() -> None:
    s = make_scene(max_uses=3)
    joined(s, "eve")
    # A moderator's rename-free settings change (history) carries the count merged in.
    change = dataclasses.replace(s.settings("mona"), history=HistoryLevel.FULL)
    s.commit_settings("mona", change)
    assert s.used() == 1 and s.settings().history == HistoryLevel.FULL
    joined(s, "dan")
    # An owner's removal of someone counts it too (an extra GroupContextExtensions).
    out = s.g("olga").remove([s.g("ana").my_leaf_index])
    s.deliver("olga", out.commit)
    assert s.used() == 2 and not s.g("ana").active
    # A moderator who revokes the link in the commit after a join does not count it.
    joined(s, "cara")
    s.commit_settings("mona", s.settings("mona").without_link(s.open_link.link_id))
    assert s.settings().link(s.open_link.link_id) is None
    assert s.g("olga").pending_link_join is None


def test_a_member_rejoins_replacing_her_own_leaf() -> None:
    s = make_scene()
    ana = s.g("ana")
    group, commit = s.join("ana", remove_leaf=ana.my_leaf_index)
    for name in ("olga", "mona"):
        s.g(name).process(commit)
    assert ana.process(commit).removed_me  # type: ignore[union-attr]
    assert group.pending_link_join == s.open_link.link_id


def test_the_pending_link_join_survives_persistence_and_old_formats_are_read() -> None:
    s = make_scene()
    eve = joined(s, "eve")
    olga = s.g("olga")
    again = Group.from_state(olga.epoch_state(), olga.message_state(), s.rng)
    assert again.pending_link_join == s.open_link.link_id
    assert Group.from_bytes(eve.to_bytes(), s.rng).pending_link_join == s.open_link.link_id
    s.deliver("ana", s.g("ana").update().commit)
    state = olga.epoch_state()
    assert state[0] == 3 and state[-1] == 0  # format 3, pending_link_join absent
    old = Group.from_state(b"\x02" + state[1:-1], olga.message_state(), s.rng)
    assert old.pending_link_join is None and old.epoch_state() == state


# -- refused external commits -------------------------------------------------------------


def test_no_join_settings_or_open_links_off() -> None:
    s = make_scene(with_settings=False)
    with under_the_client():
        _, commit = s.join("eve", proof=b"")
    refused(s.refused_by_all(commit)[0], "policy.external.not_allowed")

    s = make_scene(open_links=False)
    with pytest.raises(PolicyRefused) as caught:
        s.join("eve")
    refused(caught.value.decision, "policy.join.open.disabled")
    with under_the_client():
        _, commit = s.join("eve")
    text = refused(s.refused_by_all(commit)[0], "policy.join.open.disabled")
    assert text.endswith("this group does not admit people through open links")


def test_approval_and_unknown_links_and_bad_proofs() -> None:
    s = make_scene()

    def refusal(**kwargs: Any) -> Decision:
        with under_the_client():
            _, commit = s.join("eve", **kwargs)
        return s.refused_by_all(commit)[0]

    refused(refusal(link=s.approval_link), "policy.join.open.approval_link")
    stranger = new_invite_link(RELAY, "olga", P("olga").identity_key, s.rng)
    refused(refusal(link=stranger), "policy.join.open.unknown_link")
    refused(refusal(proof=b""), "policy.join.open.no_proof")
    refused(refusal(proof=b"\x11cove link join v1 junk"), "policy.join.open.malformed_proof")


def test_a_proof_lifted_into_another_epoch_or_by_another_joiner() -> None:
    s = make_scene()
    olga = s.g("olga")
    # eve's proof, carried by cara's external commit
    eve = P("eve")
    stolen = make_link_join_proof(
        s.open_link.keys(),
        group_id=olga.group_id,
        epoch=olga.epoch,
        joiner_signature_key=eve.device_key,
        identity_private=eve.identity_private,
        rules=None,
    )
    with under_the_client():
        _, commit = s.join("cara", proof=stolen)
    refused(s.refused_by_all(commit)[0], "policy.join.open.bad_proof")
    # a proof for an earlier epoch, used after another commit
    old_epoch = olga.epoch
    s.deliver("ana", s.g("ana").update().commit)
    with under_the_client():
        _, commit = s.join("eve", epoch=old_epoch)
    refused(s.refused_by_all(commit)[0], "policy.join.open.bad_proof")


def test_a_second_link_join_before_the_first_is_counted() -> None:
    s = make_scene(max_uses=5)
    joined(s, "eve")
    # dan's client does not know the last commit was a link join: its own check passes,
    # every member refuses.
    _, commit = s.join("dan")
    text = refused(s.refused_by_all(commit)[0], "policy.join.open.not_counted")
    assert text.endswith("the previous join through a link has not been counted yet")


def test_an_external_commit_may_remove_only_the_joiner_and_add_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = make_scene()
    ana_leaf = s.g("ana").my_leaf_index
    # MLS itself refuses a Remove of another participant (RFC 9420 §12.4.3.2) ...
    monkeypatch.setattr(joining, "validate_proposal_list", lambda *a, **k: None)
    with under_the_client():
        _, commit = s.join("eve", remove_leaf=ana_leaf)
    monkeypatch.undo()
    with pytest.raises(ValidationError) as caught:
        s.g("olga").process(commit)
    assert caught.value.rule == "V-EXTERNAL-002"
    # ... and so does the policy, judged on the commit's own structs.
    refused(judge(s, "olga", commit), "policy.join.open.removes_other")

    original = joining.external_proposals
    dan = bundle("dan", s.rng).key_package

    def with_an_add(kem_output: bytes, remove_leaf: int | None) -> list[Proposal]:
        return [*original(kem_output, remove_leaf), Proposal(Add(dan))]

    monkeypatch.setattr(joining, "external_proposals", with_an_add)
    monkeypatch.setattr(joining, "validate_proposal_list", lambda *a, **k: None)
    with under_the_client():
        _, commit = s.join("eve")
    monkeypatch.undo()
    with pytest.raises(ValidationError) as caught:
        s.g("mona").process(commit)
    assert caught.value.rule == "V-PROP-017"
    refused(judge(s, "mona", commit), "policy.join.open.extra_proposals")


def test_banned_people_and_members_cannot_join_by_link() -> None:
    s = make_scene()
    olga = s.g("olga")
    tree = RatchetTree.from_bytes(olga.suite, olga.ratchet_tree())
    ban = ban_proposals(group_state(tree, olga.extensions), P("ana").identity_key)
    out = olga.commit([Proposal(b) for b in ban])
    s.deliver("olga", out.commit)
    assert not s.g("ana").active
    with pytest.raises(PolicyRefused) as caught:
        s.join("ana")
    refused(caught.value.decision, "policy.join.open.banned")
    with under_the_client():
        _, commit = s.join("ana")
    refused(s.refused_by_all(commit)[0], "policy.join.open.banned")
    # mona, still a member, joins a second time without giving up her leaf
    with under_the_client():
        _, commit = s.join("mona")
    refused(s.refused_by_all(commit)[0], "policy.join.open.already_member")


def test_rules_must_be_accepted_to_join() -> None:
    s = make_scene()
    olga = s.g("olga")
    h = rules_hash(olga.group_id, 1, b"s" * 16, "be kind")
    s.commit_settings("olga", s.settings().with_rules(h))
    with under_the_client():
        _, commit = s.join("eve", proof=s.proof("eve", no_rules=True))
    refused(s.refused_by_all(commit)[0], "policy.join.open.rules_not_accepted")
    # With the acceptance in the proof she joins.
    eve, commit = s.join("eve")
    body = MLSMessage.from_bytes(commit).body
    assert isinstance(body, PublicMessage)
    proof = LinkJoinProof.from_bytes(body.content.authenticated_data)
    assert (proof.rules_version, proof.rules_hash, len(proof.acceptance)) == (1, h, 64)
    s.deliver_external(commit)
    assert eve.pending_link_join == s.open_link.link_id


# -- the commit after a link join --------------------------------------------------------


def test_the_commit_after_a_link_join_must_count_it_and_nothing_more() -> None:
    s = make_scene()
    joined(s, "eve")
    with under_the_client(), not_counting():
        out = s.g("ana").update()
    decision = s.refused_by_all(out.commit, skip="ana")[0]
    text = refused(decision, "policy.join.settings.count_missing")
    assert text.startswith("ana tried to change how people join the group")
    s.g("ana").discard_pending_commit()

    # ana counts it, and also changes the history level she may not change.
    ana = s.g("ana")
    change = dataclasses.replace(JoinSettings.from_extensions(ana.extensions) or JoinSettings(),
                                 history=HistoryLevel.FULL)  # fmt: skip
    with under_the_client():
        out = ana.commit(
            [Proposal(GroupContextExtensions(with_join_settings(ana.extensions, change)))]
        )
    refused(s.refused_by_all(out.commit, skip="ana")[0], "policy.join.settings.not_allowed")
    ana.discard_pending_commit()

    # the honest count goes through
    s.deliver("ana", ana.update().commit)
    assert s.used() == 1


def test_count_link_join_merges_once_and_never_counts_past_the_cap() -> None:
    s = make_scene(max_uses=2)
    olga = s.g("olga")
    link_id = s.open_link.link_id
    exts = olga.extensions
    base = s.settings()
    # no GroupContextExtensions: one is added that changes only the count
    (extra,) = count_link_join(exts, [], link_id)
    assert isinstance(extra.body, GroupContextExtensions)
    assert JoinSettings.from_extensions(extra.body.extensions) == base.with_use_counted(link_id)
    # one that counts already, or revokes the link, is left as it is
    counted = Proposal(
        GroupContextExtensions(with_join_settings(exts, base.with_use_counted(link_id)))
    )
    assert count_link_join(exts, [counted], link_id) == [counted]
    revoked = Proposal(GroupContextExtensions(with_join_settings(exts, base.without_link(link_id))))
    assert count_link_join(exts, [revoked], link_id) == [revoked]
    # a used-up link (a join every member refuses) is not counted
    full = base.with_use_counted(link_id).with_use_counted(link_id)
    assert count_link_join(with_join_settings(exts, full), [], link_id) == []
    # unknown link: nothing
    assert count_link_join(exts, [], b"\x00" * 10) == []
