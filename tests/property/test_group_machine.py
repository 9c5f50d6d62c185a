"""A hypothesis state machine drives 2–16 in-memory members through random group life.

The "relay" is a list: every commit is appended in order and every member
processes it; Welcomes go to the added member. After every step all current
members agree on epoch, epoch authenticator and tree hash; every application
message decrypts for exactly the current members; removed members fail on
everything sent after their removal.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import CoveError, CryptoError, StateError
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage, PrivateMessage, WireFormat
from cove.protocol.mls.group import ApplicationMessage, AppliedCommit, Group, GroupConfig
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.message_protection import decrypt_sender_data
from cove.protocol.mls.secret_tree import RatchetType
from cove.protocol.mls.validation import MemberIndex
from tests.support.ci import IN_CI

NOW = 1_800_000_000
MAX_MEMBERS = 16


class GroupMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self.rng = SeededRandom(b"machine")
        self.members: dict[str, Group] = {}
        # name -> (its group after processing its removal, a copy that ignored the
        # removal, index in after_removal of the first message it must not open)
        self.removed: dict[str, tuple[Group, Group, int]] = {}
        self.after_removal: list[bytes] = []  # messages removed members must not open
        # name -> (state_serial, epoch_state) at the last check: same serial, same bytes
        self.epoch_parts: dict[str, tuple[int, bytes]] = {}
        self.decryptions_attempted = 0  # content decryptions tried with a removed key

    def _name(self) -> str:
        self.counter += 1
        return f"m{self.counter}"

    @initialize(public=st.booleans())
    def create(self, public: bool) -> None:
        config = GroupConfig(
            handshake_wire_format=WireFormat.PUBLIC_MESSAGE
            if public
            else WireFormat.PRIVATE_MESSAGE,
            max_past_epochs=1,
        )
        name = self._name()
        self.members[name] = Group.create(
            1,
            b"group-" + self.rng.random_bytes(8),
            Credential.basic(name.encode()),
            self.rng,
            now=NOW,
            config=config,
        )
        self._add(name, st_pick=0)

    def _deliver_commit(self, committer: str, commit: bytes) -> None:
        for name, group in self.members.items():
            if name == committer:
                group.apply_pending_commit()
            else:
                result = group.process(commit)
                assert isinstance(result, AppliedCommit)
        self.after_removal.append(commit)

    def _add(self, committer: str, st_pick: int) -> None:
        name = self._name()
        bundle = KeyPackageBundle.create(1, Credential.basic(name.encode()), self.rng, now=NOW)
        out = self.members[committer].add([bundle.key_package_bytes()], now=NOW)
        self._deliver_commit(committer, out.commit)
        assert out.welcome is not None
        config = self.members[committer]._config
        self.members[name] = Group.join(out.welcome, bundle, self.rng, config=config)

    @rule(pick=st.integers(0, 1000))
    @precondition(lambda self: 0 < len(self.members) < MAX_MEMBERS)
    def add(self, pick: int) -> None:
        names = sorted(self.members)
        self._add(names[pick % len(names)], pick)

    @rule(pick=st.integers(0, 1000), victim_pick=st.integers(0, 1000))
    @precondition(lambda self: len(self.members) > 2)
    def remove(self, pick: int, victim_pick: int) -> None:
        names = sorted(self.members)
        committer = names[pick % len(names)]
        others = [n for n in names if n != committer]
        victim = others[victim_pick % len(others)]
        group = self.members[committer]
        out = group.remove([group_leaf(self.members[victim])])
        victim_group = self.members.pop(victim)
        stale = Group.from_bytes(victim_group.to_bytes(), self.rng)
        result = victim_group.process(out.commit)
        assert isinstance(result, AppliedCommit) and result.removed_me
        assert not victim_group.active
        self._deliver_commit(committer, out.commit)
        self.removed[victim] = (victim_group, stale, len(self.after_removal))

    @rule(pick=st.integers(0, 1000))
    @precondition(lambda self: len(self.members) >= 2)
    def update(self, pick: int) -> None:
        names = sorted(self.members)
        committer = names[pick % len(names)]
        out = self.members[committer].update()
        self._deliver_commit(committer, out.commit)

    @rule(senders=st.lists(st.integers(0, 1000), min_size=1, max_size=6), seed=st.integers())
    @precondition(lambda self: len(self.members) >= 2)
    def send_and_deliver_out_of_order(self, senders: list[int], seed: int) -> None:
        names = sorted(self.members)
        sent = []
        for i, pick in enumerate(senders):
            sender = names[pick % len(names)]
            data = f"{sender} says {i}".encode()
            sent.append((sender, data, self.members[sender].encrypt(data)))
        for name, group in self.members.items():
            inbox = [s for s in sent if s[0] != name]
            random.Random(seed).shuffle(inbox)
            for sender, data, message in inbox:
                result = group.process(message)
                assert isinstance(result, ApplicationMessage)
                assert result.data == data
                assert result.sender.identity == sender.encode()
        self.after_removal.extend(m for _, _, m in sent)

    @rule(pick=st.integers(0, 1000))
    @precondition(lambda self: len(self.members) >= 1)
    def snapshot_and_restore(self, pick: int) -> None:
        names = sorted(self.members)
        name = names[pick % len(names)]
        group = self.members[name]
        restored = Group.from_bytes(group.to_bytes(), self.rng)
        assert restored.to_bytes() == group.to_bytes()
        # ... and from the two parts the client stores separately.
        parts = Group.from_state(group.epoch_state(), group.message_state(), self.rng)
        assert parts.to_bytes() == group.to_bytes()
        self.members[name] = parts if pick % 2 else restored

    @invariant()
    def epoch_part_changes_only_with_the_serial(self) -> None:
        for name, group in self.members.items():
            now = (group.state_serial, group.epoch_state())
            seen = self.epoch_parts.get(name)
            if seen is not None and seen[0] == now[0]:
                assert seen[1] == now[1], "epoch_state changed without state_serial"
            self.epoch_parts[name] = now

    @invariant()
    def members_agree(self) -> None:
        groups = list(self.members.values())
        if not groups:
            return
        first = groups[0]
        for g in groups[1:]:
            assert g.epoch == first.epoch
            assert g.epoch_authenticator == first.epoch_authenticator
            assert g.tree_hash == first.tree_hash
        assert sorted(m.identity for m in first.members()) == sorted(
            n.encode() for n in self.members
        )
        # The member index carried from epoch to epoch equals one built from scratch.
        for g in groups:
            carried = g._epoch.member_index()
            fresh = MemberIndex(g._epoch.tree.leaves())
            assert carried.encryption_keys == fresh.encryption_keys
            assert carried.signature_keys == fresh.signature_keys
            assert carried.credential_types == fresh.credential_types
            assert carried.supported_by_all == fresh.supported_by_all

    @invariant()
    def removed_members_learn_nothing(self) -> None:
        current = next(iter(self.members.values()), None)
        for group, stale, first in self.removed.values():
            for message in self.after_removal[first:][-4:]:
                for g in (group, stale):
                    with pytest.raises(CoveError):
                        g.process(message)
                pm = private_message(message)
                if pm is None:
                    continue
                # Past the epoch check: decrypt with the keys the removed member kept.
                with pytest.raises(CryptoError, match="AEAD decryption failed"):
                    decrypt_sender_data(stale.suite, pm, stale._epoch.sender_data_secret)
                if current is None or pm.epoch != current.epoch:
                    continue
                # The same attempt with a member's key opens it (the attempt can succeed),
                # and even given the true sender data her secret tree opens no content.
                sender = decrypt_sender_data(current.suite, pm, current._epoch.sender_data_secret)
                with pytest.raises(CoveError):
                    stale._epoch.secret_tree.with_decryption_keys(
                        sender.leaf_index,
                        RatchetType.APPLICATION,
                        sender.generation,
                        lambda key, nonce, pm=pm, suite=stale.suite: suite.aead_decrypt(
                            key, nonce, pm.content_aad(), pm.ciphertext
                        ),
                    )
                self.decryptions_attempted += 1
            with pytest.raises(StateError):
                group.encrypt(b"still here?")


def group_leaf(group: Group) -> int:
    return group.my_leaf_index


def private_message(message: bytes) -> PrivateMessage | None:
    body = MLSMessage.from_bytes(message).body
    return body if isinstance(body, PrivateMessage) else None


TestGroupMachine = GroupMachine.TestCase
TestGroupMachine.settings = settings(
    max_examples=60 if IN_CI else 10, stateful_step_count=14, deadline=None
)


def test_the_removed_member_invariant_attempts_decryptions() -> None:
    """One fixed run: the invariant really decrypts with the removed member's keys."""
    machine = GroupMachine()
    machine.create(public=False)
    machine.add(0)
    machine.add(0)
    machine.remove(0, 0)
    machine.send_and_deliver_out_of_order([0, 1, 1], seed=1)
    machine.removed_members_learn_nothing()
    assert machine.decryptions_attempted == 3
