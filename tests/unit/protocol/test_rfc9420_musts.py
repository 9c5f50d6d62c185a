"""RFC 9420 MUSTs that the vectors never exercise (issue 10), each enforced by every
member that receives the commit: a hostile committer goes under its client (it
builds the commit with the group's internals, skipping its own checks), and the
receivers refuse it with the exact rule, unchanged. Plus the valid commits that
used to be refused."""

from __future__ import annotations

import dataclasses
import functools

from cove.protocol.crypto import SeededRandom
from cove.protocol.crypto.labels import sign_with_label
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.extensions import Extension, ExtensionType, RequiredCapabilities
from cove.protocol.mls.framing import Sender
from cove.protocol.mls.group import AppliedCommit, CommitOutput, Group, building
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_package_bundle import (
    KeyPackageBundle,
    default_capabilities,
    sign_leaf_node,
)
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.mls.proposal_list import ProposalInfo, apply_proposals
from cove.protocol.mls.proposals import Add, GroupContextExtensions, Proposal, ProposalOrRef, Remove
from cove.protocol.mls.tree_math import LeafIndex
from cove.protocol.mls.validation import KEY_PACKAGE_LABEL
from tests.support.rules import raises_rule
from tests.unit.protocol.test_group import NOW, agree, make_group

RNG = SeededRandom(b"musts")
EXT = 0xF0F3  # a private-use extension type some members support
REQUIRE_EXT = Extension(
    ExtensionType.REQUIRED_CAPABILITIES, RequiredCapabilities((EXT,)).to_bytes()
)


def caps(*extensions: int) -> Capabilities:
    return dataclasses.replace(default_capabilities(1), extensions=extensions)


def kp_bundle(
    name: str, capabilities: Capabilities | None = None, **kw: object
) -> KeyPackageBundle:
    return KeyPackageBundle.create(
        1,
        Credential.basic(name.encode()),
        RNG,
        now=NOW,
        capabilities=capabilities,
        **kw,  # type: ignore[arg-type]
    )


def group_with(capabilities: list[Capabilities]) -> list[Group]:
    """Members m0, m1, ... with the given capabilities (m0 creates, one batched Add)."""
    a = Group.create(
        1, b"musts" * 3, Credential.basic(b"m0"), RNG, now=NOW, capabilities=capabilities[0]
    )
    bundles = [kp_bundle(f"m{i}", c) for i, c in enumerate(capabilities[1:], 1)]
    out = a.add([b.key_package for b in bundles], now=NOW)
    a.apply_pending_commit()
    assert out.welcome is not None
    return [a] + [Group.join(out.welcome, b, RNG) for b in bundles]


def hostile_commit(
    g: Group, proposals: list[Proposal], *, my_leaf_credential: Credential | None = None
) -> CommitOutput:
    """What a committer that skips its own validation sends (real keys, real crypto)."""
    me = Sender.member(g.my_leaf_index)
    infos = [ProposalInfo(p, me, None) for p in proposals]
    applied = apply_proposals(infos, g._epoch.tree, g._epoch.context.extensions)
    if my_leaf_credential is not None:
        node = applied.tree.leaf(g.my_leaf_index)
        assert node is not None
        applied.tree.update_leaf(
            LeafIndex(g.my_leaf_index), dataclasses.replace(node, credential=my_leaf_credential)
        )
    with g._atomic():
        return building.create_commit(
            g,
            applied,
            tuple(ProposalOrRef(p) for p in proposals),
            me,
            LeafIndex(g.my_leaf_index),
            g._epoch.secrets.init_secret,
            b"",
            g._signature_private,
        )


def refused_by(receivers: list[Group], commit: bytes, rule: str) -> None:
    for g in receivers:
        before = g.to_bytes()
        with raises_rule(rule):
            g.process(commit)
        assert g.to_bytes() == before


# -- §12.2 / §12.4.3.2: an external joiner removes only its own earlier leaf ----------


class TrustingValidator:
    """A hostile joiner's validator: every participant is "the same"."""

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        return None

    def same_participant(self, old: Credential, new: Credential) -> bool:
        return True


def test_rfc9420_s12_4_3_2_external_joiner_removes_only_its_own_leaf() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    info = a.group_info_bytes()
    with raises_rule("V-EXTERNAL-002"):
        Group.join_external(info, Credential.basic(b"mallory"), RNG, remove_leaf=1)
    _, commit = Group.join_external(
        info,
        Credential.basic(b"mallory"),
        RNG,
        remove_leaf=1,
        credential_validator=TrustingValidator(),
    )
    refused_by([a, b, c], commit, "V-EXTERNAL-002")
    # b's real rejoin (same credential, her old leaf) is accepted by everyone.
    b2, commit = Group.join_external(info, Credential.basic(b"m1"), RNG, remove_leaf=1)
    for g in (a, c):
        assert isinstance(g.process(commit), AppliedCommit)
    assert b.process(commit).removed_me  # type: ignore[union-attr]
    agree([a, b2, c])


