"""RFC 9420 wire structs: what messages.json does not reach.

Unknown and reserved type codes, refused encodings (padding, tree shape,
unsorted unmerged leaves, duplicate extensions, versions), the variants the
vectors never use (x509 credentials, resumption PSKs, commit-source leaves,
external and new-member senders), the to-be-signed byte strings, and the
constructors' consistency checks.
"""

from __future__ import annotations

import pytest

from cove.protocol.codec import Reader, Writer
from cove.protocol.errors import DecodeError, UsageError
from cove.protocol.mls.commit import Commit, HPKECiphertext, UpdatePath, UpdatePathNode
from cove.protocol.mls.credentials import Credential, CredentialType
from cove.protocol.mls.extensions import (
    Extension,
    ExtensionType,
    ExternalPub,
    ExternalSender,
    RequiredCapabilities,
    decode_application_id,
    decode_external_senders,
    encode_application_id,
    encode_external_senders,
)
from cove.protocol.mls.framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    MLSMessage,
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
    SenderType,
    WireFormat,
    authenticated_content_tbm,
    content_type_of,
    framed_content_tbs,
)
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.leaf_node import (
    Capabilities,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    ProtocolVersion,
)
from cove.protocol.mls.nodes import (
    Node,
    NodeType,
    ParentNode,
    decode_ratchet_tree,
    encode_ratchet_tree,
)
from cove.protocol.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ProposalOrRef,
    ProposalOrRefType,
    ProposalType,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.mls.psk import (
    ExternalPSK,
    PreSharedKeyID,
    PSKType,
    ResumptionPSK,
    ResumptionPSKUsage,
    psk_label,
)
from cove.protocol.mls.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    PathSecret,
    Welcome,
)

# -- builders ------------------------------------------------------------------

GREASE = 0x0A0A


def _opaque(data: bytes) -> bytes:
    w = Writer()
    w.opaque(data)
    return w.getvalue()


def leaf(
    source: LeafNodeSource = LeafNodeSource.KEY_PACKAGE,
    *,
    extensions: tuple[Extension, ...] = (),
    credential: Credential | None = None,
) -> LeafNode:
    return LeafNode(
        encryption_key=b"\x01" * 32,
        signature_key=b"\x02" * 32,
        credential=credential or Credential.basic(b"alice"),
        capabilities=Capabilities(
            versions=(1, GREASE),
            cipher_suites=(1, 2, 3, GREASE),
            extensions=(GREASE, 0xFF00),
            proposals=(GREASE,),
            credentials=(1, 2, GREASE),
        ),
        leaf_node_source=source,
        lifetime=Lifetime(0, 2**64 - 1) if source == LeafNodeSource.KEY_PACKAGE else None,
        parent_hash=b"\x03" * 32 if source == LeafNodeSource.COMMIT else None,
        extensions=extensions,
        signature=b"\x04" * 64,
    )


def key_package() -> KeyPackage:
    return KeyPackage(1, 1, b"\x05" * 32, leaf(), (Extension(GREASE, b""),), b"\x06" * 64)


def context(epoch: int = 7) -> GroupContext:
    return GroupContext(1, b"group", epoch, b"\x07" * 32, b"\x08" * 32)


def commit_with_path() -> Commit:
    path = UpdatePath(
        leaf(LeafNodeSource.COMMIT),
        (UpdatePathNode(b"\x09" * 32, (HPKECiphertext(b"k" * 32, b"c" * 48),)),),
    )
    proposals = (
        ProposalOrRef(Proposal(Remove(3))),
        ProposalOrRef(b"\x0a" * 32),
    )
    return Commit(proposals, path)


def framed(content: bytes | Proposal | Commit, sender: Sender | None = None) -> FramedContent:
    return FramedContent(b"group", 7, sender or Sender.member(1), b"aad", content)


def auth_for(content: bytes | Proposal | Commit) -> FramedContentAuthData:
    tag = b"\x0b" * 32 if isinstance(content, Commit) else None
    return FramedContentAuthData(b"\x0c" * 64, tag)


