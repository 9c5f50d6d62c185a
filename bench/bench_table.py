"""Issue 13's table: every Cove figure next to its anchor, measured in the same run.

Run: .venv/bin/python bench/bench_table.py [--rounds 3] [--large] [--skip-client]

Each figure is the median of ``--rounds`` rounds, Cove and its anchor alternating
within a round, so a burst of load from elsewhere on the machine does not favour
either. Ratios, not absolute times, are the figures that count.

* PrivateMessage decrypt / encrypt, 1 KiB: ``protect_private`` (sign + encrypt)
  and ``unprotect_private`` (decrypt + verify) against vodozemac's Megolm
  ``GroupSession.encrypt`` / ``InboundGroupSession.decrypt`` (the bench extra:
  ``pip install -e '.[bench]'``), both on message objects, one second each.
* crypto bindings: Ed25519 verify and sign, X25519, through libsodium (PyNaCl,
  what Cove uses) and ``cryptography``.
* ``cove --help``, cold: a fresh interpreter each time, against ``python -c pass``.
* post -> decrypted and stored at 10 clients, and offline catch-up: the clients of
  ``bench_client.py`` against a real relay process; the anchor for the latency is
  the relay alone (``bench_fanout.py``: the same relay, one post at a time, POST ->
  arrival at the last of 10 WebSocket members, no MLS, no client store).
* ``--hundred``: last of 100 members reached: post -> the 100th client has decrypted
  and stored it, against the relay alone at 100 members (setup takes minutes: every
  joiner's first update commit is processed by the others).
* ``--large``: Add commit at 5,000 members and join of a 10,000-member group
  (``bench_group.py``'s build; minutes of setup).
* Relay throughput (durable posts/s against the bare aiohttp + SQLite anchor):
  ``bench/bench_relay.py`` (printed as a pointer).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cove.protocol.crypto import SeededRandom, suite_for  # noqa: E402
from cove.protocol.mls.framing import FramedContent, Sender, WireFormat  # noqa: E402
from cove.protocol.mls.group_context import GroupContext  # noqa: E402
from cove.protocol.mls.message_protection import (  # noqa: E402
    protect_private,
    sign_content,
    unprotect_private,
)
from cove.protocol.mls.secret_tree import SecretTree, SecretTreeConfig  # noqa: E402

SUITE = suite_for(1)
PAYLOAD = b"x" * 1024
ROWS: list[tuple[str, str, str, str, str]] = []


def row(what: str, cove: str, anchor: str, ratio: str, goal: str) -> None:
    ROWS.append((what, cove, anchor, ratio, goal))
    print(f"  {what}: {cove} | anchor {anchor} | ratio {ratio} | goal {goal}", flush=True)


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(20):
            fn()
        n += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


# -- PrivateMessage against Megolm ---------------------------------------------------


def cove_messages(seconds: float) -> tuple[float, float]:
    rng = SeededRandom(b"bench-table")
    priv, pub = SUITE.generate_signature_key_pair(rng)
    ctx = GroupContext(1, b"g" * 16, 7, b"t" * 32, b"c" * 32)
    config = SecretTreeConfig(max_forward_distance=10**9)
    sender, receiver = (SecretTree(SUITE, b"e" * 32, 8, config) for _ in range(2))
    sd = b"s" * 32
    made = []

    def protect() -> None:
        content = FramedContent(ctx.group_id, ctx.epoch, Sender.member(3), b"", PAYLOAD)
        signed = sign_content(SUITE, WireFormat.PRIVATE_MESSAGE, content, priv, ctx)
        made.append(protect_private(SUITE, signed, sender, sd, rng))

    enc = rate(protect, seconds)
    start = time.perf_counter()
    for m in made:
        unprotect_private(SUITE, m, receiver, sd, ctx, lambda _c: pub)
    dec = len(made) / (time.perf_counter() - start)
    return enc, dec


def megolm_messages(seconds: float) -> tuple[float, float] | None:
    try:
        import vodozemac
    except ImportError:
        return None
    outbound = vodozemac.GroupSession()
    inbound = vodozemac.InboundGroupSession(outbound.session_key)
    made = []
    enc = rate(lambda: made.append(outbound.encrypt(PAYLOAD)), seconds)
    start = time.perf_counter()
    for m in made:
        inbound.decrypt(m)
    dec = len(made) / (time.perf_counter() - start)
    return enc, dec


def messages_rows(rounds: int) -> None:
    cove, megolm = [], []
    for _ in range(rounds):
        cove.append(cove_messages(1.0))
        got = megolm_messages(1.0)
        if got is not None:
            megolm.append(got)
    c_enc = statistics.median(e for e, _ in cove)
    c_dec = statistics.median(d for _, d in cove)
    if not megolm:
        row(
            "PrivateMessage decrypt 1 KiB",
            f"{c_dec / 1e3:.1f} k/s",
            "vodozemac missing",
            "-",
            "≥ 0.6",
        )
        row(
            "PrivateMessage encrypt 1 KiB",
            f"{c_enc / 1e3:.1f} k/s",
            "vodozemac missing",
            "-",
            "≥ 0.5",
        )
        return
    m_enc = statistics.median(e for e, _ in megolm)
    m_dec = statistics.median(d for _, d in megolm)
    row("PrivateMessage decrypt 1 KiB", f"{c_dec / 1e3:.1f} k/s", f"Megolm {m_dec / 1e3:.1f} k/s",
        f"{c_dec / m_dec:.2f}", "≥ 0.6")  # fmt: skip
    row("PrivateMessage encrypt 1 KiB", f"{c_enc / 1e3:.1f} k/s", f"Megolm {m_enc / 1e3:.1f} k/s",
        f"{c_enc / m_enc:.2f}", "≥ 0.5")  # fmt: skip


# -- crypto bindings -----------------------------------------------------------------


def binding_rows(rounds: int) -> None:
    import nacl.bindings as sodium
    from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

    seed, msg = b"k" * 32, b"m" * 200
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes_raw()
    sig = key.sign(msg)
    _, secret = sodium.crypto_sign_seed_keypair(seed)
    peer = x25519.X25519PrivateKey.from_private_bytes(b"p" * 32).public_key().public_bytes_raw()
    ops = {
        "Ed25519 verify": (
            lambda: sodium.crypto_sign_open(sig + msg, pub),
            lambda: ed25519.Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg),
        ),
        "Ed25519 sign": (lambda: sodium.crypto_sign(msg, secret), lambda: key.sign(msg)),
        "X25519": (
            lambda: sodium.crypto_scalarmult(seed, peer),
            lambda: x25519.X25519PrivateKey.from_private_bytes(seed).exchange(
                x25519.X25519PublicKey.from_public_bytes(peer)
            ),
        ),
    }
    for name, (nacl_fn, ossl_fn) in ops.items():
        a, b = [], []
        for _ in range(rounds):
            a.append(rate(nacl_fn, 0.3))
            b.append(rate(ossl_fn, 0.3))
        na, nb = statistics.median(a), statistics.median(b)
        row(f"{name} (binding)", f"libsodium {na / 1e3:.1f} k/s",
            f"cryptography {nb / 1e3:.1f} k/s", f"{na / nb:.2f}", "pick the faster")  # fmt: skip


# -- cove --help ---------------------------------------------------------------------


def cold(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cli_row(rounds: int) -> None:
    cove = ROOT / ".venv" / "bin" / "cove"
    a, b = [], []
    for _ in range(max(rounds, 5)):
        a.append(cold([str(cove), "--help"]))
        b.append(cold([sys.executable, "-c", "pass"]))
    ca, cb = statistics.median(a), statistics.median(b)
    row("cove --help, cold", f"{ca * 1e3:.0f} ms", f"python -c pass {cb * 1e3:.0f} ms",
        f"{ca / cb:.1f}x", "≤ 100 ms")  # fmt: skip


# -- clients through a relay -----------------------------------------------------------


def client_rows(rounds: int, posts: int, count: int, hundred: bool) -> None:
    import bench_client
    import bench_fanout

    from tests.support.relay_process import RelayProcess

    lat, p99, anchor, catch, lat100, anchor100 = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(rounds):  # a fresh relay per round: the benches reuse handles
            with RelayProcess.start(
                root / f"relay{i}", registration="open", limits=bench_fanout.LIMITS
            ) as relay:
                median, tail = asyncio.run(bench_client.latency(root / f"l{i}", relay.url, posts))
                lat.append(median)
                p99.append(tail)
                anchor.append(asyncio.run(bench_fanout.relay_alone(relay.url, 10, posts))[0])
                catch.append(asyncio.run(bench_client.catch_up(root / f"c{i}", relay.url, count)))
                if hundred:
                    lat100.append(
                        asyncio.run(
                            bench_client.latency(root / f"h{i}", relay.url, posts // 4, 100, "h")
                        )[0]
                    )
                    anchor100.append(asyncio.run(
                        bench_fanout.relay_alone(relay.url, 100, posts // 4))[0])  # fmt: skip
    ml, ma = statistics.median(lat) * 1e3, statistics.median(anchor) * 1e3
    row("post -> decrypted and stored at 10 clients", f"{ml:.1f} ms median (p99 "
        f"{statistics.median(p99) * 1e3:.1f} ms)", f"relay alone {ma:.1f} ms", f"{ml / ma:.1f}x",
        "≤ 5 ms median")  # fmt: skip
    if hundred:
        hl, ha = statistics.median(lat100) * 1e3, statistics.median(anchor100) * 1e3
        row("last of 100 members reached (clients)", f"{hl:.1f} ms median",
            f"relay alone {ha:.1f} ms", f"{hl / ha:.1f}x", "≤ 50 ms")  # fmt: skip
    row("offline catch-up", f"{statistics.median(catch):.0f} messages/s", "-", "-", "≥ 3,000/s")


# -- large groups --------------------------------------------------------------------


def large_rows() -> None:
    import nacl.bindings as sodium
    from bench_group import CONFIG, NOW, build

    from cove.protocol.mls.credentials import Credential
    from cove.protocol.mls.group import Group
    from cove.protocol.mls.key_package_bundle import KeyPackageBundle

    rng = SeededRandom(b"bench-table-large")
    pub, secret = sodium.crypto_sign_seed_keypair(b"k" * 32)
    for n, what in ((5000, "add"), (10000, "join")):
        creator, _tracked, _, _ = build(n, rng)
        creator._epoch.tree.tree_hash()
        tree = creator._epoch.tree.to_bytes()
        signed = sodium.crypto_sign(b"m" * 200, secret)
        adds, joins, signs, verifies = [], [], [], []
        for _ in range(3):
            b = KeyPackageBundle.create(1, Credential.basic(b"newcomer"), rng, now=NOW)
            start = time.perf_counter()
            out = creator.add([b.key_package], now=NOW)
            adds.append(time.perf_counter() - start)
            start = time.perf_counter()
            Group.join(out.welcome, b, rng, config=CONFIG)
            joins.append(time.perf_counter() - start)
            creator.discard_pending_commit()
            # The floors, same run: signing the GroupInfo (it carries the whole tree),
            # and the one signature check per leaf a join must make (RFC 9420 §7.9.2).
            start = time.perf_counter()
            sodium.crypto_sign(tree, secret)
            signs.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(n):
                sodium.crypto_sign_open(signed, pub)
            verifies.append(time.perf_counter() - start)
        med = statistics.median
        if what == "add":
            a, f = med(adds) * 1e3, med(signs) * 1e3
            row("Add commit at 5,000 members", f"{a:.1f} ms",
                f"Ed25519 sign of the {len(tree) // 1000} kB tree {f:.1f} ms", f"{a / f:.1f}x",
                "≤ 5 ms")  # fmt: skip
        else:
            j, f = med(joins), med(verifies)
            row("join a 10,000-member group", f"{j:.2f} s",
                f"{n:,} Ed25519 verifies {f:.2f} s", f"{j / f:.2f}x", "≤ 0.4 s")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--posts", type=int, default=100)
    ap.add_argument("--catch-up", type=int, default=3000)
    ap.add_argument("--large", action="store_true", help="5,000 and 10,000-member rows")
    ap.add_argument("--skip-client", action="store_true", help="no relay or client rows")
    ap.add_argument("--hundred", action="store_true", help="the 100-member latency row (slow)")
    args = ap.parse_args()
    print(f"medians of {args.rounds} alternating rounds")
    messages_rows(args.rounds)
    binding_rows(args.rounds)
    cli_row(args.rounds)
    if not args.skip_client:
        client_rows(args.rounds, args.posts, args.catch_up, args.hundred)
    if args.large:
        large_rows()
    print("  durable acknowledged posts/s (10 and 100 members) against the bare aiohttp + "
          "SQLite anchor: bench/bench_relay.py")  # fmt: skip
    print("\n| what | Cove | anchor in the same run | ratio | goal |\n|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
