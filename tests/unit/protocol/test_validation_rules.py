"""Each validation rule of docs/protocol/validation.md fires, with its exact rule id
(``raises_rule``). Group-level rules are exercised through the Group API, as a
receiver or as a committer; leaf and KeyPackage rules through the validators
every receiver runs."""

from __future__ import annotations

import dataclasses

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.crypto.labels import sign_with_label
from cove.protocol.errors import CryptoError, StateError, UsageError, ValidationError
from cove.protocol.identity import CoveIdentity
from cove.protocol.mls.commit import Commit
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.extensions import (
    Extension,
    ExtensionType,
    RequiredCapabilities,
)
from cove.protocol.mls.framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    MLSMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    WireFormat,
)
from cove.protocol.mls.group import Group
from cove.protocol.mls.joining import (
    decrypt_group_secrets,
    encrypt_group_secrets,
    find_group_secrets,
    sign_group_info,
)
from cove.protocol.mls.key_package_bundle import KeyPackageBundle, sign_leaf_node
from cove.protocol.mls.leaf_node import Capabilities, LeafNodeSource
from cove.protocol.mls.message_protection import protect_public, sign_content
from cove.protocol.mls.proposal_list import ProposalInfo, validate_proposal_list
from cove.protocol.mls.proposals import (
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.mls.psk import ExternalPSK, PreSharedKeyID, ResumptionPSK
from cove.protocol.mls.validation import (
    KEY_PACKAGE_LABEL,
    BasicCredentialValidator,
    MemberIndex,
    validate_key_package,
    validate_leaf_node,
)
from cove.protocol.mls.welcome import GroupInfo, Welcome
from tests.support.rules import raises_rule
from tests.unit.protocol.test_group import NOW, PUBLIC, bundle, make_group

RNG = SeededRandom(b"rules")
BASIC = BasicCredentialValidator()


class AnyCredential:
    def validate(self, credential: Credential, signature_key: bytes) -> None:
        return None


def kp_bundle(
    name: str = "kp", capabilities: Capabilities | None = None, suite: int = 1
) -> KeyPackageBundle:
    return KeyPackageBundle.create(
        suite, Credential.basic(name.encode()), RNG, now=NOW, capabilities=capabilities
    )


def resigned_leaf(b: KeyPackageBundle, **changes: object):  # type: ignore[no-untyped-def]
    leaf = dataclasses.replace(b.key_package.leaf_node, **changes)
    return sign_leaf_node(b.suite, leaf, b.signature_private)


def resigned_kp(b: KeyPackageBundle, **changes: object):  # type: ignore[no-untyped-def]
    kp = dataclasses.replace(b.key_package, **changes)
    sig = sign_with_label(b.suite, b.signature_private, KEY_PACKAGE_LABEL, kp.tbs())
    return dataclasses.replace(kp, signature=sig)


def check_leaf(b: KeyPackageBundle, leaf, **kw: object) -> None:  # type: ignore[no-untyped-def]
    validate_leaf_node(
        b.suite,
        leaf,
        expected_source=kw.pop("source", LeafNodeSource.KEY_PACKAGE),  # type: ignore[arg-type]
        credential_validator=kw.pop("validator", BASIC),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# -- credentials ---------------------------------------------------------------------


def test_v_cred_001_only_basic_credentials() -> None:
    with raises_rule("V-CRED-001"):
        BASIC.validate(Credential.x509((b"cert",)), b"k" * 32)


def test_v_cred_002_basic_identity_length() -> None:
    for identity in (b"", b"x" * 256):
        with raises_rule("V-CRED-002"):
            BASIC.validate(Credential.basic(identity), b"k" * 32)


def test_v_cred_003_not_a_cove_identity() -> None:
    with raises_rule("V-CRED-003"):
        CoveIdentity.from_credential(Credential.basic(b"just a name"))


def test_v_cred_004_identity_names_another_device_key() -> None:
    suite = kp_bundle().suite
    identity_private, _ = suite.generate_signature_key_pair(RNG)
    _, device = suite.generate_signature_key_pair(RNG)
    _, other = suite.generate_signature_key_pair(RNG)
    ident = CoveIdentity.create("ann", identity_private, device)
    with raises_rule("V-CRED-004"):
        ident.verify(other)


# -- leaves and KeyPackages ----------------------------------------------------------


def test_v_leaf_001_wrong_leaf_source() -> None:
    b = kp_bundle()
    with raises_rule("V-LEAF-001"):
        check_leaf(b, b.key_package.leaf_node, source=LeafNodeSource.UPDATE)


def test_v_leaf_002_capabilities_lack_version_or_suite() -> None:
    b = kp_bundle()
    caps = b.key_package.leaf_node.capabilities
    for bad in (
        dataclasses.replace(caps, versions=()),
        dataclasses.replace(caps, cipher_suites=(2,)),
    ):
        with raises_rule("V-LEAF-002"):
            check_leaf(b, resigned_leaf(b, capabilities=bad))


def test_v_leaf_003_credential_type_not_in_capabilities() -> None:
    b = kp_bundle()
    caps = dataclasses.replace(b.key_package.leaf_node.capabilities, credentials=(2,))
    with raises_rule("V-LEAF-003"):
        check_leaf(b, resigned_leaf(b, capabilities=caps))


def test_v_leaf_004_extension_not_in_capabilities() -> None:
    b = kp_bundle()
    with raises_rule("V-LEAF-004"):
        check_leaf(b, resigned_leaf(b, extensions=(Extension(0xF0F0, b""),)))


def test_v_leaf_006_required_capabilities_missing() -> None:
    b = kp_bundle()
    required = Extension(
        ExtensionType.REQUIRED_CAPABILITIES, RequiredCapabilities((0xF0F1,)).to_bytes()
    )
    with raises_rule("V-LEAF-006"):
        check_leaf(b, b.key_package.leaf_node, group_extensions=(required,))


def test_v_leaf_007_and_008_keys_already_used() -> None:
    b, other = kp_bundle("b"), kp_bundle("other")
    leaf = b.key_package.leaf_node
    for field, rule in (("encryption_key", "V-LEAF-007"), ("signature_key", "V-LEAF-008")):
        twin = dataclasses.replace(other.key_package.leaf_node, **{field: getattr(leaf, field)})
        members = MemberIndex([(5, twin)])
        with raises_rule(rule):
            check_leaf(b, leaf, members=members)


def test_v_leaf_009_credential_types_in_use() -> None:
    b = kp_bundle()
    member = b.key_package.leaf_node
    x509_caps = dataclasses.replace(member.capabilities, credentials=(1, 2))
    x509 = kp_bundle("x", capabilities=x509_caps)
    x509_leaf = resigned_leaf(x509, credential=Credential.x509((b"cert",)))
    # A member (basic-only) cannot support an x509 newcomer ...
    with raises_rule("V-LEAF-009"):
        check_leaf(x509, x509_leaf, validator=AnyCredential(), members=MemberIndex([(0, member)]))
    # ... and a basic-only newcomer cannot support an x509 member.
    with raises_rule("V-LEAF-009"):
        check_leaf(b, member, validator=AnyCredential(), members=MemberIndex([(3, x509_leaf)]))


def test_v_kp_001_002_003_key_package_fields() -> None:
    b = kp_bundle()
    cases = (
        ({"version": 2}, "V-KP-001"),
        ({"cipher_suite": 2}, "V-KP-002"),
        ({"init_key": b.key_package.leaf_node.encryption_key}, "V-KP-003"),
    )
    for changes, rule in cases:
        with raises_rule(rule):
            validate_key_package(b.suite, resigned_kp(b, **changes), credential_validator=BASIC)


def test_v_kp_010_private_keys_that_do_not_match() -> None:
    b, other = kp_bundle("b"), kp_bundle("other")
    kp = b.key_package
    for keys in (
        (other.init_private, b.encryption_private, b.signature_private),
        (b.init_private, other.encryption_private, b.signature_private),
        (b.init_private, b.encryption_private, other.signature_private),
    ):
        with raises_rule("V-KP-010"):
            KeyPackageBundle.from_private_keys(kp, *keys)


def test_v_leaf_005_expired_key_package_in_an_add() -> None:
    groups, rng = make_group(1)
    old = KeyPackageBundle.create(1, Credential.basic(b"old"), rng, now=NOW - 10**8)
    with raises_rule("V-LEAF-005"):
        groups[0].add([old.key_package], now=NOW)


# -- proposal lists (§12.2), as committer and as receiver -----------------------------


def _validate(group: Group, infos: list[ProposalInfo], committer: Sender) -> None:
    ep = group._epoch
    validate_proposal_list(
        group.suite,
        infos,
        committer=committer,
        tree=ep.tree,
        group_id=group.group_id,
        extensions=ep.context.extensions,
        credential_validator=BASIC,
        now=NOW,
    )


def test_proposal_list_rules() -> None:
    groups, _ = make_group(3)
    a = groups[0]
    me, external = Sender.member(0), Sender.new_member_commit()
    nh = a.suite.hash_length
    psk = PreSharedKeyID(ExternalPSK(b"id"), bytes(nh))
    b_leaf = groups[1]._epoch.tree.leaf(1)
    assert b_leaf is not None
    update = Proposal(Update(b_leaf))
    gce = Proposal(GroupContextExtensions((Extension(0xF0F2, b"x"),)))
    reinit = Proposal(ReInit(b"new", 1, 1))
    init = Proposal(ExternalInit(b"kem"))
    gce_empty = Proposal(GroupContextExtensions())

    def info(p: Proposal, sender: Sender = me, ref: bytes | None = None) -> ProposalInfo:
        return ProposalInfo(p, sender, ref)

    cases: list[tuple[str, list[ProposalInfo], Sender]] = [
        ("V-PROP-001", [info(Proposal(Remove(1)), Sender.external(0))], me),
        ("V-PROP-001", [info(Proposal(Remove(1)), Sender.new_member_proposal())], me),
        ("V-PROP-002", [info(init, external), info(Proposal(Remove(1)), me, b"r" * 32)], external),
        ("V-PROP-004", [info(update, Sender.new_member_commit())], me),
        ("V-PROP-005", [info(update, Sender.member(1))], Sender.member(1)),
        ("V-PROP-006", [info(Proposal(Remove(1))), info(Proposal(Remove(1)))], me),
        ("V-PROP-008", [info(Proposal(Remove(0)))], me),
        (
            "V-PROP-009",
            [info(Proposal(PreSharedKey(PreSharedKeyID(ExternalPSK(b"i"), b"short"))))],
            me,
        ),
        (
            "V-PROP-010",
            [
                info(
                    Proposal(
                        PreSharedKey(PreSharedKeyID(ResumptionPSK(2, a.group_id, 0), bytes(nh)))
                    )
                )
            ],
            me,
        ),
        ("V-PROP-011", [info(Proposal(PreSharedKey(psk))), info(Proposal(PreSharedKey(psk)))], me),
        ("V-PROP-012", [info(gce)], me),
        ("V-PROP-013", [info(init)], me),
        ("V-PROP-014", [info(reinit), info(Proposal(Remove(1)))], me),
        (
            "V-PROP-015",
            [info(Proposal(GroupContextExtensions())), info(Proposal(GroupContextExtensions()))],
            me,
        ),
        ("V-PROP-016", [info(Proposal(Remove(1)), external)], external),
        ("V-PROP-017", [info(init, external), info(gce_empty, external)], external),
        (
            "V-PROP-017",
            [
                info(init, external),
                info(Proposal(Remove(1)), external),
                info(Proposal(Remove(2)), external),
            ],
            external,
        ),
    ]
    for rule, infos, committer in cases:
        with raises_rule(rule):
            _validate(a, infos, committer)


def test_v_ext_001_duplicate_extension_in_a_group_context_extensions() -> None:
    groups, _ = make_group(2)
    dup = (Extension(ExtensionType.EXTERNAL_SENDERS, b""),) * 2
    with raises_rule("V-EXT-001"):
        groups[0].commit([Proposal(GroupContextExtensions(dup))])
    assert not groups[0].has_pending_commit


def test_receiver_refuses_a_commit_removing_its_committer() -> None:
    """V-PROP-008 enforced by a receiver (the committer's client would not build it)."""
    groups, _ = make_group(3, config=PUBLIC)
    a, b, _ = groups
    signed = sign_content(
        a.suite,
        WireFormat.PUBLIC_MESSAGE,
        FramedContent(
            a.group_id, a.epoch, Sender.member(0), b"", Commit((Proposal_ref(Remove(0)),))
        ),
        a._signature_private,
        a.group_context,
        bytes(32),
    )
    forged = protect_public(a.suite, signed, a.group_context, a._epoch.secrets.membership_key)
    before = b.to_bytes()
    with raises_rule("V-PROP-008"):
        b.process(MLSMessage(forged).to_bytes())
    assert b.to_bytes() == before


def Proposal_ref(body: Remove):  # type: ignore[no-untyped-def]
    from cove.protocol.mls.proposals import ProposalOrRef

    return ProposalOrRef(Proposal(body))


# -- framing and senders -------------------------------------------------------------


def _public(a: Group, sender: Sender, body: object) -> bytes:
    content = FramedContent(a.group_id, a.epoch, sender, b"", body)  # type: ignore[arg-type]
    tag = bytes(32) if isinstance(body, Commit) else None
    auth = FramedContentAuthData(b"\x00" * 64, tag)
    return MLSMessage(PublicMessage(content, auth, None)).to_bytes()


def test_v_framing_002_application_data_in_a_public_message() -> None:
    groups, _ = make_group(2)
    a, b = groups
    content = FramedContent(a.group_id, a.epoch, Sender.member(0), b"", b"in the clear")
    signed = AuthenticatedContent(
        WireFormat.PUBLIC_MESSAGE, content, FramedContentAuthData(b"\x00" * 64, None)
    )
    message = PublicMessage(signed.content, signed.auth, b"\x00" * 32)
    with raises_rule("V-FRAMING-002"):
        b.process(MLSMessage(message).to_bytes())


def test_v_framing_001_and_003_are_crypto_errors() -> None:
    """V-FRAMING-001 (signature) and V-FRAMING-003 (membership tag) raise CryptoError."""
    groups, _ = make_group(2, config=PUBLIC)
    a, b = groups
    proposal = MLSMessage.from_bytes(a.propose_remove(1)).body
    assert isinstance(proposal, PublicMessage) and proposal.membership_tag is not None
    bad_tag = dataclasses.replace(proposal, membership_tag=bytes(32))
    with pytest.raises(CryptoError, match="membership tag"):
        b.process(MLSMessage(bad_tag).to_bytes())
    bad_sig = dataclasses.replace(
        proposal, auth=dataclasses.replace(proposal.auth, signature=b"\x00" * 64)
    )
    bad_sig = dataclasses.replace(
        bad_sig,
        membership_tag=a.suite.mac(a._epoch.secrets.membership_key, bad_sig.tbm(a.group_context)),
    )
    with pytest.raises(CryptoError, match="signature"):
        b.process(MLSMessage(bad_sig).to_bytes())


def test_v_group_002_external_sender() -> None:
    groups, _ = make_group(2)
    a, b = groups
    with raises_rule("V-GROUP-002"):
        b.process(_public(a, Sender.external(0), Proposal(Remove(1))))


def test_v_group_003_external_commit_without_a_path() -> None:
    groups, _ = make_group(2)
    a, b = groups
    with raises_rule("V-GROUP-003"):
        b.process(_public(a, Sender.new_member_commit(), Commit((Proposal_ref(Remove(1)),))))


def test_v_group_001_sender_not_a_member() -> None:
    groups, _ = make_group(3, config=PUBLIC)
    a, b, _ = groups
    signed = sign_content(
        a.suite,
        WireFormat.PUBLIC_MESSAGE,
        FramedContent(a.group_id, a.epoch, Sender.member(3), b"", Proposal(Remove(1))),
        a._signature_private,
        a.group_context,
    )
    forged = protect_public(a.suite, signed, a.group_context, a._epoch.secrets.membership_key)
    with raises_rule("V-GROUP-001"):
        b.process(MLSMessage(forged).to_bytes())


def test_v_commit_003_commit_without_a_needed_path() -> None:
    groups, _ = make_group(2, config=PUBLIC)
    a, b = groups
    signed = sign_content(
        a.suite,
        WireFormat.PUBLIC_MESSAGE,
        FramedContent(a.group_id, a.epoch, Sender.member(0), b"", Commit()),
        a._signature_private,
        a.group_context,
        bytes(32),
    )
    forged = protect_public(a.suite, signed, a.group_context, a._epoch.secrets.membership_key)
    with raises_rule("V-COMMIT-003"):
        b.process(MLSMessage(forged).to_bytes())


# -- joining -------------------------------------------------------------------------


def test_v_welcome_002_other_cipher_suite() -> None:
    groups, rng = make_group(1)
    invited = bundle("invited", rng)
    out = groups[0].add([invited.key_package], now=NOW)
    assert out.welcome is not None
    other_suite = bundle("other", rng, suite=2)
    with raises_rule("V-WELCOME-002"):
        Group.join(out.welcome, other_suite, rng)


def test_v_welcome_001_no_entry_is_a_state_error() -> None:
    """V-WELCOME-001 is a StateError (the Welcome is simply not for us)."""
    groups, rng = make_group(1)
    out = groups[0].add([bundle("invited", rng).key_package], now=NOW)
    assert out.welcome is not None
    with pytest.raises(StateError, match="this Welcome is not for any of our KeyPackages"):
        Group.join(out.welcome, bundle("stranger", rng), rng)


def _group_info(a: Group) -> GroupInfo:
    body = MLSMessage.from_bytes(a.group_info_bytes()).body
    assert isinstance(body, GroupInfo)
    return body


def test_v_welcome_003_signer_not_a_member() -> None:
    groups, rng = make_group(3)
    info = dataclasses.replace(_group_info(groups[0]), signer=3)
    with raises_rule("V-WELCOME-003"):
        Group.join_external(info, Credential.basic(b"joiner"), rng)


def test_v_welcome_004_tree_does_not_match_the_tree_hash() -> None:
    groups, rng = make_group(3)
    a = groups[0]
    stale_tree = a.ratchet_tree()
    out = a.update()
    a.apply_pending_commit()
    info = _group_info(a)
    treeless = dataclasses.replace(
        info,
        extensions=tuple(
            e for e in info.extensions if e.extension_type != ExtensionType.RATCHET_TREE
        ),
    )
    signed = sign_group_info(a.suite, treeless, a._signature_private)
    with raises_rule("V-WELCOME-004"):
        Group.join_external(signed, Credential.basic(b"j"), rng, ratchet_tree=stale_tree)
    assert out.epoch == a.epoch


def test_v_welcome_005_our_leaf_is_not_in_the_tree() -> None:
    """A hostile adder re-addresses a Welcome to a KeyPackage it never added."""
    groups, rng = make_group(1)
    a = groups[0]
    added, victim = bundle("added", rng), bundle("victim", rng)
    out = a.add([added.key_package], now=NOW)
    assert out.welcome is not None
    welcome = MLSMessage.from_bytes(out.welcome).body
    assert isinstance(welcome, Welcome)
    entry = find_group_secrets(welcome, added.ref())
    secrets = decrypt_group_secrets(a.suite, welcome, entry, added.init_private)
    forged_entry = encrypt_group_secrets(
        a.suite, victim.key_package, welcome.encrypted_group_info, secrets, rng
    )
    forged = dataclasses.replace(welcome, secrets=(forged_entry,))
    with raises_rule("V-WELCOME-005"):
        Group.join(forged, victim, rng)


def test_v_external_001_group_info_without_external_pub() -> None:
    groups, rng = make_group(2)
    a = groups[0]
    info = _group_info(a)
    stripped = dataclasses.replace(
        info,
        extensions=tuple(
            e for e in info.extensions if e.extension_type != ExtensionType.EXTERNAL_PUB
        ),
    )
    signed = sign_group_info(a.suite, stripped, a._signature_private)
    with raises_rule("V-EXTERNAL-001"):
        Group.join_external(signed, Credential.basic(b"j"), rng)


def test_v_commit_001_a_commit_needs_a_confirmation_tag() -> None:
    """V-COMMIT-001 is a guard: a commit without a confirmation tag cannot even be built
    or decoded (the tag is part of the commit's auth data)."""
    with pytest.raises(UsageError, match="confirmation_tag is present exactly for commits"):
        PrivateMessageContent(Commit(), FramedContentAuthData(b"s" * 64, None))


def test_rule_errors_carry_their_id() -> None:
    err = ValidationError("V-PROP-007", "x")
    assert err.rule == "V-PROP-007" and "[V-PROP-007]" in str(err)