def roundtrip(value: object) -> None:
    data = value.to_bytes()  # type: ignore[attr-defined]
    assert type(value).from_bytes(data) == value  # type: ignore[attr-defined]


# -- credentials ---------------------------------------------------------------


def test_credentials_roundtrip() -> None:
    basic = Credential.basic(b"alice")
    assert basic.to_bytes() == bytes.fromhex("0001") + _opaque(b"alice")
    assert basic.is_basic
    roundtrip(basic)
    x509 = Credential.x509((b"\x30\x82leaf", b"\x30\x82ca"))
    assert not x509.is_basic
    assert x509.credential_type == CredentialType.X509
    roundtrip(x509)
    roundtrip(Credential.x509(()))


@pytest.mark.parametrize("credential_type", [0, 3, GREASE, 0xFFFF])
def test_unknown_credential_type_is_refused(credential_type: int) -> None:
    data = credential_type.to_bytes(2, "big") + _opaque(b"alice")
    with pytest.raises(DecodeError, match="credential type"):
        Credential.from_bytes(data)


def test_credential_constructor_checks() -> None:
    with pytest.raises(UsageError):
        Credential(CredentialType.BASIC, certificates=(b"x",))
    with pytest.raises(UsageError):
        Credential(CredentialType.X509, identity=b"alice")
    with pytest.raises(UsageError):
        Credential(GREASE)  # type: ignore[arg-type]


# -- leaf nodes and key packages -----------------------------------------------


@pytest.mark.parametrize("source", list(LeafNodeSource))
def test_leaf_node_roundtrip_every_source(source: LeafNodeSource) -> None:
    node = leaf(source)
    roundtrip(node)
    decoded = LeafNode.from_bytes(node.to_bytes())
    assert decoded.capabilities.cipher_suites == (1, 2, 3, GREASE)  # unknown values kept
    assert decoded.leaf_node_source is source


def test_leaf_node_unknown_source_is_refused() -> None:
    data = bytearray(leaf(LeafNodeSource.UPDATE).to_bytes())
    # The source octet of an update leaf is followed directly by extensions<V>
    # (empty: 0x00) and the signature.
    index = len(data) - len(_opaque(b"\x04" * 64)) - 2
    assert data[index] == LeafNodeSource.UPDATE
    for bad in (0, 4, 0xFF):
        data[index] = bad
        with pytest.raises(DecodeError, match="leaf node source"):
            LeafNode.from_bytes(bytes(data))


def test_leaf_node_tbs() -> None:
    kp_leaf = leaf()
    assert kp_leaf.to_bytes() == kp_leaf.tbs() + _opaque(kp_leaf.signature)
    with pytest.raises(UsageError):
        kp_leaf.tbs(b"group", 0)
    for source in (LeafNodeSource.UPDATE, LeafNodeSource.COMMIT):
        node = leaf(source)
        unsigned = node.to_bytes()[: -len(_opaque(node.signature))]
        assert node.tbs(b"group", 5) == unsigned + _opaque(b"group") + bytes.fromhex("00000005")
        with pytest.raises(UsageError):
            node.tbs()


def test_leaf_node_constructor_checks() -> None:
    base = leaf(LeafNodeSource.UPDATE)
    with pytest.raises(UsageError):
        LeafNode(
            base.encryption_key,
            base.signature_key,
            base.credential,
            base.capabilities,
            LeafNodeSource.UPDATE,
            lifetime=Lifetime(0, 1),
        )
    with pytest.raises(UsageError):
        LeafNode(
            base.encryption_key,
            base.signature_key,
            base.credential,
            base.capabilities,
            LeafNodeSource.KEY_PACKAGE,
        )
    with pytest.raises(UsageError):
        LeafNode(
            base.encryption_key,
            base.signature_key,
            base.credential,
            base.capabilities,
            LeafNodeSource.COMMIT,
        )


