"""The MLS group: one object that follows a group from epoch to epoch (RFC 9420 §8, §11–§14).

::

    Group.create / Group.join (Welcome) / Group.join_external (GroupInfo)
        |
        v
    Group --encrypt(data)--------------------------> PrivateMessage bytes
          --add/remove/update/commit--> CommitOutput (commit, welcome, group_info)
          |      the group is unchanged until apply_pending_commit(); the relay decides
          |      whether this commit is the epoch's (discard_pending_commit() if not)
          --process(message)--> ApplicationMessage | ProposalMessage | AppliedCommit
          --to_bytes() / Group.from_bytes()  (one snapshot: the only persistence hook)

Every input is validated before anything changes: an operation that raises
leaves the group exactly as it was. Randomness comes from the ``rng`` the
group was given, time from the ``now`` arguments.

Forward secrecy: each epoch's secret tree deletes keys as they are used; the
secrets of an old epoch are kept for at most ``GroupConfig.max_past_epochs``
epochs (for late application messages), then dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from ..codec import Reader, Writer
from ..crypto import RandomProvider, Suite, suite_for
from ..crypto.labels import ref_hash
from ..errors import CryptoError, StateError, UsageError, ValidationError
from . import tree_math as tm
from .commit import Commit
from .credentials import Credential
from .extensions import (
    Extension,
    ExtensionType,
    ExternalPub,
    find_extension,
)
from .framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from .group_context import GroupContext
from .joining import (
    decrypt_group_info,
    decrypt_group_secrets,
    encrypt_group_info,
    encrypt_group_secrets,
    external_init_receiver,
    external_init_sender,
    find_group_secrets,
    sign_group_info,
    verify_group_info,
    welcome_secret,
)
from .key_package import KeyPackage
from .key_package_bundle import KeyPackageBundle, default_capabilities
from .key_schedule import (
    EpochSecrets,
    epoch_secrets,
    epoch_secrets_from_joiner,
    mls_exporter,
    psk_secret,
    zeros,
)
from .leaf_node import Capabilities, LeafNode, LeafNodeSource
from .message_protection import (
    protect_private,
    protect_public,
    sign_content,
    unprotect_private,
    unprotect_public,
)
from .nodes import decode_ratchet_tree, encode_ratchet_tree
from .proposal_list import (
    AppliedProposals,
    ProposalInfo,
    apply_proposals,
    path_required,
    validate_proposal_list,
)
from .proposals import (
    PROPOSAL_REF_LABEL,
    Add,
    ExternalInit,
    Proposal,
    ProposalOrRef,
    Remove,
)
from .psk import ExternalPSK, PreSharedKeyID, ResumptionPSK
from .ratchet_tree import RatchetTree
from .secret_tree import SecretTree, SecretTreeConfig
from .transcript import (
    confirmation_tag,
    confirmed_transcript_hash,
    interim_transcript_hash,
    verify_confirmation_tag,
)
from .tree_math import LeafIndex, NodeIndex
from .treekem import TreePrivateKeys, apply_update_path, create_update_path, joiner_private_keys
from .validation import (
    BasicCredentialValidator,
    CredentialValidator,
    MemberIndex,
    validate_leaf_node,
)
from .welcome import GroupInfo, GroupSecrets, PathSecret, Welcome

_SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Per-group policy. Everything here is local: members may differ."""

    #: How this member sends proposals and commits (PrivateMessage hides them from the relay).
    handshake_wire_format: WireFormat = WireFormat.PRIVATE_MESSAGE
    #: PrivateMessage plaintexts are zero-padded to a multiple of this many bytes.
    padding_block: int = 32
    #: Old epochs whose secrets are kept for late application messages.
    max_past_epochs: int = 2
    secret_tree: SecretTreeConfig = field(default_factory=SecretTreeConfig)
    #: Put the ratchet tree into Welcome/GroupInfo (else it travels out of band).
    ratchet_tree_extension: bool = True
    #: Largest number of proposals kept for the next commit.
    max_pending_proposals: int = 1024

    def __post_init__(self) -> None:
        if self.handshake_wire_format not in (
            WireFormat.PUBLIC_MESSAGE,
            WireFormat.PRIVATE_MESSAGE,
        ):
            raise UsageError("handshake messages are PublicMessage or PrivateMessage")
        if self.max_past_epochs < 0 or self.padding_block < 1:
            raise UsageError("bad group config")


# -- results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    leaf_index: int
    credential: Credential
    signature_key: bytes
    encryption_key: bytes

    @property
    def identity(self) -> bytes:
        return self.credential.identity


@dataclass(frozen=True, slots=True)
class ApplicationMessage:
    data: bytes
    sender: Member
    authenticated_data: bytes
    epoch: int


@dataclass(frozen=True, slots=True)
class ProposalMessage:
    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass(frozen=True, slots=True)
class AppliedCommit:
    """A commit that moved the group to ``epoch`` (or removed us: ``removed_me``)."""

    epoch: int
    committer: Member
    added: tuple[Member, ...]
    removed: tuple[Member, ...]
    updated: tuple[Member, ...]
    removed_me: bool = False


ProcessedMessage: TypeAlias = ApplicationMessage | ProposalMessage | AppliedCommit


class CommitOutput:
    """What to send: the commit (MLSMessage bytes) and, if members were added, their
    Welcome. ``group_info`` (a signed GroupInfo of the new epoch, for external joins)
    is built on first access: it carries the whole tree, so it costs O(n)."""

    __slots__ = ("_group_info", "_make_group_info", "commit", "epoch", "welcome")

    def __init__(
        self,
        commit: bytes,
        welcome: bytes | None,
        epoch: int,
        make_group_info: Callable[[], bytes],
    ) -> None:
        self.commit = commit
        self.welcome = welcome
        self.epoch = epoch  # the epoch the commit leads to
        self._make_group_info = make_group_info
        self._group_info: bytes | None = None

    def __repr__(self) -> str:
        return f"CommitOutput(epoch={self.epoch}, welcome={self.welcome is not None})"

    @property
    def group_info(self) -> bytes:
        if self._group_info is None:
            self._group_info = self._make_group_info()
        return self._group_info


