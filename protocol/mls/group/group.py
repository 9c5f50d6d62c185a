"""The :class:`Group` object: state, read-only view, sending, and the atomic wrapper
through which every operation runs (the work itself is in the sibling modules)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager

from ...crypto import RandomProvider, Suite
from ...errors import StateError, UsageError
from ..credentials import Credential
from ..extensions import Extension
from ..framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
    WireFormat,
)
from ..group_context import GroupContext
from ..key_package import KeyPackage
from ..key_package_bundle import KeyPackageBundle
from ..key_schedule import mls_exporter, psk_secret
from ..leaf_node import Capabilities
from ..message_protection import protect_private, protect_public, sign_content
from ..nodes import encode_ratchet_tree
from ..proposal_list import ProposalInfo
from ..proposals import Add, Proposal, ReInit, Remove
from ..psk import ExternalPSK, PreSharedKeyID, ResumptionPSK
from ..secret_tree import SecretTree
from ..tree_math import LeafIndex
from ..validation import BasicCredentialValidator, CredentialValidator
from ..welcome import GroupInfo, Welcome
from . import building, joining, processing, snapshot
from .config import GroupConfig
from .epoch import Epoch, PastEpoch, Pending, proposal_ref
from .results import (
    AppliedCommit,
    CommitOutput,
    Member,
    ProcessedMessage,
    ProposalMessage,
    member_at,
    member_of,
)


class Group:
    """A member's view of one MLS group. See the package docstring for the life cycle."""

    def __init__(
        self,
        suite: Suite,
        my_leaf: LeafIndex,
        signature_private: bytes,
        epoch: Epoch,
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
        self._past: deque[PastEpoch] = deque()
        self._rng = rng
        self._config = config or GroupConfig()
        self._validator: CredentialValidator = credential_validator or BasicCredentialValidator()
        self._external_psks: dict[bytes, bytes] = dict(external_psks or {})
        self._pending: Pending | None = None
        self._active = True
        #: Set once a ReInit commit took effect: no more messages in this group (§11.2).
        self._reinit: ReInit | None = None
        #: The link id of the external link join that made the current epoch (policed
        #: groups with join settings); the next commit must count it.
        self._pending_link_join: bytes | None = None
        self._serial = 0

    def __repr__(self) -> str:
        return (
            f"Group(group_id={self.group_id.hex()}, epoch={self.epoch}, "
            f"leaf={self._my_leaf}, members={self._epoch.tree.member_count()})"
        )

    # -- atomicity and the state serial ---------------------------------------------

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """Run a block so that, if it raises, the group is exactly as before: the
        secret trees roll back their journals (O(keys touched)) and the group's own
        fields are restored (O(kept past epochs))."""
        saved = (
            self._epoch,
            tuple(self._past),
            self._pending,
            self._active,
            self._reinit,
            self._my_leaf,
            self._signature_private,
            self._serial,
            self._pending_link_join,
        )
        with ExitStack() as stack:
            for tree in self._secret_trees():
                stack.enter_context(tree.transaction())
            try:
                yield
            except BaseException:
                (
                    self._epoch,
                    past,
                    self._pending,
                    self._active,
                    self._reinit,
                    self._my_leaf,
                    self._signature_private,
                    self._serial,
                    self._pending_link_join,
                ) = saved
                self._past = deque(past)
                raise

    def _secret_trees(self) -> Iterator[SecretTree]:
        yield self._epoch.secret_tree
        for past in self._past:
            yield past.secret_tree

    def _bump(self) -> None:
        """The epoch part of the state changed (see :meth:`epoch_state`)."""
        self._serial += 1

    @property
    def state_serial(self) -> int:
        """Increments whenever :meth:`epoch_state` would change; never on encrypt or
        decrypt of application messages."""
        return self._serial

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
        return self._epoch.secrets.epoch_authenticator

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
    def pending_link_join(self) -> bytes | None:
        """The link id of the external link join that made the current epoch, if the
        last commit was one (``None`` otherwise). Every commit this group builds
        while it is set counts that join (``docs/protocol/invites.md`` §6)."""
        return self._pending_link_join

    @property
    def extensions(self) -> tuple[Extension, ...]:
        return self._epoch.context.extensions

    def leaf_private_key(self) -> bytes | None:
        """Our leaf's HPKE private key in the current epoch — a secret: for opening
        what a member sealed to our leaf (RFC 9420 EncryptWithLabel, e.g. a newcomer's
        history key, ``docs/protocol/invites.md`` §11); never log or send it."""
        return self._epoch.keys.leaf_private_key

    def members(self) -> list[Member]:
        return [member_of(i, leaf) for i, leaf in self._epoch.tree.leaves()]

    def member(self, leaf: int) -> Member:
        return member_at(self._epoch.tree, leaf)

    def group_info_bytes(self) -> bytes:
        """A signed GroupInfo of the current epoch (MLSMessage), with ``external_pub`` so
        that holders can join by external commit, and the tree if so configured."""
        self._check_active()
        info = building.group_info(self, self._epoch, self._my_leaf, self._signature_private)
        return MLSMessage(info).to_bytes()

    def ratchet_tree(self) -> bytes:
        """The public tree (the ``ratchet_tree`` extension payload) for out-of-band delivery."""
        return encode_ratchet_tree(self._epoch.tree.to_nodes())

    def export_secret(self, label: bytes, context: bytes, length: int) -> bytes:
        """MLS-Exporter (§8.5) of the current epoch."""
        self._check_active()
        return mls_exporter(
            self._suite, self._epoch.secrets.exporter_secret, label, context, length
        )

    def add_external_psk(self, psk_id: bytes, psk: bytes) -> None:
        if self._external_psks.get(psk_id) != psk:
            self._external_psks[psk_id] = psk
            self._bump()

    @property
    def reinit(self) -> ReInit | None:
        """The ReInit that ended this group (§11.2), if one was committed: the members
        continue in a new group with its parameters; nothing more is sent here."""
        return self._reinit

    def _check_active(self) -> None:
        if not self._active:
            raise StateError("we are no longer a member of this group")

    def _check_open(self) -> None:
        """For anything sent or committed in the current epoch."""
        self._check_active()
        if self._reinit is not None:
            raise StateError("this group was re-initialized (ReInit): use the new group")

    # -- creation and joining (see joining.py) ----------------------------------------

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
        return joining.create(
            cls,
            suite_id,
            group_id,
            credential,
            rng,
            signature_private=signature_private,
            extensions=extensions,
            capabilities=capabilities,
            config=config,
            credential_validator=credential_validator,
            now=now,
        )

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
        return joining.join(
            cls,
            welcome,
            bundle,
            rng,
            ratchet_tree=ratchet_tree,
            config=config,
            credential_validator=credential_validator,
            external_psks=external_psks,
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
        return joining.join_external(
            cls,
            group_info,
            credential,
            rng,
            signature_private=signature_private,
            ratchet_tree=ratchet_tree,
            remove_leaf=remove_leaf,
            capabilities=capabilities,
            config=config,
            credential_validator=credential_validator,
            authenticated_data=authenticated_data,
        )

    # -- sending application data ------------------------------------------------------

    def encrypt(self, data: bytes, authenticated_data: bytes = b"") -> bytes:
        """An application message from us, as MLSMessage bytes (always a PrivateMessage)."""
        self._check_open()
        ep = self._epoch
        content = FramedContent(
            ep.context.group_id,
            ep.context.epoch,
            Sender.member(self._my_leaf),
            authenticated_data,
            data,
        )
        with self._atomic():
            signed = sign_content(
                self._suite,
                WireFormat.PRIVATE_MESSAGE,
                content,
                self._signature_private,
                ep.context,
            )
            msg = protect_private(
                self._suite,
                signed,
                ep.secret_tree,
                ep.secrets.sender_data_secret,
                self._rng,
                padding_block=self._config.padding_block,
            )
            return MLSMessage(msg).to_bytes()

    # -- proposals ------------------------------------------------------------------

    def propose_remove(self, leaf: int, authenticated_data: bytes = b"") -> bytes:
        """A Remove proposal (to leave, propose removing our own leaf)."""
        self._check_open()
        member_at(self._epoch.tree, leaf)
        return self._send_proposal(Proposal(Remove(leaf)), authenticated_data)

    def propose_add(self, key_package: KeyPackage, authenticated_data: bytes = b"") -> bytes:
        self._check_open()
        return self._send_proposal(Proposal(Add(key_package)), authenticated_data)

    def leave(self) -> bytes:
        """A proposal that removes us; another member commits it."""
        return self.propose_remove(self._my_leaf)

    def _send_proposal(self, body: Proposal, authenticated_data: bytes) -> bytes:
        ep = self._epoch
        wf = self._config.handshake_wire_format
        content = FramedContent(
            ep.context.group_id,
            ep.context.epoch,
            Sender.member(self._my_leaf),
            authenticated_data,
            body,
        )
        with self._atomic():
            signed = sign_content(self._suite, wf, content, self._signature_private, ep.context)
            self._check_proposal_room(signed)
            out = self._protect(signed)
            self._store_proposal(signed)
            return out

    def _protect(self, signed: AuthenticatedContent) -> bytes:
        ep = self._epoch
        if signed.wire_format == WireFormat.PUBLIC_MESSAGE:
            msg: PublicMessage | PrivateMessage = protect_public(
                self._suite, signed, ep.context, ep.secrets.membership_key
            )
        else:
            msg = protect_private(
                self._suite,
                signed,
                ep.secret_tree,
                ep.secrets.sender_data_secret,
                self._rng,
                padding_block=self._config.padding_block,
            )
        return MLSMessage(msg).to_bytes()

    def _check_proposal_room(self, auth: AuthenticatedContent) -> bytes:
        ref = proposal_ref(self._suite, auth)
        proposals = self._epoch.proposals
        if ref not in proposals and len(proposals) >= self._config.max_pending_proposals:
            raise StateError("too many pending proposals in this epoch")
        return ref

    def _store_proposal(self, auth: AuthenticatedContent) -> ProposalMessage:
        """Keep a proposal for the next commit: the last step of its processing."""
        body = auth.content.content
        assert isinstance(body, Proposal)
        ref = self._check_proposal_room(auth)
        self._epoch.proposals[ref] = ProposalInfo(body, auth.content.sender, ref)
        self._bump()
        return ProposalMessage(ref, body, auth.content.sender)

    # -- commits we create (see building.py) -----------------------------------------

    def add(
        self,
        key_packages: Sequence[KeyPackage | bytes],
        *,
        now: int,
        authenticated_data: bytes = b"",
    ) -> CommitOutput:
        """Commit Adds for ``key_packages`` (KeyPackage or MLSMessage bytes); ``now``
        (seconds since the epoch) checks their lifetimes."""
        props = [Proposal(Add(building.key_package(kp))) for kp in key_packages]
        return self.commit(props, now=now, authenticated_data=authenticated_data)

    def remove(
        self, leaves: Sequence[int], *, now: int | None = None, authenticated_data: bytes = b""
    ) -> CommitOutput:
        """Commit Removes (and the valid pending proposals; stored Adds only with ``now``)."""
        if self._my_leaf in leaves:
            raise UsageError("we cannot commit our own removal; use leave()")
        return self.commit(
            [Proposal(Remove(i)) for i in leaves], now=now, authenticated_data=authenticated_data
        )

    def update(self, *, now: int | None = None, authenticated_data: bytes = b"") -> CommitOutput:
        """A commit with an UpdatePath, new keys on our whole path (PCS), plus the valid
        pending proposals (stored Adds only with ``now``)."""
        return self.commit([], now=now, authenticated_data=authenticated_data)

    def commit(
        self,
        proposals: Sequence[Proposal] = (),
        *,
        now: int | None = None,
        authenticated_data: bytes = b"",
        include_pending: bool = True,
    ) -> CommitOutput:
        """Create a commit of ``proposals`` (inline) plus, by reference, the valid pending
        proposals of this epoch. Always carries an UpdatePath. The group does not move to
        the new epoch until :meth:`apply_pending_commit`; the pending commit is part of
        the snapshot. ``now`` is required for inline Adds (KeyPackage lifetimes,
        V-LEAF-005); without it stored Add proposals are left out. Stored proposals
        left out are listed in ``CommitOutput.left_out`` with the reason."""
        self._check_open()
        if self._pending is not None:
            raise StateError("a commit is already pending; apply or discard it first")
        with self._atomic():
            return building.commit(
                self,
                proposals,
                now=now,
                authenticated_data=authenticated_data,
                include_pending=include_pending,
            )

    def apply_pending_commit(self) -> AppliedCommit:
        """Move to the epoch of our pending commit (the relay accepted it)."""
        pending = self._pending
        if pending is None:
            raise StateError("no pending commit")
        self._advance(pending.epoch)
        self._my_leaf = pending.my_leaf
        self._signature_private = pending.signature_private
        self._reinit = pending.reinit
        return pending.summary

    def discard_pending_commit(self) -> None:
        """Forget our pending commit (the relay refused it, or another commit won)."""
        if self._pending is not None:
            self._pending = None
            self._bump()

    def _advance(self, new: Epoch) -> None:
        if self._config.max_past_epochs:
            self._past.append(PastEpoch.of(self._epoch))
            while len(self._past) > self._config.max_past_epochs:
                self._past.popleft()
        self._epoch = new
        self._pending = None
        self._pending_link_join = None
        self._bump()

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
            return self._epoch.secrets.resumption_psk
        for past in self._past:
            if past.context.epoch == psk.psk_epoch:
                return past.resumption_psk
        raise StateError("the resumption PSK of that epoch is no longer kept")

    def _psk_secret(self, psks: Sequence[PreSharedKeyID]) -> bytes | None:
        if not psks:
            return None
        return psk_secret(self._suite, [(p.to_bytes(), self._psk_value(p)) for p in psks])

    # -- processing (see processing.py) ---------------------------------------------

    def process(self, message: bytes | MLSMessage, *, now: int | None = None) -> ProcessedMessage:
        """Process a message from the group. Raises, and changes nothing, if it is
        refused: not even the secret-tree key the message was encrypted under is used.
        With ``now``, the lifetimes of KeyPackages a commit adds are checked too."""
        self._check_active()
        with self._atomic():
            return processing.process(self, message, now)

    # -- persistence (see snapshot.py) ------------------------------------------------

    def to_bytes(self) -> bytes:
        """One snapshot of the whole state, pending commit included (secret: the caller
        encrypts it at rest). The same as the two parts below, framed together."""
        return snapshot.to_bytes(self)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        rng: RandomProvider,
        *,
        credential_validator: CredentialValidator | None = None,
    ) -> Group:
        return snapshot.from_bytes(cls, data, rng, credential_validator=credential_validator)

    def epoch_state(self) -> bytes:
        """The part of the state that changes only when :attr:`state_serial` does (O(n))."""
        return snapshot.epoch_state(self)

    def message_state(self) -> bytes:
        """The part that changes per message: the secret trees (independent of n)."""
        return snapshot.message_state(self)

    @classmethod
    def from_state(
        cls,
        epoch_state: bytes,
        message_state: bytes,
        rng: RandomProvider,
        *,
        credential_validator: CredentialValidator | None = None,
    ) -> Group:
        """A group from its two parts; DecodeError if they do not belong together."""
        return snapshot.from_state(
            cls, epoch_state, message_state, rng, credential_validator=credential_validator
        )