def test_duplicate_extensions_are_refused() -> None:
    dup = (Extension(GREASE, b""), Extension(GREASE, b"x"))
    with pytest.raises(DecodeError, match="duplicate extension"):
        LeafNode.from_bytes(leaf(extensions=dup).to_bytes())
    with pytest.raises(DecodeError, match="duplicate extension"):
        GroupContextExtensions.from_bytes(GroupContextExtensions(dup).to_bytes())
    kp = key_package()
    bad_kp = KeyPackage(kp.version, kp.cipher_suite, kp.init_key, kp.leaf_node, dup, kp.signature)
    with pytest.raises(DecodeError, match="duplicate extension"):
        KeyPackage.from_bytes(bad_kp.to_bytes())
    info = GroupInfo(context(), dup, b"tag", 0, b"sig")
    with pytest.raises(DecodeError, match="duplicate extension"):
        GroupInfo.from_bytes(info.to_bytes())


def test_key_package_tbs_and_roundtrip() -> None:
    kp = key_package()
    roundtrip(kp)
    assert kp.to_bytes() == kp.tbs() + _opaque(kp.signature)
    # Version and cipher suite are kept as decoded (validation checks them).
    odd = KeyPackage(GREASE, GREASE, b"k", leaf())
    assert KeyPackage.from_bytes(odd.to_bytes()).version == GREASE


# -- extension payloads --------------------------------------------------------


def test_extension_payloads() -> None:
    required = RequiredCapabilities((GREASE, 5), (GREASE,), (1, 2))
    roundtrip(required)
    assert RequiredCapabilities().to_bytes() == b"\x00\x00\x00"
    roundtrip(ExternalPub(b"\x0d" * 32))
    senders = (
        ExternalSender(b"\x0e" * 32, Credential.basic(b"relay")),
        ExternalSender(b"\x0f" * 32, Credential.x509((b"cert",))),
    )
    assert decode_external_senders(encode_external_senders(senders)) == senders
    assert decode_external_senders(b"\x00") == ()
    assert decode_application_id(encode_application_id(b"cove")) == b"cove"
    with pytest.raises(DecodeError):
        decode_external_senders(encode_external_senders(senders) + b"\x00")
    with pytest.raises(DecodeError):
        RequiredCapabilities.from_bytes(b"\x01\x00\x00\x00")  # odd-length uint16 vector


# -- ratchet tree --------------------------------------------------------------


def test_ratchet_tree_roundtrip_with_blanks_and_parents() -> None:
    tree = (
        Node(leaf()),
        Node(ParentNode(b"\x10" * 32, b"ph", (2,))),
        None,
        None,
        Node(leaf(LeafNodeSource.COMMIT)),
    )
    data = encode_ratchet_tree(tree)
    assert decode_ratchet_tree(data) == tree
    assert tree[1] is not None
    assert tree[1].node_type == NodeType.PARENT
    assert tree[0] is not None
    assert tree[0].node_type == NodeType.LEAF
    assert tree[0].leaf_node is not None
    assert tree[0].parent_node is None


