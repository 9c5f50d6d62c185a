"""Client cost of receiving one application message, as the group grows.

Run: .venv/bin/python bench/bench_client_receive.py [--sizes 10 1000 10000] [--messages 100]

For each size n one group of n members is built (suite 1, Cove identities, one
batched Add); two receivers join from the Welcome, each with its own real store
file (SQLite, WAL, synchronous=FULL). Four senders take turns sending posts.
Each receiver runs the client's receive path per message — ``apply_entries``:
one store transaction with the MLS processing, the decoded record's row, the
cursor and the group's state — in two ways, measured in the same run:

* new: the state split (contract C1): the message part (secret trees) per
  message, the epoch part only when ``state_serial`` changes (never here);
* old (the anchor): the whole snapshot (``Group.to_bytes()``) rewritten per
  message, as the client did before.

Figures: median milliseconds per message — wall time (with the store's fsync,
which varies with the disk and whatever else uses it) and process time (CPU,
all threads) — and bytes of group state written per message.
The goal (issue 8): new at 10,000 members within 2x of new at 10.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cove.client import CoveClient, FixedClock
from cove.client.account import Account
from cove.client.group_state import GROUP, GroupRecord, GroupStates
from cove.client.store import KdfParams, Store, Txn
from cove.client.sync.runner import SyncRunner
from cove.protocol import Group, KeyPackageBundle, SeededRandom
from cove.protocol.app import Post
from cove.protocol.crypto import suite_for
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity

NOW = 1_800_000_000
SENDERS = 4
WARM_UP = 10  # messages processed before measuring (first transactions, caches)


class WholeSnapshot(GroupStates):
    """The client before the split: the whole snapshot rewritten with every message."""

    written = 0

    async def save(self, txn: Txn, record: GroupRecord, group: Group | None = None) -> None:
        if group is not None:
            blob = group.to_bytes()
            WholeSnapshot.written = len(blob)
            await txn.put("bench_snapshot", record.group_id, blob)
            record.state_version += 1
        await txn.put(GROUP, record.group_id, record.pack())
        if group is not None:
            self.keep(record, group)


def member(handle: str, rng: SeededRandom) -> tuple[bytes, bytes, CoveIdentity]:
    suite = suite_for(1)
    ipriv, _ = suite.generate_signature_key_pair(rng)
    dpriv, dkey = suite.generate_signature_key_pair(rng)
    return ipriv, dpriv, CoveIdentity.create(handle, ipriv, dkey)


def build(n: int, rng: SeededRandom) -> tuple[list[Group], list[tuple[Group, Account]]]:
    v = CoveCredentialValidator()
    _, dpriv0, ident0 = member("m0", rng)
    gid = rng.random_bytes(16)
    creator = Group.create(1, gid, ident0.credential(), rng, signature_private=dpriv0, now=NOW,
                           credential_validator=v)  # fmt: skip
    people = [member(f"m{i}", rng) for i in range(1, n)]
    bundles = [
        KeyPackageBundle.create(1, ident.credential(), rng, now=NOW, signature_private=dpriv)
        for _, dpriv, ident in people
    ]
    out = creator.add([b.key_package for b in bundles], now=NOW)
    creator.apply_pending_commit()
    assert out.welcome is not None
    senders = [creator] + [
        Group.join(out.welcome, b, rng, credential_validator=v) for b in bundles[: SENDERS - 1]
    ]
    receivers = []
    for i in (-1, -2):
        ipriv, dpriv, ident = people[i]
        account = Account(
            "http://127.0.0.1:9", ident.handle, b"a" * 16, b"d" * 16, ipriv, dpriv, b"r" * 16
        )
        receivers.append(
            (Group.join(out.welcome, bundles[i], rng, credential_validator=v), account)
        )
    return senders, receivers


async def client_for(root: Path, group: Group, account: Account) -> CoveClient:
    store = await Store.create(
        root / account.handle / "cove.db", "pw", kdf=KdfParams.insecure_for_tests()
    )
    client = CoveClient(root / account.handle, store, account, clock=FixedClock(NOW))
    async with store.transaction() as txn:
        await client.states.save(txn, GroupRecord(group.group_id, seq=1, handshake=1), group)
    return client


async def run_size(
    root: Path, n: int, count: int, rng: SeededRandom
) -> tuple[float, int, float, int, float, float, float]:
    start = time.perf_counter()
    senders, receivers = build(n, rng)
    setup = time.perf_counter() - start
    new_client = await client_for(root / f"new{n}", *receivers[0])
    old_client = await client_for(root / f"old{n}", *receivers[1])
    old_states = WholeSnapshot(old_client.rng)
    async with old_client.store.transaction() as txn:
        record = await old_client.states.record(txn, receivers[1][0].group_id)
        assert record is not None
        await old_states.save(txn, record, receivers[1][0])
    old_runner = SyncRunner(old_client.ctx, old_states, old_client.messages,
                            old_client.trust_store, old_client.key_packages)  # fmt: skip
    old_runner.outbox = old_client.outbox
    gid = receivers[0][0].group_id
    messages = []
    for i in range(count + WARM_UP):
        post = Post(id=rng.random_bytes(16), sent_at=NOW, thread=b"t" * 16, body="x" * 200)
        messages.append((2 + i, senders[i % SENDERS].encrypt(post.encode())))
    new_t, old_t, new_cpu, old_cpu = [], [], [], []
    for i, (seq, message) in enumerate(messages):
        # Alternate which goes first, so that neither always follows the other's fsync.
        order = [("new", new_client.apply_entries), ("old", old_runner.apply_entries)]
        for name, apply in order if i % 2 else order[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            got = await apply(gid, [(seq, message)])
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert got.received == 1, (name, got)
            if i >= WARM_UP:
                (new_t if name == "new" else old_t).append(elapsed)
                (new_cpu if name == "new" else old_cpu).append(cpu)
    async with new_client.store.transaction() as txn:
        secrets = await txn.get("group_secrets", gid)
    new_size = len(secrets or b"")
    for c in (new_client, old_client):
        await c.store.close()
    ms = [statistics.median(x) * 1e3 for x in (new_t, old_t, new_cpu, old_cpu)]
    return ms[0], new_size, ms[1], WholeSnapshot.written, setup, ms[2], ms[3]


async def main_async(root: Path, sizes: list[int], count: int) -> None:
    rng = SeededRandom(b"bench-client-receive")
    print(f"client receive path (apply_entries, one store transaction per message), "
          f"{SENDERS} senders, {count} messages per size; medians; wall = with the "
          f"store's fsync, cpu = process time (all threads)")  # fmt: skip
    heads = ("members", "new ms", "new cpu", "new B", "old ms", "old cpu", "old B", "old/new")
    widths = (8, 8, 8, 7, 8, 8, 9, 8)
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)), " setup s")
    rows = []
    for n in sizes:
        new_ms, new_b, old_ms, old_b, setup, new_cpu, old_cpu = await run_size(root, n, count, rng)
        rows.append((n, new_ms, new_cpu))
        line = f"{n:8d} {new_ms:8.2f} {new_cpu:8.2f} {new_b:7d} {old_ms:8.2f} {old_cpu:8.2f}"
        print(f"{line} {old_b:9d} {old_ms / new_ms:8.1f} {setup:8.1f}", flush=True)
    n0, base, base_cpu = rows[0]
    for n, new_ms, new_cpu in rows:
        print(f"new cost at {n} members: {new_ms / base:.2f}x (wall), "
              f"{new_cpu / base_cpu:.2f}x (cpu) the cost at {n0}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    ap.add_argument("--messages", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main_async(Path(tmp), args.sizes, args.messages))


if __name__ == "__main__":
    main()