# -- §5.3.1: a committer cannot swap its identity ---------------------------------------


def test_rfc9420_s5_3_1_committer_keeps_its_identity() -> None:
    groups, _ = make_group(3)
    a, mallory, c = groups
    out = hostile_commit(mallory, [], my_leaf_credential=Credential.basic(b"m0"))
    refused_by([a, c], out.commit, "V-LEAF-010")
    mallory.discard_pending_commit()
    out = mallory.update()  # the honest one goes through
    for g in (a, c):
        assert isinstance(g.process(out.commit), AppliedCommit)


# -- §12.1.7: new members are checked against the extensions the commit sets ----------


def test_rfc9420_s12_1_7_adds_checked_against_new_required_capabilities() -> None:
    groups = group_with([caps(EXT), caps(EXT), caps(EXT)])
    a, b, c = groups
    lacking = kp_bundle("lacking")  # does not support EXT
    proposals = [
        Proposal(GroupContextExtensions((REQUIRE_EXT,))),
        Proposal(Add(lacking.key_package)),
    ]
    with raises_rule("V-LEAF-006"):
        a.commit(proposals, now=NOW)
    assert not a.has_pending_commit
    refused_by([b, c], hostile_commit(a, proposals).commit, "V-LEAF-006")


def test_rfc9420_s12_1_7_removed_member_need_not_support_new_extensions() -> None:
    """A valid commit that used to be refused: Remove(c) + extensions c cannot support."""
    groups = group_with([caps(EXT), caps(EXT), caps()])
    a, b, c = groups
    out = a.commit([Proposal(GroupContextExtensions((REQUIRE_EXT,))), Proposal(Remove(2))], now=NOW)
    assert isinstance(b.process(out.commit), AppliedCommit)
    assert c.process(out.commit).removed_me  # type: ignore[union-attr]
    a.apply_pending_commit()
    agree([a, b])
    assert REQUIRE_EXT in a.extensions


# -- §7.3 / §12.2: two new leaves never share an encryption key -------------------------


def twin_key_package(of: KeyPackageBundle, name: str) -> KeyPackage:
    """A KeyPackage of another client whose leaf copies ``of``'s encryption key."""
    other = kp_bundle(name)
    leaf = dataclasses.replace(
        other.key_package.leaf_node, encryption_key=of.key_package.leaf_node.encryption_key
    )
    leaf = sign_leaf_node(other.suite, leaf, other.signature_private)
    kp = dataclasses.replace(other.key_package, leaf_node=leaf)
    sig = sign_with_label(other.suite, other.signature_private, KEY_PACKAGE_LABEL, kp.tbs())
    return dataclasses.replace(kp, signature=sig)


def test_rfc9420_s7_3_two_adds_sharing_an_encryption_key() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    first = kp_bundle("first")
    twin = twin_key_package(first, "twin")
    with raises_rule("V-LEAF-007"):
        a.add([first.key_package, twin], now=NOW)
    assert not a.has_pending_commit
    proposals = [Proposal(Add(first.key_package)), Proposal(Add(twin))]
    refused_by([b, c], hostile_commit(a, proposals).commit, "V-LEAF-007")


# -- §12.2: a removed member may come back with the same signature key ----------------


def test_rfc9420_s12_2_remove_and_readd_with_the_same_signature_key() -> None:
    """A valid commit that used to be refused (V-PROP-003 / V-LEAF-008)."""
    groups, _ = make_group(3)
    a, b, c = groups
    again = kp_bundle("m2", signature_private=c._signature_private)
    out = a.commit([Proposal(Remove(2)), Proposal(Add(again.key_package))], now=NOW)
    assert isinstance(b.process(out.commit), AppliedCommit)
    a.apply_pending_commit()
    assert out.welcome is not None
    c2 = Group.join(out.welcome, again, RNG)
    agree([a, b, c2])


def test_cove_validator_same_participant_is_handle_and_identity_key() -> None:
    from cove.protocol.identity import CoveCredentialValidator, CoveIdentity

    suite = kp_bundle("x").suite
    identity_private, _ = suite.generate_signature_key_pair(RNG)
    other_identity, _ = suite.generate_signature_key_pair(RNG)
    _, device1 = suite.generate_signature_key_pair(RNG)
    _, device2 = suite.generate_signature_key_pair(RNG)
    ann = CoveIdentity.create("ann", identity_private, device1).credential()
    ann_new_device = CoveIdentity.create("ann", identity_private, device2).credential()
    not_ann = CoveIdentity.create("ann", other_identity, device1).credential()
    v = CoveCredentialValidator()
    assert v.same_participant(ann, ann_new_device)
    assert not v.same_participant(ann, not_ann)
    assert not v.same_participant(
        ann, CoveIdentity.create("bob", identity_private, device1).credential()
    )