# -- epoch state ------------------------------------------------------------------


@dataclass(slots=True, repr=False)
class _Epoch:
    """Everything a member holds for one epoch."""

    context: GroupContext
    tree: RatchetTree
    keys: TreePrivateKeys
    secret_tree: SecretTree
    sender_data_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    proposals: dict[bytes, ProposalInfo] = field(default_factory=dict)
    #: Keys and credentials of the tree's leaves; built on first use, then carried
    #: from epoch to epoch with each commit's changes.
    members: MemberIndex | None = None

    def __repr__(self) -> str:
        return f"_Epoch(epoch={self.context.epoch}, <secrets redacted>)"

    def member_index(self) -> MemberIndex:
        if self.members is None:
            self.members = MemberIndex(self.tree.leaves())
        return self.members


@dataclass(slots=True, repr=False)
class _PastEpoch:
    """What is kept of an old epoch: enough to open late application messages."""

    context: GroupContext
    tree: RatchetTree
    secret_tree: SecretTree
    sender_data_secret: bytes
    resumption_psk: bytes


@dataclass(slots=True, repr=False)
class _Pending:
    epoch: _Epoch
    my_leaf: LeafIndex
    signature_private: bytes
    summary: AppliedCommit


def _epoch_from_secrets(
    suite: Suite,
    context: GroupContext,
    tree: RatchetTree,
    keys: TreePrivateKeys,
    s: EpochSecrets,
    config: GroupConfig,
    interim: bytes,
    tag: bytes,
) -> _Epoch:
    return _Epoch(
        context=context,
        tree=tree,
        keys=keys,
        secret_tree=SecretTree(suite, s.encryption_secret, tree.n_leaves, config.secret_tree),
        sender_data_secret=s.sender_data_secret,
        exporter_secret=s.exporter_secret,
        external_secret=s.external_secret,
        confirmation_key=s.confirmation_key,
        membership_key=s.membership_key,
        resumption_psk=s.resumption_psk,
        epoch_authenticator=s.epoch_authenticator,
        init_secret=s.init_secret,
        interim_transcript_hash=interim,
        confirmation_tag=tag,
    )


def _member(tree: RatchetTree, leaf: int) -> Member:
    return _member_of(leaf, _leaf_or_fail(tree, leaf))


def _member_of(leaf: int, node: LeafNode) -> Member:
    return Member(leaf, node.credential, node.signature_key, node.encryption_key)


def proposal_ref(suite: Suite, auth_content: AuthenticatedContent) -> bytes:
    """ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) (§5.2)."""
    return ref_hash(suite, PROPOSAL_REF_LABEL, auth_content.to_bytes())