def test_ratchet_tree_may_end_with_a_parent() -> None:
    # Four leaves, the last one blank: node 5 (parent of leaves 2 and 3) can be set.
    tree = (Node(leaf()), None, None, None, Node(leaf()), Node(ParentNode(b"\x11")))
    assert decode_ratchet_tree(encode_ratchet_tree(tree)) == tree


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ((), "empty ratchet tree"),
        ((Node(leaf()), None), "ends with a blank"),
        ((None,), "ends with a blank"),
        ((Node(ParentNode(b"\x12")),), "wrong type"),
        ((Node(leaf()), Node(leaf()), Node(leaf())), "wrong type"),
    ],
)
def test_ratchet_tree_shape_is_checked(tree: tuple[Node | None, ...], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_ratchet_tree(encode_ratchet_tree(tree))


def test_unknown_node_type_is_refused() -> None:
    data = b"\x03" + ParentNode(b"\x13").to_bytes()
    with pytest.raises(DecodeError, match="node type"):
        Node.from_bytes(data)


@pytest.mark.parametrize("unmerged", [(2, 1), (1, 1)])
def test_unmerged_leaves_must_increase(unmerged: tuple[int, ...]) -> None:
    w = Writer()
    w.opaque(b"\x14" * 32)
    w.opaque(b"")
    w.vector(unmerged, Writer.uint32)
    with pytest.raises(DecodeError, match="unmerged_leaves"):
        ParentNode.from_bytes(w.getvalue())
    with pytest.raises(UsageError):
        ParentNode(b"\x14" * 32, b"", unmerged)


# -- PSKs ----------------------------------------------------------------------


def test_psk_ids() -> None:
    external = PreSharedKeyID.external(b"id", b"nonce")
    assert external.psk_type is PSKType.EXTERNAL
    assert isinstance(external.psk, ExternalPSK)
    assert external.to_bytes() == b"\x01" + _opaque(b"id") + _opaque(b"nonce")
    roundtrip(external)
    resumption = PreSharedKeyID.resumption(ResumptionPSKUsage.BRANCH, b"g", 9, b"n")
    assert resumption.psk_type is PSKType.RESUMPTION
    assert isinstance(resumption.psk, ResumptionPSK)
    assert resumption.to_bytes() == (
        b"\x02\x03" + _opaque(b"g") + (9).to_bytes(8, "big") + _opaque(b"n")
    )
    roundtrip(resumption)
    # An unknown usage does not change the parse; it is kept for validation.
    assert PreSharedKeyID.from_bytes(b"\x02\x09\x00" + bytes(8) + b"\x00").psk == ResumptionPSK(
        9, b"", 0
    )
    assert psk_label(external, 2, 5) == external.to_bytes() + bytes.fromhex("00020005")


@pytest.mark.parametrize("psk_type", [0, 3, 0xFF])
def test_unknown_psk_type_is_refused(psk_type: int) -> None:
    with pytest.raises(DecodeError, match="PSK type"):
        PreSharedKeyID.from_bytes(bytes([psk_type]) + b"\x00\x00")


# -- proposals and commits -----------------------------------------------------


def all_proposals() -> list[Proposal]:
    return [
        Proposal(Add(key_package())),
        Proposal(Update(leaf(LeafNodeSource.UPDATE))),
        Proposal(Remove(2**32 - 1)),
        Proposal(PreSharedKey(PreSharedKeyID.external(b"id", b"n"))),
        Proposal(ReInit(b"new", GREASE, 3, (Extension(GREASE, b"x"),))),
        Proposal(ExternalInit(b"kem")),
        Proposal(GroupContextExtensions((Extension(ExtensionType.EXTERNAL_SENDERS, b"\x00"),))),
    ]


@pytest.mark.parametrize("proposal", all_proposals(), ids=lambda p: type(p.body).__name__)
def test_proposal_union(proposal: Proposal) -> None:
    data = proposal.to_bytes()
    assert int.from_bytes(data[:2], "big") == proposal.proposal_type
    assert data[2:] == proposal.body.to_bytes()
    roundtrip(proposal)


@pytest.mark.parametrize("proposal_type", [0, 8, 9, GREASE, 0xFFFF])
def test_unknown_proposal_type_is_refused(proposal_type: int) -> None:
    with pytest.raises(DecodeError, match="proposal type"):
        Proposal.from_bytes(proposal_type.to_bytes(2, "big") + b"\x00\x00\x00\x00")


def test_proposal_types_match_the_registry() -> None:
    assert [p.proposal_type for p in all_proposals()] == list(ProposalType)


def test_proposal_or_ref() -> None:
    inline = ProposalOrRef(Proposal(Remove(1)))
    ref = ProposalOrRef(b"\x15" * 32)
    assert inline.type == ProposalOrRefType.PROPOSAL
    assert inline.reference is None
    assert inline.proposal == Proposal(Remove(1))
    assert ref.type == ProposalOrRefType.REFERENCE
    assert ref.proposal is None
    assert ref.reference == b"\x15" * 32
    roundtrip(inline)
    roundtrip(ref)
    for bad in (0, 3, 0xFF):
        with pytest.raises(DecodeError, match="ProposalOrRef"):
            ProposalOrRef.from_bytes(bytes([bad]) + b"\x00")


def test_commits() -> None:
    assert Commit().to_bytes() == b"\x00\x00"
    roundtrip(Commit())
    roundtrip(commit_with_path())
    with pytest.raises(DecodeError, match="optional"):
        Commit.from_bytes(b"\x00\x02")


# -- welcome -------------------------------------------------------------------


def test_welcome_structs() -> None:
    roundtrip(GroupSecrets(b"joiner"))
    secrets = GroupSecrets(
        b"joiner",
        PathSecret(b"path"),
        (PreSharedKeyID.resumption(ResumptionPSKUsage.REINIT, b"g", 1, b"n"),),
    )
    roundtrip(secrets)
    welcome = Welcome(
        1,
        (EncryptedGroupSecrets(b"\x16" * 32, HPKECiphertext(b"kem", b"ct")),),
        b"encrypted group info",
    )
    roundtrip(welcome)
    info = GroupInfo(context(), (Extension(GREASE, b""),), b"tag", 4, b"sig")
    roundtrip(info)
    assert info.to_bytes() == info.tbs() + _opaque(b"sig")
    assert info.tbs() == (
        context().to_bytes() + b"\x03" + GREASE.to_bytes(2, "big") + b"\x00" + _opaque(b"tag")
    ) + (4).to_bytes(4, "big")


# -- framing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "encoded"),
    [
        (Sender.member(5), "0100000005"),
        (Sender.external(2), "0200000002"),
        (Sender.new_member_proposal(), "03"),
        (Sender.new_member_commit(), "04"),
    ],
)
def test_senders(sender: Sender, encoded: str) -> None:
    assert sender.to_bytes().hex() == encoded
    roundtrip(sender)