# -- §11.2 / §12.4.2: nothing is sent or accepted after a ReInit commit ---------------


def test_rfc9420_s11_2_no_messages_after_a_reinit_commit() -> None:
    from cove.protocol.errors import StateError
    from cove.protocol.mls.proposals import ReInit

    groups, _ = make_group(3)
    a, b, c = groups
    reinit = ReInit(b"the next group!!", 1, 1)
    out = a.commit([Proposal(reinit)], now=NOW)
    for g in (b, c):
        assert isinstance(g.process(out.commit), AppliedCommit)
        assert g.reinit == reinit
    # A hostile committer keeps sending in the old group's new epoch: refused by all.
    rogue = Group.from_bytes(a.to_bytes(), RNG)
    rogue.apply_pending_commit()
    rogue._reinit = None
    late = rogue.encrypt(b"still talking")
    for g in (b, c):
        before = g.to_bytes()
        try:
            g.process(late)
        except StateError as e:
            assert "re-initialized" in str(e)
        else:
            raise AssertionError("an application message after ReInit was accepted")
        assert g.to_bytes() == before
    a.apply_pending_commit()
    assert a.reinit == reinit
    for g in (a, b):
        sends = (
            functools.partial(g.encrypt, b"x"),
            g.update,
            functools.partial(g.propose_remove, 2),
        )
        for send in sends:
            try:
                send()
            except StateError as e:
                assert "re-initialized" in str(e)
            else:
                raise AssertionError("sending after ReInit was allowed")
    # The ended state is persisted.
    again = Group.from_state(b.epoch_state(), b.message_state(), RNG)
    assert again.reinit == reinit


# -- §7.2 / §7.3: KeyPackage lifetimes: a maximum, a small skew, `now` required --------


def with_lifetime(b: KeyPackageBundle, not_before: int, not_after: int) -> KeyPackage:
    from cove.protocol.mls.leaf_node import Lifetime

    leaf = dataclasses.replace(b.key_package.leaf_node, lifetime=Lifetime(not_before, not_after))
    leaf = sign_leaf_node(b.suite, leaf, b.signature_private)
    kp = dataclasses.replace(b.key_package, leaf_node=leaf)
    sig = sign_with_label(b.suite, b.signature_private, KEY_PACKAGE_LABEL, kp.tbs())
    return dataclasses.replace(kp, signature=sig)


def test_rfc9420_s7_2_maximum_key_package_lifetime() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    forever = with_lifetime(kp_bundle("forever"), NOW - 10, NOW + 31_700 * 365 * 86400)
    with raises_rule("V-LEAF-011"):
        a.add([forever], now=NOW)
    out = hostile_commit(a, [Proposal(Add(forever))])
    for g in (b, c):
        before = g.to_bytes()
        with raises_rule("V-LEAF-011"):
            g.process(out.commit, now=NOW)
        assert g.to_bytes() == before


def test_rfc9420_s7_3_lifetime_allows_a_small_clock_skew() -> None:
    groups, _ = make_group(2)
    a = groups[0]
    # Made by a peer whose clock is 100 s ahead, starting at its creation second.
    ahead = with_lifetime(kp_bundle("ahead"), NOW + 100, NOW + 100 + 30 * 86400)
    out = a.add([ahead], now=NOW)
    a.discard_pending_commit()
    assert out.welcome is not None
    too_far = with_lifetime(kp_bundle("future"), NOW + 3600, NOW + 30 * 86400)
    with raises_rule("V-LEAF-005"):
        a.add([too_far], now=NOW)


def test_rfc9420_s7_3_now_is_required_for_a_commit_that_adds() -> None:
    from cove.protocol.errors import UsageError

    groups, _ = make_group(3)
    a, b, c = groups
    expired = KeyPackageBundle.create(1, Credential.basic(b"old"), RNG, now=NOW - 10**8)
    proposal = b.propose_add(expired.key_package)
    for g in (a, c):
        g.process(proposal)
    # update() used to commit the pending Add without any lifetime check: without a
    # clock it is now left out, and the caller is told.
    out = a.update()
    assert [reason for _, reason in out.left_out] == [
        "an Add needs now= to check the KeyPackage lifetime"
    ]
    a.discard_pending_commit()
    # An inline Add cannot be committed without a clock at all.
    try:
        a.commit([Proposal(Add(kp_bundle("new").key_package))])
    except UsageError as e:
        assert "now is required" in str(e)
    else:
        raise AssertionError("a commit adding a member was built without a clock")
    assert not a.has_pending_commit
    out = a.update(now=NOW)  # the expired Add is left out, and the caller is told why
    assert [ref for ref, _ in out.left_out] == [r for r in a._epoch.proposals]
    assert "V-LEAF-005" in out.left_out[0][1]
    a.discard_pending_commit()
    # A receiver given the time refuses a commit that adds the expired KeyPackage.
    forged = hostile_commit(a, [Proposal(Add(expired.key_package))])
    before = c.to_bytes()
    with raises_rule("V-LEAF-005"):
        c.process(forged.commit, now=NOW)
    assert c.to_bytes() == before


