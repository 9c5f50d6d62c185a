"""How a member comes to hold a group: creating it (§11), a Welcome (§12.4.3.1),
or an external commit from a GroupInfo (§12.4.3.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ...crypto import RandomProvider, Suite, suite_for
from ...errors import StateError, UsageError, ValidationError
from ..commit import Commit
from ..credentials import Credential
from ..extensions import Extension, ExtensionType, ExternalPub, find_extension
from ..framing import MLSMessage, PublicMessage, Sender
from ..group_context import MLS10, GroupContext
from ..joining import (
    decrypt_group_info,
    decrypt_group_secrets,
    external_init_sender,
    find_group_secrets,
    verify_group_info,
    welcome_secret,
)
from ..key_package_bundle import KeyPackageBundle, default_capabilities
from ..key_schedule import (
    epoch_secrets,
    epoch_secrets_from_joiner,
    psk_secret,
    zeros,
)
from ..leaf_node import Capabilities, LeafNode, LeafNodeSource
from ..nodes import decode_ratchet_tree
from ..proposal_list import ProposalInfo, apply_proposals, validate_proposal_list
from ..proposals import ExternalInit, Proposal, ProposalOrRef, Remove
from ..psk import ExternalPSK
from ..ratchet_tree import RatchetTree
from ..secret_tree import SecretTree
from ..transcript import confirmation_tag, interim_transcript_hash, verify_confirmation_tag
from ..tree_math import LeafIndex
from ..treekem import TreePrivateKeys, joiner_private_keys
from ..validation import (
    BasicCredentialValidator,
    CredentialValidator,
    check_supports_required,
    required_capabilities,
)
from ..welcome import GroupInfo, Welcome
from . import building, policy_hook
from .config import GroupConfig
from .epoch import Epoch, EpochKeys, epoch_from_secrets

if TYPE_CHECKING:
    from .group import Group


def create(
    cls: type[Group],
    suite_id: int,
    group_id: bytes,
    credential: Credential,
    rng: RandomProvider,
    *,
    signature_private: bytes | None,
    extensions: Sequence[Extension],
    capabilities: Capabilities | None,
    config: GroupConfig | None,
    credential_validator: CredentialValidator | None,
    now: int,
) -> Group:
    suite = suite_for(suite_id)
    bundle = KeyPackageBundle.create(
        suite_id,
        credential,
        rng,
        now=now,
        signature_private=signature_private,
        capabilities=capabilities,
    )
    config = config or GroupConfig()
    # §11.1: our own leaf supports what we require of everyone.
    check_supports_required(bundle.key_package.leaf_node, required_capabilities(extensions))
    tree = RatchetTree.create(suite, bundle.key_package.leaf_node)
    context = GroupContext(
        cipher_suite=suite_id,
        group_id=group_id,
        epoch=0,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=b"",
        extensions=tuple(extensions),
    )
    s = epoch_secrets(suite, rng.random_bytes(suite.hash_length), None, None, context.to_bytes())
    tag = confirmation_tag(suite, s.confirmation_key, b"")
    interim = interim_transcript_hash(suite, b"", tag)
    keys = TreePrivateKeys.for_leaf(0, bundle.encryption_private)
    epoch = epoch_from_secrets(suite, context, tree, keys, s, config, interim, tag)
    return cls(
        suite,
        LeafIndex(0),
        bundle.signature_private,
        epoch,
        rng=rng,
        config=config,
        credential_validator=credential_validator,
    )


def join(
    cls: type[Group],
    welcome: bytes | Welcome,
    bundle: KeyPackageBundle,
    rng: RandomProvider,
    *,
    ratchet_tree: bytes | None,
    config: GroupConfig | None,
    credential_validator: CredentialValidator | None,
    external_psks: Mapping[bytes, bytes] | None,
) -> Group:
    if isinstance(welcome, bytes):
        body = MLSMessage.from_bytes(welcome).body
        if not isinstance(body, Welcome):
            raise UsageError("not a Welcome message")
        welcome = body
    suite = bundle.suite
    if welcome.cipher_suite != suite.suite_id:
        raise ValidationError("V-WELCOME-002", "Welcome cipher suite differs from ours")
    validator = credential_validator or BasicCredentialValidator()
    psk_store = dict(external_psks or {})
    entry = find_group_secrets(welcome, bundle.ref())
    secrets = decrypt_group_secrets(suite, welcome, entry, bundle.init_private)
    psk = None
    if secrets.psks:
        values = []
        for p in secrets.psks:
            if not isinstance(p.psk, ExternalPSK) or p.psk.psk_id not in psk_store:
                raise StateError("the Welcome needs a PSK we do not have")
            values.append((p.to_bytes(), psk_store[p.psk.psk_id]))
        psk = psk_secret(suite, values)
    info = decrypt_group_info(
        suite, welcome_secret(suite, secrets.joiner_secret, psk), welcome.encrypted_group_info
    )
    context = info.group_context
    if context.cipher_suite != suite.suite_id:
        raise ValidationError("V-WELCOME-002", "GroupInfo cipher suite differs")
    tree = _verified_tree(suite, info, ratchet_tree)
    my_leaf = tree.find_leaf(bundle.key_package.leaf_node)
    if my_leaf is None:
        raise ValidationError("V-WELCOME-005", "our leaf is not in the tree")
    for _, leaf in tree.leaves():
        validator.validate(leaf.credential, leaf.signature_key)
    policy_hook.check_join(tree, context.extensions, info.signer, bundle.key_package.leaf_node)
    keys = joiner_private_keys(
        tree,
        my_leaf,
        bundle.encryption_private,
        info.signer,
        secrets.path_secret.path_secret if secrets.path_secret else None,
    )
    s = epoch_secrets_from_joiner(suite, secrets.joiner_secret, psk, context.to_bytes())
    verify_confirmation_tag(
        suite, s.confirmation_key, context.confirmed_transcript_hash, info.confirmation_tag
    )
    interim = interim_transcript_hash(
        suite, context.confirmed_transcript_hash, info.confirmation_tag
    )
    cfg = config or GroupConfig()
    epoch = epoch_from_secrets(suite, context, tree, keys, s, cfg, interim, info.confirmation_tag)
    return cls(
        suite,
        my_leaf,
        bundle.signature_private,
        epoch,
        rng=rng,
        config=cfg,
        credential_validator=validator,
        external_psks=psk_store,
    )


def join_external(
    cls: type[Group],
    group_info: bytes | GroupInfo,
    credential: Credential,
    rng: RandomProvider,
    *,
    signature_private: bytes | None,
    ratchet_tree: bytes | None,
    remove_leaf: int | None,
    capabilities: Capabilities | None,
    config: GroupConfig | None,
    credential_validator: CredentialValidator | None,
    authenticated_data: bytes,
) -> tuple[Group, bytes]:
    if isinstance(group_info, bytes):
        body = MLSMessage.from_bytes(group_info).body
        if not isinstance(body, GroupInfo):
            raise UsageError("not a GroupInfo message")
        group_info = body
    context = group_info.group_context
    suite = suite_for(context.cipher_suite)
    validator = credential_validator or BasicCredentialValidator()
    tree = _verified_tree(suite, group_info, ratchet_tree)
    for _, member in tree.leaves():
        validator.validate(member.credential, member.signature_key)
    ext = find_extension(group_info.extensions, ExtensionType.EXTERNAL_PUB)
    if ext is None:
        raise ValidationError("V-EXTERNAL-001", "GroupInfo has no external_pub")
    external_pub = ExternalPub.from_bytes(ext.extension_data).external_pub
    kem_output, init_secret = external_init_sender(suite, external_pub, rng)
    if signature_private is None:
        signature_private, signature_public = suite.generate_signature_key_pair(rng)
    else:
        signature_public = suite.signature_public_key(signature_private)
    cfg = config or GroupConfig()
    # Our leaf: create_update_path gives it its real key (from the path secrets),
    # parent hash and signature.
    leaf = LeafNode(
        encryption_key=b"",
        signature_key=signature_public,
        credential=credential,
        capabilities=capabilities or default_capabilities(suite.suite_id),
        leaf_node_source=LeafNodeSource.COMMIT,
        parent_hash=b"",
    )
    proposals = external_proposals(kem_output, remove_leaf)
    me = Sender.new_member_commit()
    infos = [ProposalInfo(p, me, None) for p in proposals]
    validate_proposal_list(
        suite,
        infos,
        committer=me,
        tree=tree,
        group_id=context.group_id,
        extensions=context.extensions,
        credential_validator=validator,
        now=None,
        external_leaf=leaf,
    )
    # A throw-away group object over the GroupInfo's epoch: it holds the transcript
    # state the commit builds on; members' secrets are not needed.
    interim = interim_transcript_hash(
        suite, context.confirmed_transcript_hash, group_info.confirmation_tag
    )
    shell = Epoch(
        context=context,
        tree=tree,
        keys=TreePrivateKeys(LeafIndex(0)),
        secret_tree=SecretTree(suite, zeros(suite), tree.n_leaves),
        secrets=EpochKeys.blank(),
        interim_transcript_hash=interim,
        confirmation_tag=group_info.confirmation_tag,
    )
    group = cls(
        suite,
        LeafIndex(0),
        signature_private,
        shell,
        rng=rng,
        config=cfg,
        credential_validator=validator,
    )
    applied = apply_proposals(infos, tree, context.extensions)
    my_leaf = applied.tree.add_leaf(leaf)
    out = building.create_commit(
        group,
        applied,
        tuple(ProposalOrRef(p) for p in proposals),
        me,
        my_leaf,
        init_secret,
        authenticated_data,
        signature_private,
    )
    # Our own check of the commit, as every member will judge it (a link join in a
    # policed group: open links on, a valid link proof, uses left).
    posted = MLSMessage.from_bytes(out.commit).body
    assert isinstance(posted, PublicMessage) and isinstance(posted.content.content, Commit)
    policy_hook.check_own_commit(
        tree,
        context.extensions,
        infos,
        me,
        path=posted.content.content.path,
        content=posted.content,
    )
    group.apply_pending_commit()
    group._past.clear()
    group._pending_link_join = policy_hook.link_join_after(context.extensions, posted.content)
    group._serial = 0
    return group, out.commit


def external_proposals(kem_output: bytes, remove_leaf: int | None) -> list[Proposal]:
    """The proposals of our external commit: ExternalInit, and the Remove of our own
    old leaf for a rejoin (a module function, so a test's hostile joiner can add
    more and see members refuse them)."""
    proposals = [Proposal(ExternalInit(kem_output))]
    if remove_leaf is not None:
        proposals.append(Proposal(Remove(remove_leaf)))
    return proposals


def _verified_tree(suite: Suite, info: GroupInfo, ratchet_tree: bytes | None) -> RatchetTree:
    """The GroupInfo's tree (from its extension or given), valid, matching the tree
    hash, with the GroupInfo signed by one of its leaves."""
    ext = find_extension(info.extensions, ExtensionType.RATCHET_TREE)
    if ext is not None:
        tree = RatchetTree.from_nodes(suite, decode_ratchet_tree(ext.extension_data))
    elif ratchet_tree is None:
        raise StateError("the ratchet tree is neither in the GroupInfo nor given")
    else:
        tree = RatchetTree.from_nodes(suite, decode_ratchet_tree(ratchet_tree))
    context = info.group_context
    tree.validate(context.group_id)
    if tree.tree_hash() != context.tree_hash:
        raise ValidationError("V-WELCOME-004", "the tree does not match the tree hash")
    # §12.4.3.1 → §7.3: every leaf supports the group's version, cipher suite and
    # required capabilities (a hostile adder may have put in one that does not).
    required = required_capabilities(context.extensions)
    for _, leaf in tree.leaves():
        caps = leaf.capabilities
        if MLS10 not in caps.versions or context.cipher_suite not in caps.cipher_suites:
            raise ValidationError("V-LEAF-002", "a leaf does not support the group's suite")
        check_supports_required(leaf, required)
    signer = tree.leaf(info.signer)
    if signer is None:
        raise ValidationError("V-WELCOME-003", "GroupInfo signer is not a member")
    verify_group_info(suite, info, signer.signature_key)
    return tree