class Group:
    """A member's view of one MLS group. See the module docstring for the life cycle."""

    def __init__(
        self,
        suite: Suite,
        my_leaf: LeafIndex,
        signature_private: bytes,
        epoch: _Epoch,
        *,
        rng: RandomProvider,
        config: GroupConfig | None = None,
        credential_validator: CredentialValidator | None = None,
        external_psks: Mapping[bytes, bytes] | None = None,
    ) -> None:
        self._suite = suite
        self._my_leaf = my_leaf
        self._signature_private = signature_private
        self._epoch = epoch
        self._past: deque[_PastEpoch] = deque()
        self._rng = rng
        self._config = config or GroupConfig()
        self._validator: CredentialValidator = credential_validator or BasicCredentialValidator()
        self._external_psks: dict[bytes, bytes] = dict(external_psks or {})
        self._pending: _Pending | None = None
        self._active = True

    def __repr__(self) -> str:
        return (
            f"Group(group_id={self.group_id.hex()}, epoch={self.epoch}, "
            f"leaf={self._my_leaf}, members={self._epoch.tree.member_count()})"
        )

    # -- read-only view -----------------------------------------------------------

    @property
    def suite(self) -> Suite:
        return self._suite

    @property
    def group_id(self) -> bytes:
        return self._epoch.context.group_id

    @property
    def epoch(self) -> int:
        return self._epoch.context.epoch

    @property
    def epoch_authenticator(self) -> bytes:
        return self._epoch.epoch_authenticator

    @property
    def group_context(self) -> GroupContext:
        return self._epoch.context

    @property
    def tree_hash(self) -> bytes:
        return self._epoch.context.tree_hash

    @property
    def my_leaf_index(self) -> int:
        return self._my_leaf

    @property
    def active(self) -> bool:
        """False once we have been removed from the group."""
        return self._active

    @property
    def pending_proposals(self) -> int:
        """How many proposals of this epoch wait for a commit."""
        return len(self._epoch.proposals)

    @property
    def has_pending_commit(self) -> bool:
        return self._pending is not None

    @property
    def extensions(self) -> tuple[Extension, ...]:
        return self._epoch.context.extensions

    def members(self) -> list[Member]:
        return [_member_of(i, leaf) for i, leaf in self._epoch.tree.leaves()]

    def member(self, leaf: int) -> Member:
        return _member(self._epoch.tree, leaf)

    def group_info_bytes(self) -> bytes:
        """A signed GroupInfo of the current epoch (MLSMessage), with ``external_pub`` so
        that holders can join by external commit, and the tree if so configured."""
        self._check_active()
        info = self._group_info(self._epoch, self._my_leaf, self._signature_private)
        return MLSMessage(info).to_bytes()

    def ratchet_tree(self) -> bytes:
        """The public tree (the ``ratchet_tree`` extension payload) for out-of-band delivery."""
        return encode_ratchet_tree(self._epoch.tree.to_nodes())

    def export_secret(self, label: bytes, context: bytes, length: int) -> bytes:
        """MLS-Exporter (§8.5) of the current epoch."""
        self._check_active()
        return mls_exporter(self._suite, self._epoch.exporter_secret, label, context, length)

    def add_external_psk(self, psk_id: bytes, psk: bytes) -> None:
        self._external_psks[psk_id] = psk

    def _check_active(self) -> None:
        if not self._active:
            raise StateError("we are no longer a member of this group")

    # -- creation -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        suite_id: int,
        group_id: bytes,
        credential: Credential,
        rng: RandomProvider,
        *,
        signature_private: bytes | None = None,
        extensions: Sequence[Extension] = (),
        capabilities: Capabilities | None = None,
        config: GroupConfig | None = None,
        credential_validator: CredentialValidator | None = None,
        now: int,
    ) -> Group:
        """A new group with us alone in it, at epoch 0 (§11)."""
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
        tree = RatchetTree.create(suite, bundle.key_package.leaf_node)
        context = GroupContext(
            cipher_suite=suite_id,
            group_id=group_id,
            epoch=0,
            tree_hash=tree.tree_hash(),
            confirmed_transcript_hash=b"",
            extensions=tuple(extensions),
        )
        s = epoch_secrets(
            suite, rng.random_bytes(suite.hash_length), None, None, context.to_bytes()
        )
        tag = confirmation_tag(suite, s.confirmation_key, b"")
        interim = interim_transcript_hash(suite, b"", tag)
        keys = TreePrivateKeys.for_leaf(0, bundle.encryption_private)
        epoch = _epoch_from_secrets(suite, context, tree, keys, s, config, interim, tag)
        return cls(
            suite,
            LeafIndex(0),
            bundle.signature_private,
            epoch,
            rng=rng,
            config=config,
            credential_validator=credential_validator,
        )

    # -- sending application data ------------------------------------------------------

    def encrypt(self, data: bytes, authenticated_data: bytes = b"") -> bytes:
        """An application message from us, as MLSMessage bytes (always a PrivateMessage)."""
        self._check_active()
        ep = self._epoch
        content = FramedContent(
            ep.context.group_id,
            ep.context.epoch,
            Sender.member(self._my_leaf),
            authenticated_data,
            data,
        )
        signed = sign_content(
            self._suite, WireFormat.PRIVATE_MESSAGE, content, self._signature_private, ep.context
        )
        msg = protect_private(
            self._suite,
            signed,
            ep.secret_tree,
            ep.sender_data_secret,
            self._rng,
            padding_block=self._config.padding_block,
        )
        return MLSMessage(msg).to_bytes()

    # -- proposals ------------------------------------------------------------------

    def propose_remove(self, leaf: int, authenticated_data: bytes = b"") -> bytes:
        """A Remove proposal (to leave, propose removing our own leaf)."""
        self._check_active()
        _member(self._epoch.tree, leaf)
        return self._send_handshake(Proposal(Remove(leaf)), authenticated_data)

    def propose_add(self, key_package: KeyPackage, authenticated_data: bytes = b"") -> bytes:
        self._check_active()
        return self._send_handshake(Proposal(Add(key_package)), authenticated_data)

    def leave(self) -> bytes:
        """A proposal that removes us; another member commits it."""
        return self.propose_remove(self._my_leaf)

    def _send_handshake(
        self, body: Proposal | Commit, authenticated_data: bytes, tag: bytes | None = None
    ) -> bytes:
        ep = self._epoch
        wf = self._config.handshake_wire_format
        content = FramedContent(
            ep.context.group_id,
            ep.context.epoch,
            Sender.member(self._my_leaf),
            authenticated_data,
            body,
        )
        signed = sign_content(self._suite, wf, content, self._signature_private, ep.context, tag)
        if isinstance(body, Proposal):
            self._store_proposal(signed)
        return self._protect(signed)

    def _protect(self, signed: AuthenticatedContent) -> bytes:
        ep = self._epoch
        if signed.wire_format == WireFormat.PUBLIC_MESSAGE:
            msg: PublicMessage | PrivateMessage = protect_public(
                self._suite, signed, ep.context, ep.membership_key
            )
        else:
            msg = protect_private(
                self._suite,
                signed,
                ep.secret_tree,
                ep.sender_data_secret,
                self._rng,
                padding_block=self._config.padding_block,
            )
        return MLSMessage(msg).to_bytes()

    def _store_proposal(self, auth: AuthenticatedContent) -> ProposalMessage:
        body = auth.content.content
        assert isinstance(body, Proposal)
        ref = proposal_ref(self._suite, auth)
        proposals = self._epoch.proposals
        if ref not in proposals and len(proposals) >= self._config.max_pending_proposals:
            raise StateError("too many pending proposals in this epoch")
        proposals[ref] = ProposalInfo(body, auth.content.sender, ref)
        return ProposalMessage(ref, body, auth.content.sender)

    # -- commits we create ------------------------------------------------------------

    def add(
        self,
        key_packages: Sequence[KeyPackage | bytes],
        *,
        now: int | None = None,
        authenticated_data: bytes = b"",
    ) -> CommitOutput:
        """Commit Adds for ``key_packages`` (KeyPackage or MLSMessage bytes)."""
        props = [Proposal(Add(_key_package(kp))) for kp in key_packages]
        return self.commit(props, now=now, authenticated_data=authenticated_data)

    def remove(self, leaves: Sequence[int], *, authenticated_data: bytes = b"") -> CommitOutput:
        if self._my_leaf in leaves:
            raise UsageError("we cannot commit our own removal; use leave()")
        return self.commit(
            [Proposal(Remove(i)) for i in leaves], authenticated_data=authenticated_data
        )

    def update(self, *, authenticated_data: bytes = b"") -> CommitOutput:
        """A commit with only an UpdatePath: new keys on our whole path (PCS)."""
        return self.commit([], authenticated_data=authenticated_data)

    def commit(
        self,
        proposals: Sequence[Proposal] = (),
        *,
        now: int | None = None,
        authenticated_data: bytes = b"",
        include_pending: bool = True,
    ) -> CommitOutput:
        """Create a commit of ``proposals`` (inline) plus, by reference, the valid pending
        proposals of this epoch. Always carries an UpdatePath. The group does not change
        until :meth:`apply_pending_commit`.
        """
        self._check_active()
        if self._pending is not None:
            raise StateError("a commit is already pending; apply or discard it first")
        ep = self._epoch
        me = Sender.member(self._my_leaf)
        infos: list[ProposalInfo] = []
        if include_pending:
            for ref, info in ep.proposals.items():
                if self._pending_proposal_applies(info, now):
                    infos.append(replace(info, ref=ref))
        infos.extend(ProposalInfo(p, me, None) for p in proposals)
        validate_proposal_list(
            self._suite,
            infos,
            committer=me,
            tree=ep.tree,
            group_id=ep.context.group_id,
            extensions=ep.context.extensions,
            credential_validator=self._validator,
            now=now,
            members=ep.member_index(),
        )
        applied = apply_proposals(infos, ep.tree, ep.context.extensions)
        commit_refs = tuple(
            ProposalOrRef(info.ref if info.ref is not None else info.proposal) for info in infos
        )
        return self._create_commit(
            applied,
            commit_refs,
            me,
            self._my_leaf,
            ep.init_secret,
            authenticated_data,
            self._signature_private,
        )

    def _pending_proposal_applies(self, info: ProposalInfo, now: int | None) -> bool:
        """Whether a stored proposal can go into our commit: it is valid on its own,
        is not our own Update, and does not remove us."""
        body = info.proposal.body
        if isinstance(body, Remove) and body.removed == self._my_leaf:
            return False
        ep = self._epoch
        try:
            validate_proposal_list(
                self._suite,
                [info],
                committer=Sender.member(self._my_leaf),
                tree=ep.tree,
                group_id=ep.context.group_id,
                extensions=ep.context.extensions,
                credential_validator=self._validator,
                now=now,
                members=ep.member_index(),
            )
        except (ValidationError, CryptoError):
            return False
        return True

    def _create_commit(
        self,
        applied: AppliedProposals,
        commit_refs: tuple[ProposalOrRef, ...],
        sender: Sender,
        my_leaf: LeafIndex,
        init_secret: bytes,
        authenticated_data: bytes,
        signature_private: bytes,
    ) -> CommitOutput:
        suite, ep = self._suite, self._epoch
        old = ep.context
        new_epoch = old.epoch + 1
        excluded = {leaf for leaf, _ in applied.added}
        tree = applied.tree
        my_node = tree.leaf(my_leaf)
        assert my_node is not None

        def provisional(tree_hash: bytes) -> GroupContext:
            return GroupContext(
                old.cipher_suite,
                old.group_id,
                new_epoch,
                tree_hash,
                old.confirmed_transcript_hash,
                applied.extensions,
            )

        path = create_update_path(
            tree,
            my_leaf,
            leaf_template=my_node,
            group_id=old.group_id,
            signature_private=signature_private,
            excluded=excluded,
            group_context_for=provisional,
            rng=self._rng,
        )
        tree = path.tree
        commit = Commit(commit_refs, path.update_path)
        wf = (
            WireFormat.PUBLIC_MESSAGE
            if sender.sender_type == SenderType.NEW_MEMBER_COMMIT
            else self._config.handshake_wire_format
        )
        content = FramedContent(old.group_id, old.epoch, sender, authenticated_data, commit)
        # The signature does not cover the confirmation tag: sign with a placeholder.
        placeholder = sign_content(suite, wf, content, signature_private, old, b"")
        auth_for_hash = placeholder
        confirmed = confirmed_transcript_hash(
            suite, ep.interim_transcript_hash, auth_for_hash.confirmed_transcript_hash_input()
        )
        context = GroupContext(
            old.cipher_suite,
            old.group_id,
            new_epoch,
            tree.tree_hash(),
            confirmed,
            applied.extensions,
        )
        psk = self._psk_secret(applied.psks)
        s = epoch_secrets(suite, init_secret, path.commit_secret, psk, context.to_bytes())
        tag = confirmation_tag(suite, s.confirmation_key, confirmed)
        signed = replace(placeholder, auth=replace(placeholder.auth, confirmation_tag=tag))
        interim = interim_transcript_hash(suite, confirmed, tag)
        next_epoch = _epoch_from_secrets(
            suite, context, tree, path.private_keys, s, self._config, interim, tag
        )
        members = _index_after(ep.member_index(), ep.tree, applied)
        if sender.sender_type == SenderType.MEMBER:
            members.remove(my_leaf, my_node)
        members.add(my_leaf, _leaf_or_fail(tree, my_leaf))
        next_epoch.members = members
        welcome = None
        if applied.added:
            group_info = self._group_info(next_epoch, my_leaf, signature_private)
            welcome = self._welcome(applied, group_info, s, path.path_secrets, my_leaf)
        if sender.sender_type == SenderType.NEW_MEMBER_COMMIT:
            commit_bytes = MLSMessage(protect_public(suite, signed, None, None)).to_bytes()
        else:
            commit_bytes = self._protect(signed)
        summary = AppliedCommit(
            epoch=new_epoch,
            committer=_member(tree, my_leaf),
            added=tuple(_member(tree, leaf) for leaf, _ in applied.added),
            removed=tuple(_member_of(leaf, node) for leaf, node in applied.removed),
            updated=tuple(_member_of(leaf, node) for leaf, node in applied.updated),
        )
        self._pending = _Pending(next_epoch, my_leaf, signature_private, summary)
        return CommitOutput(
            commit=commit_bytes,
            welcome=MLSMessage(welcome).to_bytes() if welcome else None,
            epoch=new_epoch,
            make_group_info=lambda: MLSMessage(
                self._group_info(next_epoch, my_leaf, signature_private)
            ).to_bytes(),
        )

    def _group_info(self, ep: _Epoch, signer: LeafIndex, signature_private: bytes) -> GroupInfo:
        exts = [
            Extension(
                ExtensionType.EXTERNAL_PUB,
                ExternalPub(self._suite.derive_key_pair(ep.external_secret)[1]).to_bytes(),
            )
        ]
        if self._config.ratchet_tree_extension:
            exts.insert(
                0, Extension(ExtensionType.RATCHET_TREE, encode_ratchet_tree(ep.tree.to_nodes()))
            )
        info = GroupInfo(ep.context, tuple(exts), ep.confirmation_tag, signer)
        return sign_group_info(self._suite, info, signature_private)

    def _welcome(
        self,
        applied: AppliedProposals,
        group_info: GroupInfo,
        s: EpochSecrets,
        path_secrets: Mapping[NodeIndex, bytes],
        my_leaf: LeafIndex,
    ) -> Welcome:
        suite = self._suite
        encrypted_info = encrypt_group_info(suite, s.welcome_secret, group_info)
        entries = []
        for leaf, kp in applied.added:
            lca = tm.common_ancestor(tm.leaf_to_node(my_leaf), tm.leaf_to_node(leaf))
            secret = path_secrets.get(lca)
            gs = GroupSecrets(
                s.joiner_secret,
                PathSecret(secret) if secret is not None else None,
                tuple(applied.psks),
            )
            entries.append(encrypt_group_secrets(suite, kp, encrypted_info, gs, self._rng))
        return Welcome(suite.suite_id, tuple(entries), encrypted_info)

    def apply_pending_commit(self) -> AppliedCommit:
        """Move to the epoch of our pending commit (the relay accepted it)."""
        pending = self._pending
        if pending is None:
            raise StateError("no pending commit")
        self._advance(pending.epoch)
        self._my_leaf = pending.my_leaf
        self._signature_private = pending.signature_private
        self._pending = None
        return pending.summary

    def discard_pending_commit(self) -> None:
        """Forget our pending commit (the relay refused it, or another commit won)."""
        self._pending = None

    def _advance(self, new: _Epoch) -> None:
        old = self._epoch
        if self._config.max_past_epochs:
            self._past.append(
                _PastEpoch(
                    old.context,
                    old.tree,
                    old.secret_tree,
                    old.sender_data_secret,
                    old.resumption_psk,
                )
            )
            while len(self._past) > self._config.max_past_epochs:
                self._past.popleft()
        self._epoch = new
        self._pending = None

    # -- PSKs -------------------------------------------------------------------------

    def _psk_value(self, psk_id: PreSharedKeyID) -> bytes:
        psk = psk_id.psk
        if isinstance(psk, ExternalPSK):
            value = self._external_psks.get(psk.psk_id)
            if value is None:
                raise StateError("unknown external PSK")
            return value
        assert isinstance(psk, ResumptionPSK)
        if psk.psk_group_id != self.group_id:
            raise StateError("resumption PSKs of other groups are not kept")
        if psk.psk_epoch == self.epoch:
            return self._epoch.resumption_psk
        for past in self._past:
            if past.context.epoch == psk.psk_epoch:
                return past.resumption_psk
        raise StateError("the resumption PSK of that epoch is no longer kept")

    def _psk_secret(self, psks: Sequence[PreSharedKeyID]) -> bytes | None:
        if not psks:
            return None
        return psk_secret(self._suite, [(p.to_bytes(), self._psk_value(p)) for p in psks])

    # -- processing -----------------------------------------------------------------

    def process(self, message: bytes | MLSMessage) -> ProcessedMessage:
        """Process a message from the group. Raises, and changes nothing, if it is refused."""
        self._check_active()
        msg = MLSMessage.from_bytes(message) if isinstance(message, bytes) else message
        body = msg.body
        if not isinstance(body, PublicMessage | PrivateMessage):
            raise UsageError("only PublicMessage and PrivateMessage are processed by a group")
        group_id = body.content.group_id if isinstance(body, PublicMessage) else body.group_id
        epoch = body.content.epoch if isinstance(body, PublicMessage) else body.epoch
        if group_id != self.group_id:
            raise StateError("message for another group")
        if epoch != self.epoch:
            if isinstance(body, PrivateMessage) and body.content_type == ContentType.APPLICATION:
                return self._process_past_application(body)
            raise StateError(f"message of epoch {epoch}, we are in epoch {self.epoch}")
        ep = self._epoch
        if isinstance(body, PublicMessage):
            auth = unprotect_public(
                self._suite, body, ep.context, ep.membership_key, self._signature_key_for
            )
        else:
            auth = unprotect_private(
                self._suite,
                body,
                ep.secret_tree,
                ep.sender_data_secret,
                ep.context,
                self._signature_key_for,
            )
        content = auth.content
        if content.content_type == ContentType.APPLICATION:
            assert isinstance(content.content, bytes)
            assert content.sender.index is not None
            return ApplicationMessage(
                content.content,
                _member(ep.tree, content.sender.index),
                content.authenticated_data,
                self.epoch,
            )
        if content.content_type == ContentType.PROPOSAL:
            if content.sender.sender_type != SenderType.MEMBER:
                raise ValidationError("V-GROUP-002", "only members' proposals are accepted")
            return self._store_proposal(auth)
        return self._process_commit(auth)

    def _signature_key_for(self, content: FramedContent) -> bytes:
        sender = content.sender
        if sender.sender_type == SenderType.MEMBER:
            assert sender.index is not None
            return _member(self._epoch.tree, sender.index).signature_key
        if sender.sender_type == SenderType.NEW_MEMBER_COMMIT:
            commit = content.content
            if not isinstance(commit, Commit) or commit.path is None:
                raise ValidationError("V-GROUP-003", "an external commit needs a path")
            return commit.path.leaf_node.signature_key
        raise ValidationError("V-GROUP-002", "external senders are not accepted")

    def _process_past_application(self, body: PrivateMessage) -> ApplicationMessage:
        past = next((p for p in self._past if p.context.epoch == body.epoch), None)
        if past is None:
            raise StateError(f"the secrets of epoch {body.epoch} are no longer kept")
        tree = past.tree

        def key_for(content: FramedContent) -> bytes:
            assert content.sender.index is not None
            return _member(tree, content.sender.index).signature_key

        auth = unprotect_private(
            self._suite, body, past.secret_tree, past.sender_data_secret, past.context, key_for
        )
        data = auth.content.content
        assert isinstance(data, bytes) and auth.content.sender.index is not None
        return ApplicationMessage(
            data,
            _member(tree, auth.content.sender.index),
            auth.content.authenticated_data,
            body.epoch,
        )

    def _process_commit(self, auth: AuthenticatedContent) -> AppliedCommit:
        suite, ep = self._suite, self._epoch
        content = auth.content
        commit = content.content
        assert isinstance(commit, Commit)
        sender = content.sender
        external = sender.sender_type == SenderType.NEW_MEMBER_COMMIT
        if sender.sender_type == SenderType.MEMBER and sender.index == self._my_leaf:
            raise StateError("our own commit: use apply_pending_commit()")
        if auth.auth.confirmation_tag is None:  # pragma: no cover - decoding guarantees it
            raise ValidationError("V-COMMIT-001", "commit without confirmation tag")
        infos: list[ProposalInfo] = []
        for item in commit.proposals:
            if item.reference is not None:
                info = ep.proposals.get(item.reference)
                if info is None:
                    raise ValidationError("V-COMMIT-002", "commit refers to an unknown proposal")
                infos.append(info)
            else:
                assert item.proposal is not None
                infos.append(ProposalInfo(item.proposal, sender, None))
        validate_proposal_list(
            suite,
            infos,
            committer=sender,
            tree=ep.tree,
            group_id=ep.context.group_id,
            extensions=ep.context.extensions,
            credential_validator=self._validator,
            now=None,
            members=ep.member_index(),
        )
        if path_required(infos) and commit.path is None:
            raise ValidationError("V-COMMIT-003", "this commit needs an UpdatePath")
        applied = apply_proposals(infos, ep.tree, ep.context.extensions)
        tree = applied.tree
        removed_me = any(leaf == self._my_leaf for leaf, _ in applied.removed)
        if external:
            if commit.path is None:
                raise ValidationError("V-GROUP-003", "an external commit needs a path")
            # The joiner's leaf goes to the leftmost free place as a placeholder that the
            # UpdatePath then replaces, exactly as the joiner built it (§12.4.3.2).
            committer_leaf = tree.add_leaf(replace(commit.path.leaf_node, encryption_key=b""))
        else:
            assert sender.index is not None
            committer_leaf = LeafIndex(sender.index)
        if removed_me:
            self._active = False
            self._pending = None
            return AppliedCommit(
                epoch=ep.context.epoch + 1,
                committer=_member_of(
                    committer_leaf,
                    commit.path.leaf_node
                    if commit.path
                    else _leaf_or_fail(ep.tree, committer_leaf),
                ),
                added=tuple(_member(tree, leaf) for leaf, _ in applied.added),
                removed=tuple(_member_of(leaf, node) for leaf, node in applied.removed),
                updated=tuple(_member_of(leaf, node) for leaf, node in applied.updated),
                removed_me=True,
            )
        old = ep.context
        new_epoch = old.epoch + 1

        def provisional(tree_hash: bytes) -> GroupContext:
            return GroupContext(
                old.cipher_suite,
                old.group_id,
                new_epoch,
                tree_hash,
                old.confirmed_transcript_hash,
                applied.extensions,
            )

        keys = ep.keys
        members = _index_after(ep.member_index(), ep.tree, applied)
        if commit.path is not None:
            validate_leaf_node(
                suite,
                commit.path.leaf_node,
                expected_source=LeafNodeSource.COMMIT,
                credential_validator=self._validator,
                group_id=old.group_id,
                leaf_index=committer_leaf,
                group_extensions=applied.extensions,
                members=members,
            )
            if not external:
                members.remove(committer_leaf, _leaf_or_fail(tree, committer_leaf))
            members.add(committer_leaf, commit.path.leaf_node)
            result = apply_update_path(
                tree,
                committer_leaf,
                commit.path,
                keys.pruned(tree),
                group_id=old.group_id,
                excluded={leaf for leaf, _ in applied.added},
                group_context_for=provisional,
            )
            tree, commit_secret, keys = result.tree, result.commit_secret, result.private_keys
        else:
            commit_secret = None
            keys = keys.pruned(tree)
        confirmed = confirmed_transcript_hash(
            suite, ep.interim_transcript_hash, auth.confirmed_transcript_hash_input()
        )
        context = GroupContext(
            old.cipher_suite,
            old.group_id,
            new_epoch,
            tree.tree_hash(),
            confirmed,
            applied.extensions,
        )
        init_secret = ep.init_secret
        if external:
            assert applied.external_init is not None
            external_private = suite.derive_key_pair(ep.external_secret)[0]
            init_secret = external_init_receiver(
                suite, external_private, applied.external_init.kem_output
            )
        s = epoch_secrets(
            suite, init_secret, commit_secret, self._psk_secret(applied.psks), context.to_bytes()
        )
        tag = auth.auth.confirmation_tag
        verify_confirmation_tag(suite, s.confirmation_key, confirmed, tag)
        interim = interim_transcript_hash(suite, confirmed, tag)
        new = _epoch_from_secrets(suite, context, tree, keys, s, self._config, interim, tag)
        new.members = members
        summary = AppliedCommit(
            epoch=new_epoch,
            committer=_member(tree, committer_leaf),
            added=tuple(_member(tree, leaf) for leaf, _ in applied.added),
            removed=tuple(_member_of(leaf, node) for leaf, node in applied.removed),
            updated=tuple(_member_of(leaf, node) for leaf, node in applied.updated),
        )
        self._advance(new)
        return summary

    # -- joining --------------------------------------------------------------------

    @classmethod
    def join(
        cls,
        welcome: bytes | Welcome,
        bundle: KeyPackageBundle,
        rng: RandomProvider,
        *,
        ratchet_tree: bytes | None = None,
        now: int | None = None,
        config: GroupConfig | None = None,
        credential_validator: CredentialValidator | None = None,
        external_psks: Mapping[bytes, bytes] | None = None,
    ) -> Group:
        """Join from a Welcome addressed to ``bundle``'s KeyPackage (§12.4.3.1).

        ``ratchet_tree`` (the extension payload) is needed when the Welcome's
        GroupInfo does not carry the tree. ``now`` is accepted for symmetry with
        KeyPackage checks; leaves already in the tree are not lifetime-checked.
        """
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
        tree = _tree_from(suite, info, ratchet_tree)
        tree.validate(context.group_id)
        if tree.tree_hash() != context.tree_hash:
            raise ValidationError("V-WELCOME-004", "the tree does not match the tree hash")
        signer = tree.leaf(info.signer)
        if signer is None:
            raise ValidationError("V-WELCOME-003", "GroupInfo signer is not a member")
        verify_group_info(suite, info, signer.signature_key)
        my_leaf = tree.find_leaf(bundle.key_package.leaf_node)
        if my_leaf is None:
            raise ValidationError("V-WELCOME-005", "our leaf is not in the tree")
        for _, leaf in tree.leaves():
            validator.validate(leaf.credential, leaf.signature_key)
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
        epoch = _epoch_from_secrets(
            suite, context, tree, keys, s, cfg, interim, info.confirmation_tag
        )
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

    @classmethod
    def join_external(
        cls,
        group_info: bytes | GroupInfo,
        credential: Credential,
        rng: RandomProvider,
        *,
        signature_private: bytes | None = None,
        ratchet_tree: bytes | None = None,
        remove_leaf: int | None = None,
        capabilities: Capabilities | None = None,
        config: GroupConfig | None = None,
        credential_validator: CredentialValidator | None = None,
        authenticated_data: bytes = b"",
    ) -> tuple[Group, bytes]:
        """Join through an external commit (§12.4.3.2) from a GroupInfo with ``external_pub``.

        Returns the group, already in the new epoch, and the commit to post. If
        the relay refuses the commit, drop the group and try again with a newer
        GroupInfo. ``remove_leaf`` removes our own old leaf (a rejoin).
        """
        if isinstance(group_info, bytes):
            body = MLSMessage.from_bytes(group_info).body
            if not isinstance(body, GroupInfo):
                raise UsageError("not a GroupInfo message")
            group_info = body
        context = group_info.group_context
        suite = suite_for(context.cipher_suite)
        validator = credential_validator or BasicCredentialValidator()
        tree = _tree_from(suite, group_info, ratchet_tree)
        tree.validate(context.group_id)
        if tree.tree_hash() != context.tree_hash:
            raise ValidationError("V-WELCOME-004", "the tree does not match the tree hash")
        signer = tree.leaf(group_info.signer)
        if signer is None:
            raise ValidationError("V-WELCOME-003", "GroupInfo signer is not a member")
        verify_group_info(suite, group_info, signer.signature_key)
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
        proposals = [Proposal(ExternalInit(kem_output))]
        if remove_leaf is not None:
            proposals.append(Proposal(Remove(remove_leaf)))
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
        )
        # A throw-away group object over the GroupInfo's epoch: it holds the transcript
        # state the commit builds on; members' secrets are not needed.
        interim = interim_transcript_hash(
            suite, context.confirmed_transcript_hash, group_info.confirmation_tag
        )
        shell = _Epoch(
            context=context,
            tree=tree,
            keys=TreePrivateKeys(LeafIndex(0)),
            secret_tree=SecretTree(suite, zeros(suite), tree.n_leaves),
            sender_data_secret=b"",
            exporter_secret=b"",
            external_secret=b"",
            confirmation_key=b"",
            membership_key=b"",
            resumption_psk=b"",
            epoch_authenticator=b"",
            init_secret=b"",
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
        out = group._create_commit(
            applied,
            tuple(ProposalOrRef(p) for p in proposals),
            me,
            my_leaf,
            init_secret,
            authenticated_data,
            signature_private,
        )
        group.apply_pending_commit()
        group._past.clear()
        return group, out.commit

    # -- snapshot ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """One snapshot of the whole state (secret: the caller encrypts it at rest).

        A pending commit is not included: after a restart, commit again.
        """
        w = Writer()
        w.uint8(_SNAPSHOT_VERSION)
        w.uint16(self._suite.suite_id)
        w.boolean(self._active)
        w.uint32(self._my_leaf)
        w.opaque(self._signature_private)
        _write_config(w, self._config)
        w.uint32(len(self._external_psks))
        for k, v in sorted(self._external_psks.items()):
            w.opaque(k)
            w.opaque(v)
        _write_epoch(w, self._epoch)
        w.uint32(len(self._past))
        for past in self._past:
            past.context.encode(w)
            w.opaque(past.tree.to_bytes())
            past.secret_tree.encode(w)
            w.opaque(past.sender_data_secret)
            w.opaque(past.resumption_psk)
        return w.getvalue()

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        rng: RandomProvider,
        *,
        credential_validator: CredentialValidator | None = None,
    ) -> Group:
        r = Reader(data, type_name="GroupSnapshot")
        if r.uint8() != _SNAPSHOT_VERSION:
            raise r.error("unknown snapshot version")
        suite = suite_for(r.uint16())
        active = r.boolean()
        my_leaf = LeafIndex(r.uint32())
        signature_private = r.opaque()
        config = _read_config(r)
        psks = {}
        for _ in range(r.uint32()):
            k = r.opaque()
            psks[k] = r.opaque()
        epoch = _read_epoch(r, suite, config)
        group = cls(
            suite,
            my_leaf,
            signature_private,
            epoch,
            rng=rng,
            config=config,
            credential_validator=credential_validator,
            external_psks=psks,
        )
        group._active = active
        for _ in range(r.uint32()):
            context = GroupContext.decode(r)
            tree = RatchetTree.from_bytes(suite, r.opaque())
            secret_tree = SecretTree.decode(suite, r)
            group._past.append(_PastEpoch(context, tree, secret_tree, r.opaque(), r.opaque()))
        r.expect_end()
        return group


# -- helpers ----------------------------------------------------------------------------


def _index_after(
    base: MemberIndex, old_tree: RatchetTree, applied: AppliedProposals
) -> MemberIndex:
    """The member index of ``old_tree`` after ``applied`` (before any UpdatePath)."""
    members = base.copy()
    for leaf, node in applied.removed:
        members.remove(leaf, node)
    for leaf, node in applied.updated:
        members.remove(leaf, _leaf_or_fail(old_tree, leaf))
        members.add(leaf, node)
    for leaf, kp in applied.added:
        members.add(leaf, kp.leaf_node)
    return members


def _leaf_or_fail(tree: RatchetTree, leaf: int) -> LeafNode:
    node = tree.leaf(leaf)
    if node is None:
        raise ValidationError("V-GROUP-001", f"leaf {leaf} is not a member")
    return node


def _key_package(kp: KeyPackage | bytes) -> KeyPackage:
    if isinstance(kp, KeyPackage):
        return kp
    body = MLSMessage.from_bytes(kp).body
    if not isinstance(body, KeyPackage):
        raise UsageError("not a KeyPackage message")
    return body


def _tree_from(suite: Suite, info: GroupInfo, ratchet_tree: bytes | None) -> RatchetTree:
    ext = find_extension(info.extensions, ExtensionType.RATCHET_TREE)
    if ext is not None:
        return RatchetTree.from_nodes(suite, decode_ratchet_tree(ext.extension_data))
    if ratchet_tree is None:
        raise StateError("the ratchet tree is neither in the GroupInfo nor given")
    return RatchetTree.from_nodes(suite, decode_ratchet_tree(ratchet_tree))


def _write_config(w: Writer, c: GroupConfig) -> None:
    w.uint16(c.handshake_wire_format)
    w.uint32(c.padding_block)
    w.uint32(c.max_past_epochs)
    w.uint32(c.secret_tree.max_skipped_keys)
    w.uint32(c.secret_tree.max_forward_distance)
    w.boolean(c.ratchet_tree_extension)
    w.uint32(c.max_pending_proposals)


def _read_config(r: Reader) -> GroupConfig:
    wf = r.uint16()
    if wf not in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE):
        raise r.error("bad handshake wire format")
    padding, past = r.uint32(), r.uint32()
    st = SecretTreeConfig(r.uint32(), r.uint32())
    return GroupConfig(WireFormat(wf), max(1, padding), past, st, r.boolean(), r.uint32())


def _write_epoch(w: Writer, ep: _Epoch) -> None:
    ep.context.encode(w)
    w.opaque(ep.tree.to_bytes())
    w.opaque(ep.keys.to_bytes())
    ep.secret_tree.encode(w)
    for secret in (
        ep.sender_data_secret,
        ep.exporter_secret,
        ep.external_secret,
        ep.confirmation_key,
        ep.membership_key,
        ep.resumption_psk,
        ep.epoch_authenticator,
        ep.init_secret,
        ep.interim_transcript_hash,
        ep.confirmation_tag,
    ):
        w.opaque(secret)
    w.uint32(len(ep.proposals))
    for ref, info in ep.proposals.items():
        w.opaque(ref)
        info.proposal.encode(w)
        info.sender.encode(w)


def _read_epoch(r: Reader, suite: Suite, config: GroupConfig) -> _Epoch:
    context = GroupContext.decode(r)
    tree = RatchetTree.from_bytes(suite, r.opaque())
    keys = TreePrivateKeys.from_bytes(r.opaque())
    secret_tree = SecretTree.decode(suite, r)
    (
        sender_data,
        exporter,
        external,
        confirm,
        membership,
        resumption,
        authenticator,
        init,
        interim,
        tag,
    ) = (r.opaque() for _ in range(10))
    proposals = {}
    for _ in range(r.uint32()):
        ref = r.opaque()
        proposal = Proposal.decode(r)
        proposals[ref] = ProposalInfo(proposal, Sender.decode(r), ref)
    return _Epoch(
        context=context,
        tree=tree,
        keys=keys,
        secret_tree=secret_tree,
        sender_data_secret=sender_data,
        exporter_secret=exporter,
        external_secret=external,
        confirmation_key=confirm,
        membership_key=membership,
        resumption_psk=resumption,
        epoch_authenticator=authenticator,
        init_secret=init,
        interim_transcript_hash=interim,
        confirmation_tag=tag,
        proposals=proposals,
    )