@pytest.mark.parametrize("sender_type", [0, 5, 0xFF])
def test_unknown_sender_type_is_refused(sender_type: int) -> None:
    with pytest.raises(DecodeError, match="sender type"):
        Sender.from_bytes(bytes([sender_type]) + bytes(4))


def test_sender_constructor_checks() -> None:
    with pytest.raises(UsageError):
        Sender(SenderType.MEMBER)
    with pytest.raises(UsageError):
        Sender(SenderType.NEW_MEMBER_COMMIT, 1)


def test_framed_content_and_content_types() -> None:
    for content, kind in (
        (b"hello", ContentType.APPLICATION),
        (Proposal(Remove(1)), ContentType.PROPOSAL),
        (commit_with_path(), ContentType.COMMIT),
    ):
        fc = framed(content)
        assert fc.content_type == kind == content_type_of(content)
        roundtrip(fc)
    bad = bytearray(framed(b"hello").to_bytes())
    index = len(bad) - len(_opaque(b"hello")) - 1
    assert bad[index] == ContentType.APPLICATION
    for code in (0, 4, 0xFF):
        bad[index] = code
        with pytest.raises(DecodeError, match="content type"):
            FramedContent.from_bytes(bytes(bad))


def test_framed_content_tbs_context_rule() -> None:
    ctx = context()
    member = framed(b"hi", Sender.member(0))
    expected = b"\x00\x01\x00\x01" + member.to_bytes() + ctx.to_bytes()
    assert framed_content_tbs(WireFormat.PUBLIC_MESSAGE, member, ctx) == expected
    with pytest.raises(UsageError):
        framed_content_tbs(WireFormat.PUBLIC_MESSAGE, member, None)
    new_member_commit = framed(commit_with_path(), Sender.new_member_commit())
    assert framed_content_tbs(WireFormat.PUBLIC_MESSAGE, new_member_commit, ctx).endswith(
        ctx.to_bytes()
    )
    for sender in (Sender.external(0), Sender.new_member_proposal()):
        fc = framed(Proposal(Remove(1)), sender)
        assert framed_content_tbs(WireFormat.PUBLIC_MESSAGE, fc, None) == (
            b"\x00\x01\x00\x01" + fc.to_bytes()
        )
        with pytest.raises(UsageError):
            framed_content_tbs(WireFormat.PUBLIC_MESSAGE, fc, ctx)


