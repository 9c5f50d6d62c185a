"""Protocol-level cost of receiving one application message, as the group grows.

Run: .venv/bin/python bench/bench_receive.py [--sizes 10 1000 10000] [--messages 200]

For each size n a group is built by one batched Add (suite 1); the receiver and
three more senders join from the Welcome. Four senders then take turns sending;
the receiver processes every message and persists after each one, in two ways
measured in the same run:

* new: ``process()`` + ``message_state()`` (what a client writes per message
  since the state split; ``epoch_state()`` is written only when
  ``state_serial`` changes, which it never does for application messages);
* old (the anchor): ``process()`` + ``to_bytes()`` (the whole snapshot, three
  ratchet trees' worth at most, rewritten per message before the split).

Figures are medians in microseconds per message, plus the size of what is
written. The goal (issue 8): the new cost at 10,000 members within 2x of 10.
The store write itself (client, SQLite) is not included here.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cove.protocol.crypto import SeededRandom
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.group import ApplicationMessage, Group
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

NOW = 1_800_000_000
SENDERS = 4


def build(n: int, rng: SeededRandom) -> tuple[Group, list[Group]]:
    creator = Group.create(1, b"bench-rx" * 2, Credential.basic(b"m0"), rng, now=NOW)
    bundles = [
        KeyPackageBundle.create(1, Credential.basic(f"m{i}".encode()), rng, now=NOW)
        for i in range(1, n)
    ]
    out = creator.add([b.key_package for b in bundles], now=NOW)
    creator.apply_pending_commit()
    assert out.welcome is not None
    receiver = Group.join(out.welcome, bundles[-1], rng)
    senders = [creator] + [Group.join(out.welcome, b, rng) for b in bundles[: SENDERS - 1]]
    return receiver, senders


def measure(receiver: Group, messages: list[bytes], persist: str) -> tuple[list[float], int]:
    times, size = [], 0
    for message in messages:
        start = time.perf_counter()
        got = receiver.process(message)
        blob = receiver.message_state() if persist == "new" else receiver.to_bytes()
        times.append(time.perf_counter() - start)
        assert isinstance(got, ApplicationMessage)
        size = len(blob)
    return times, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args()
    rng = SeededRandom(b"bench-receive")
    print(f"suite 1, {SENDERS} senders taking turns; medians per received message")
    print(
        f"{'members':>8} {'new us':>9} {'new B':>8} {'old us':>9} {'old B':>9} "
        f"{'old/new':>8} {'setup s':>8}"
    )
    base: float | None = None
    rows = []
    for n in args.sizes:
        start = time.perf_counter()
        receiver, senders = build(n, rng)
        setup = time.perf_counter() - start
        msgs = [
            senders[i % SENDERS].encrypt(f"message {i}".encode() * 4)
            for i in range(2 * args.messages)
        ]
        serial = receiver.state_serial
        new, new_size = measure(receiver, msgs[: args.messages], "new")
        old, old_size = measure(receiver, msgs[args.messages :], "old")
        assert receiver.state_serial == serial
        new_us, old_us = statistics.median(new) * 1e6, statistics.median(old) * 1e6
        base = base or new_us
        rows.append((n, new_us))
        print(
            f"{n:8d} {new_us:9.0f} {new_size:8d} {old_us:9.0f} {old_size:9d} "
            f"{old_us / new_us:8.1f} {setup:8.1f}",
            flush=True,
        )
    for n, new_us in rows:
        print(f"new cost at {n} members: {new_us / base:.2f}x the cost at {rows[0][0]}")


if __name__ == "__main__":
    main()
