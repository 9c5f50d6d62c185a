"""Contract C1: state_serial, epoch_state(), message_state(), Group.from_state()."""

from __future__ import annotations

import pytest

from cove.protocol.codec import Writer
from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import DecodeError
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.group import ApplicationMessage, AppliedCommit, Group
from cove.protocol.mls.group.config import write_config
from tests.unit.protocol.test_group import NOW, agree, bundle, make_group

RNG = SeededRandom(b"persistence")


def reload(g: Group) -> Group:
    return Group.from_state(g.epoch_state(), g.message_state(), RNG)


def test_messages_change_only_the_message_part() -> None:
    groups, _ = make_group(3)
    a, b, c = groups
    serial, epoch_part, message_part = b.state_serial, b.epoch_state(), b.message_state()
    got = b.process(a.encrypt(b"hello"))
    assert isinstance(got, ApplicationMessage)
    b.process(c.encrypt(b"hi"))
    b.encrypt(b"and me")
    assert b.state_serial == serial
    assert b.epoch_state() == epoch_part
    assert b.message_state() != message_part
    # The pair written now is the whole state.
    assert reload(b).to_bytes() == b.to_bytes()


def test_serial_moves_with_every_epoch_part_change() -> None:
    groups, _ = make_group(4)
    a, b, c, d = groups
    steps = []

    def step(what: str) -> None:
        steps.append((what, b.state_serial, b.epoch_state()))

    step("start")
    proposal = a.propose_remove(3)
    for g in (b, c, d):
        g.process(proposal)
    step("proposal stored")
    b.add_external_psk(b"id", b"k" * 32)
    step("psk added")
    b.add_external_psk(b"id", b"k" * 32)  # the same again: nothing changes
    assert b.state_serial == steps[-1][1] and b.epoch_state() == steps[-1][2]
    b.update()
    step("commit made")
    b.discard_pending_commit()
    step("commit discarded")
    b.discard_pending_commit()  # nothing pending: nothing changes
    assert b.state_serial == steps[-1][1]
    out = a.update()  # commits the Remove of d
    for g in (b, c, d):
        g.process(out.commit)
    a.apply_pending_commit()
    step("commit processed")
    out = b.update()
    step("commit made again")
    b.apply_pending_commit()
    step("commit applied")
    serials = [s for _, s, _ in steps]
    assert serials == sorted(set(serials)), steps
    assert len({e for _, _, e in steps}) == len(steps)
    for g in (a, c):
        g.process(out.commit)
    agree([a, b, c])
    # A removed member's serial moved too (she is no longer active).
    assert not d.active


def test_pending_commit_survives_a_restart() -> None:
    groups, rng = make_group(3)
    a, b, c = groups
    joiner = bundle("joiner", rng)
    out = a.add([joiner.key_package_bytes()], now=NOW)
    assert out.welcome is not None
    restarted = reload(a)
    assert restarted.has_pending_commit
    assert Group.from_bytes(a.to_bytes(), RNG).has_pending_commit
    applied = restarted.apply_pending_commit()
    assert [m.identity for m in applied.added] == [b"joiner"]
    for g in (b, c):
        assert isinstance(g.process(out.commit), AppliedCommit)
    d = Group.join(out.welcome, joiner, rng)
    everyone = [restarted, b, c, d]
    agree(everyone)
    got = d.process(restarted.encrypt(b"welcome"))
    assert isinstance(got, ApplicationMessage) and got.data == b"welcome"


def test_mismatched_parts_are_refused() -> None:
    groups, _ = make_group(3)
    a, b, _ = groups
    old_epoch_part, old_message_part = b.epoch_state(), b.message_state()
    b.process(a.propose_remove(2))  # epoch part changes
    with pytest.raises(DecodeError, match="epoch and message state do not match"):
        Group.from_state(old_epoch_part, b.message_state(), RNG)
    with pytest.raises(DecodeError, match="epoch and message state do not match"):
        Group.from_state(b.epoch_state(), old_message_part, RNG)
    # Parts of another member, or of another group, do not fit either.
    with pytest.raises(DecodeError, match="epoch and message state do not match"):
        Group.from_state(b.epoch_state(), a.message_state(), RNG)
    other, _ = make_group(1)
    with pytest.raises(DecodeError, match="epoch and message state do not match"):
        Group.from_state(other[0].epoch_state(), a.message_state(), RNG)
    # Swapped or truncated parts are refused as what they are.
    with pytest.raises(DecodeError, match="GroupEpochState"):
        Group.from_state(b.message_state(), b.epoch_state(), RNG)
    with pytest.raises(DecodeError, match="GroupMessageState"):
        Group.from_state(b.epoch_state(), b.message_state()[:-1], RNG)
    with pytest.raises(DecodeError, match="GroupSnapshot"):
        Group.from_bytes(b.to_bytes() + b"\x00", RNG)


def _one_sender_message_state(n: int) -> int:
    rng = SeededRandom(f"size-{n}".encode())
    alice = Group.create(1, b"s" * 16, Credential.basic(b"m0"), rng, now=NOW)
    bundles = [bundle(f"m{i}", rng) for i in range(1, n)]
    out = alice.add([b.key_package_bytes() for b in bundles], now=NOW)
    alice.apply_pending_commit()
    assert out.welcome is not None
    bob = Group.join(out.welcome, bundles[-1], rng)
    for i in range(5):
        bob.process(alice.encrypt(b"x" * i))
    return len(bob.message_state())


def test_message_state_does_not_grow_with_the_group() -> None:
    """Only the secret-tree path of the one sender is in it: O(log n), not O(n)."""
    small, large = _one_sender_message_state(4), _one_sender_message_state(128)
    assert large < small + 6 * 64  # five more tree levels, one node secret each


def test_version_1_snapshots_are_still_read() -> None:
    """Format 1 (before the split) as documented in docs/protocol/group.md."""
    groups, _ = make_group(2)
    a, b = groups
    b.process(a.encrypt(b"before the upgrade"))
    ep = b._epoch
    w = Writer()
    w.uint8(1)
    w.uint16(b.suite.suite_id)
    w.boolean(True)
    w.uint32(b.my_leaf_index)
    w.opaque(b._signature_private)
    write_config(w, b._config)
    w.uint32(0)
    ep.context.encode(w)
    w.opaque(ep.tree.to_bytes())
    w.opaque(ep.keys.to_bytes())
    ep.secret_tree.encode(w)
    ep.secrets.encode(w)
    w.opaque(ep.interim_transcript_hash)
    w.opaque(ep.confirmation_tag)
    w.uint32(0)  # proposals
    w.uint32(len(b._past))
    for past in b._past:
        past.context.encode(w)
        w.opaque(past.tree.to_bytes())
        past.secret_tree.encode(w)
        w.opaque(past.sender_data_secret)
        w.opaque(past.resumption_psk)
    upgraded = Group.from_bytes(w.getvalue(), RNG)
    assert upgraded.to_bytes() == b.to_bytes()
    got = upgraded.process(a.encrypt(b"after"))
    assert isinstance(got, ApplicationMessage) and got.data == b"after"