def test_authenticated_content() -> None:
    commit = commit_with_path()
    ac = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, framed(commit), auth_for(commit))
    roundtrip(ac)
    assert ac.tbs(context()) == framed_content_tbs(2, ac.content, context())
    assert ac.confirmed_transcript_hash_input() == (
        b"\x00\x02" + ac.content.to_bytes() + _opaque(ac.auth.signature)
    )
    assert ac.interim_transcript_hash_input() == _opaque(b"\x0b" * 32)
    app = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, framed(b"x"), auth_for(b"x"))
    with pytest.raises(UsageError):
        app.confirmed_transcript_hash_input()
    with pytest.raises(UsageError):
        app.interim_transcript_hash_input()
    with pytest.raises(UsageError):  # a commit needs a confirmation tag
        AuthenticatedContent(1, framed(commit), FramedContentAuthData(b"sig"))
    with pytest.raises(UsageError):  # and nothing else has one
        AuthenticatedContent(1, framed(b"x"), FramedContentAuthData(b"sig", b"tag"))


def test_public_message_membership_tag_rule() -> None:
    proposal = Proposal(Remove(1))
    member = PublicMessage(framed(proposal), auth_for(proposal), b"\x17" * 32)
    roundtrip(MLSMessage(member))
    external = PublicMessage(framed(proposal, Sender.external(0)), auth_for(proposal))
    roundtrip(external)
    commit = commit_with_path()
    joiner = PublicMessage(framed(commit, Sender.new_member_commit()), auth_for(commit))
    roundtrip(joiner)
    assert joiner.authenticated_content() == AuthenticatedContent(
        WireFormat.PUBLIC_MESSAGE, joiner.content, joiner.auth
    )
    with pytest.raises(UsageError):
        PublicMessage(framed(proposal), auth_for(proposal))
    with pytest.raises(UsageError):
        PublicMessage(framed(proposal, Sender.external(0)), auth_for(proposal), b"tag")
    tbm = member.tbm(context())
    assert tbm == authenticated_content_tbm(
        framed_content_tbs(WireFormat.PUBLIC_MESSAGE, member.content, context()),
        member.auth,
    )
    assert tbm.endswith(member.auth.to_bytes())


def test_private_message_and_aads() -> None:
    pm = PrivateMessage(b"group", 3, ContentType.PROPOSAL, b"aad", b"esd", b"ct")
    roundtrip(pm)
    roundtrip(MLSMessage(pm))
    assert (
        pm.content_aad() == PrivateContentAAD(b"group", 3, ContentType.PROPOSAL, b"aad").to_bytes()
    )
    assert pm.content_aad() == _opaque(b"group") + (3).to_bytes(8, "big") + b"\x02" + _opaque(
        b"aad"
    )
    assert pm.sender_data_aad() == SenderDataAAD(b"group", 3, ContentType.PROPOSAL).to_bytes()
    roundtrip(PrivateContentAAD(b"g", 1, ContentType.COMMIT, b""))
    roundtrip(SenderDataAAD(b"g", 1, ContentType.APPLICATION))
    bad = bytearray(pm.to_bytes())
    index = len(_opaque(b"group")) + 8
    for code in (0, 4):
        bad[index] = code
        with pytest.raises(DecodeError, match="content type"):
            PrivateMessage.from_bytes(bytes(bad))


def test_sender_data() -> None:
    sd = SenderData(1, 2, b"\x01\x02\x03\x04")
    assert sd.to_bytes().hex() == "000000010000000201020304"
    roundtrip(sd)
    with pytest.raises(UsageError):
        SenderData(1, 2, b"\x01")
    with pytest.raises(DecodeError):
        SenderData.from_bytes(bytes(11))


@pytest.mark.parametrize(
    "content", [b"hello", b"", Proposal(Remove(1)), commit_with_path()], ids=repr
)
@pytest.mark.parametrize("padding", [0, 1, 17, 1000])
def test_private_message_content_padding(content: bytes | Proposal | Commit, padding: int) -> None:
    pmc = PrivateMessageContent(content, auth_for(content), padding)
    data = pmc.to_bytes()
    assert data.endswith(bytes(padding))
    kind = content_type_of(content)
    assert PrivateMessageContent.from_bytes(data, kind) == pmc
    assert pmc.content_type == kind
    if padding:
        for position in (len(data) - padding, len(data) - 1):
            bad = data[:position] + b"\x01" + data[position + 1 :]
            with pytest.raises(DecodeError, match="non-zero padding") as info:
                PrivateMessageContent.from_bytes(bad, kind)
            assert info.value.offset == position