# -- §7.3 / §12.1.2: an Update replaces the leaf's encryption key ----------------------


def test_rfc9420_s12_1_2_update_must_change_the_encryption_key() -> None:
    from cove.protocol.mls.framing import FramedContent, MLSMessage, WireFormat
    from cove.protocol.mls.leaf_node import LeafNodeSource
    from cove.protocol.mls.message_protection import protect_private, sign_content
    from cove.protocol.mls.proposals import Update

    groups, _ = make_group(3)
    a, b, c = groups
    old = b._epoch.tree.leaf(1)
    assert old is not None
    same_key = sign_leaf_node(
        b.suite,
        dataclasses.replace(
            old, leaf_node_source=LeafNodeSource.UPDATE, parent_hash=None, lifetime=None
        ),
        b._signature_private,
        b.group_id,
        1,
    )
    proposal = Proposal(Update(same_key))
    content = FramedContent(b.group_id, b.epoch, Sender.member(1), b"", proposal)
    signed = sign_content(
        b.suite, WireFormat.PRIVATE_MESSAGE, content, b._signature_private, b.group_context
    )
    message = MLSMessage(
        protect_private(
            b.suite, signed, b._epoch.secret_tree, b._epoch.secrets.sender_data_secret, RNG
        )
    ).to_bytes()
    stored = a.process(message)
    c.process(message)
    # An honest committer leaves it out and says why ...
    out = a.update()
    assert [reason for _, reason in out.left_out] and "V-PROP-018" in out.left_out[0][1]
    a.discard_pending_commit()
    # ... and a hostile one that commits it is refused by the receivers.
    info = ProposalInfo(proposal, Sender.member(1), stored.ref)  # type: ignore[union-attr]
    applied = apply_proposals([info], a._epoch.tree, a._epoch.context.extensions)
    with a._atomic():
        forged = building.create_commit(
            a,
            applied,
            (ProposalOrRef(stored.ref),),  # type: ignore[union-attr]
            Sender.member(0),
            LeafIndex(0),
            a._epoch.secrets.init_secret,
            b"",
            a._signature_private,
        )
    refused_by([c], forged.commit, "V-PROP-018")


# -- §12.4.3.1 → §7.3: a joiner checks every leaf against the group's requirements ------


def test_rfc9420_s12_4_3_1_joiner_checks_leaves_against_required_capabilities() -> None:
    groups = group_with([caps(EXT), caps(EXT)])
    a, b = groups
    out = a.commit([Proposal(GroupContextExtensions((REQUIRE_EXT,)))], now=NOW)
    b.process(out.commit)
    a.apply_pending_commit()
    lacking, joiner = kp_bundle("lacking"), kp_bundle("joiner", caps(EXT))
    # A hostile adder adds a leaf that lacks the required extension, and an honest joiner.
    forged = hostile_commit(
        a, [Proposal(Add(lacking.key_package)), Proposal(Add(joiner.key_package))]
    )
    refused_by([b], forged.commit, "V-LEAF-006")
    assert forged.welcome is not None
    with raises_rule("V-LEAF-006"):
        Group.join(forged.welcome, joiner, RNG)


def test_rfc9420_s11_1_create_refuses_our_own_non_compliant_leaf() -> None:
    with raises_rule("V-LEAF-006"):
        Group.create(1, b"g" * 16, Credential.basic(b"me"), RNG, now=NOW, extensions=(REQUIRE_EXT,))
    g = Group.create(
        1,
        b"g" * 16,
        Credential.basic(b"me"),
        RNG,
        now=NOW,
        extensions=(REQUIRE_EXT,),
        capabilities=caps(EXT),
    )
    assert REQUIRE_EXT in g.extensions


def test_rfc9420_s12_4_3_1_joiner_checks_leaves_list_the_cipher_suite() -> None:
    groups, _ = make_group(2)
    a, b = groups
    wrong_suite = kp_bundle(
        "wrong", dataclasses.replace(default_capabilities(1), cipher_suites=(2,))
    )
    joiner = kp_bundle("joiner")
    forged = hostile_commit(
        a, [Proposal(Add(wrong_suite.key_package)), Proposal(Add(joiner.key_package))]
    )
    refused_by([b], forged.commit, "V-LEAF-002")
    assert forged.welcome is not None
    with raises_rule("V-LEAF-002"):
        Group.join(forged.welcome, joiner, RNG)
