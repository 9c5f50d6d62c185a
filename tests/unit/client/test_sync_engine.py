"""The sans-I/O sync engine: log entries in, events out, never stopped by a bad message."""

from __future__ import annotations

from cove.client.sync.engine import (
    Cursor,
    MembershipChanged,
    ProposalSeen,
    Quarantined,
    Received,
    process_log,
)
from cove.protocol import Credential, Group, KeyPackageBundle, SeededRandom

NOW = 1_800_000_000


def two_members() -> tuple[Group, Group, SeededRandom]:
    rng = SeededRandom(b"engine")
    a = Group.create(1, b"g" * 16, Credential.basic(b"alice"), rng, now=NOW)
    bundle = KeyPackageBundle.create(1, Credential.basic(b"bob"), rng, now=NOW)
    out = a.add([bundle.key_package], now=NOW)
    a.apply_pending_commit()
    assert out.welcome is not None
    return a, Group.join(out.welcome, bundle, rng), rng


def test_in_order_duplicates_and_own_messages() -> None:
    a, b, _ = two_members()
    cursor = Cursor()
    log = [(1, a.encrypt(b"one")), (2, a.encrypt(b"two"))]
    events = process_log(b, cursor, log)
    assert [e.data for e in events if isinstance(e, Received)] == [b"one", b"two"]
    assert cursor.seq == 2
    # Redelivery of the same page: nothing new.
    assert process_log(b, cursor, log) == []
    # Our own message (acknowledged earlier) is skipped, not processed.
    cursor.own.add(3)
    assert process_log(b, cursor, [(3, b.encrypt(b"mine"))]) == []
    assert cursor.seq == 3 and not cursor.own


def test_garbage_and_a_broken_commit_are_quarantined_and_sync_goes_on() -> None:
    a, b, _ = two_members()
    cursor = Cursor()
    good = a.update()
    a.discard_pending_commit()
    broken = bytearray(good.commit)
    broken[-5] ^= 0xFF
    honest = a.update()
    a.apply_pending_commit()
    log = [(1, b"not mls"), (2, bytes(broken)), (3, honest.commit), (4, a.encrypt(b"after"))]
    events = process_log(b, cursor, log)
    kinds = [type(e) for e in events]
    assert kinds == [Quarantined, Quarantined, MembershipChanged, Received]
    assert cursor.seq == 4 and cursor.handshake == 3
    assert b.epoch == a.epoch and b.epoch_authenticator == a.epoch_authenticator


def test_second_commit_of_an_epoch_is_skipped() -> None:
    a, b, _ = two_members()
    first = a.update()
    a.apply_pending_commit()
    second = b.update()  # built on the same epoch as the first: loses the race
    b.discard_pending_commit()
    cursor = Cursor()
    events = process_log(b, cursor, [(1, first.commit), (2, second.commit)])
    assert isinstance(events[0], MembershipChanged)
    assert isinstance(events[1], Quarantined) and "epoch" in events[1].reason
    assert b.epoch_authenticator == a.epoch_authenticator


def test_proposals_and_removal() -> None:
    a, b, _ = two_members()
    cursor = Cursor()
    leave = b.leave()
    events = process_log(a, cursor, [(1, leave)])
    assert isinstance(events[0], ProposalSeen) and cursor.handshake == 1
    out = a.commit()
    a.apply_pending_commit()
    b_cursor = Cursor(seq=1, handshake=1)
    (ev,) = process_log(b, b_cursor, [(2, out.commit)])
    assert isinstance(ev, MembershipChanged) and ev.removed_me
    later = process_log(b, b_cursor, [(3, a.encrypt(b"secret"))])
    assert isinstance(later[0], Quarantined)