def test_private_message_content_parses_forward_not_backward() -> None:
    # The auth data ends in zero bytes: a backward scan for the padding would
    # eat them; parsing the content and auth first keeps them.
    auth = FramedContentAuthData(b"sig\x00\x00")
    pmc = PrivateMessageContent(b"msg\x00", auth, 3)
    decoded = PrivateMessageContent.from_bytes(pmc.to_bytes(), ContentType.APPLICATION)
    assert decoded.auth.signature == b"sig\x00\x00"
    assert decoded.content == b"msg\x00"
    assert decoded.padding == 3


def test_private_message_content_checks() -> None:
    with pytest.raises(UsageError):
        PrivateMessageContent(b"x", auth_for(b"x"), -1)
    with pytest.raises(UsageError):
        PrivateMessageContent(commit_with_path(), FramedContentAuthData(b"sig"))
    with pytest.raises(DecodeError, match="content type"):
        PrivateMessageContent.from_bytes(b"\x00\x00", 0)
    with pytest.raises(DecodeError):  # truncated auth
        PrivateMessageContent.from_bytes(_opaque(b"x"), ContentType.APPLICATION)


def test_mls_message_bodies() -> None:
    proposal = Proposal(Remove(1))
    bodies = [
        (PublicMessage(framed(proposal), auth_for(proposal), b"t"), WireFormat.PUBLIC_MESSAGE),
        (PrivateMessage(b"g", 0, ContentType.APPLICATION, b"", b"e", b"c"), 2),
        (Welcome(1, (), b"egi"), WireFormat.WELCOME),
        (GroupInfo(context(), (), b"tag", 0, b"sig"), WireFormat.GROUP_INFO),
        (key_package(), WireFormat.KEY_PACKAGE),
    ]
    for body, wire_format in bodies:
        message = MLSMessage(body)
        assert message.wire_format == wire_format
        assert message.version == ProtocolVersion.MLS10
        data = message.to_bytes()
        assert data[:4] == b"\x00\x01" + wire_format.to_bytes(2, "big")
        assert data[4:] == body.to_bytes()
        roundtrip(message)


@pytest.mark.parametrize("version", [0, 2, 0xFFFF])
def test_mls_message_version_is_refused(version: int) -> None:
    data = version.to_bytes(2, "big") + MLSMessage(Welcome(1, (), b"")).to_bytes()[2:]
    with pytest.raises(DecodeError, match="protocol version"):
        MLSMessage.from_bytes(data)


@pytest.mark.parametrize("wire_format", [0, 6, GREASE, 0xFFFF])
def test_mls_message_unknown_wire_format_is_refused(wire_format: int) -> None:
    data = b"\x00\x01" + wire_format.to_bytes(2, "big") + Welcome(1, (), b"").to_bytes()
    with pytest.raises(DecodeError, match="wire format"):
        MLSMessage.from_bytes(data)


def test_non_minimal_varint_and_trailing_bytes_are_refused() -> None:
    good = Remove(1).to_bytes()
    with pytest.raises(DecodeError, match="trailing"):
        Remove.from_bytes(good + b"\x00")
    # ExternalInit with a 2-byte length prefix for a 1-byte kem_output.
    with pytest.raises(DecodeError, match="non-minimal"):
        ExternalInit.from_bytes(b"\x40\x01k")
    assert ExternalInit.from_bytes(b"\x01k") == ExternalInit(b"k")


def test_decode_within_a_larger_reader() -> None:
    commit = commit_with_path()
    r = Reader(commit.to_bytes() + b"rest")
    assert Commit.decode(r) == commit
    assert r.fixed(4) == b"rest"
    r.expect_end()
