"""Per-cipher-suite cost of the operations MLS repeats, suite 1 as the anchor.

Run: .venv/bin/python bench/bench_suites.py [--n 200]

For every suite: HPKE SealBase and OpenBase of 100 bytes (one path secret or
GroupSecrets), DeriveKeyPair (one TreeKEM node key), a signature and its
verification (every handshake and every message), all from a warm process, as
the median of ``--n`` runs. Then a whole operation: a commit adding one member
to a group of 16 and the new member's join (Welcome), per suite, the median of
5 fresh groups. The anchor,
measured in the same run, is suite 1; each figure is also shown as a multiple
of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cove.protocol.crypto import SUPPORTED_SUITES, SeededRandom, suite_for
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.group import Group
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

NOW = 1_800_000_000


def median_us(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def primitives(suite_id: int, n: int) -> dict[str, float]:
    s = suite_for(suite_id)
    rng = SeededRandom(b"bench")
    priv, pub = s.generate_kem_key_pair(rng)
    enc, ct = s.hpke_seal(pub, b"info", b"", bytes(100), rng)
    spriv, spub = s.generate_signature_key_pair(rng)
    sig = s.sign(spriv, b"m" * 200)
    return {
        "seal": median_us(lambda: s.hpke_seal(pub, b"info", b"", bytes(100), rng), n),
        "open": median_us(lambda: s.hpke_open(priv, enc, b"info", b"", ct), n),
        "derive": median_us(lambda: s.derive_key_pair(rng.random_bytes(32)), n),
        "sign": median_us(lambda: s.sign(spriv, b"m" * 200), n),
        "verify": median_us(lambda: s.verify(spub, b"m" * 200, sig), n),
    }


def add_and_join(suite_id: int, members: int, runs: int = 5) -> tuple[float, float]:
    """Medians over ``runs`` fresh groups: (commit ms, join ms)."""
    got = [_add_and_join_once(suite_id, members, i) for i in range(runs)]
    return statistics.median(c for c, _ in got), statistics.median(j for _, j in got)


def _add_and_join_once(suite_id: int, members: int, run: int) -> tuple[float, float]:
    rng = SeededRandom(f"bench-group-{suite_id}-{run}".encode())
    alice = Group.create(suite_id, b"b" * 16, Credential.basic(b"m0"), rng, now=NOW)
    bundles = [
        KeyPackageBundle.create(suite_id, Credential.basic(f"m{i}".encode()), rng, now=NOW)
        for i in range(1, members)
    ]
    alice.add([b.key_package_bytes() for b in bundles], now=NOW)
    alice.apply_pending_commit()
    alice.update()  # a full tree: every later commit encrypts to log2(n) nodes
    alice.apply_pending_commit()
    newcomer = KeyPackageBundle.create(suite_id, Credential.basic(b"new"), rng, now=NOW)
    t = time.perf_counter()
    out = alice.add([newcomer.key_package_bytes()], now=NOW)
    commit_s = time.perf_counter() - t
    assert out.welcome is not None
    t = time.perf_counter()
    Group.join(out.welcome, newcomer, rng)
    return commit_s * 1e3, (time.perf_counter() - t) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--members", type=int, default=16)
    args = parser.parse_args()
    suites = sorted(SUPPORTED_SUITES)
    rows = {sid: primitives(sid, args.n) for sid in suites}
    anchor = rows[1]
    print(f"median of {args.n} runs, microseconds (x suite 1, the anchor)")
    print(f"{'suite':>7} " + " ".join(f"{k:>16}" for k in anchor))
    for sid in suites:
        cells = " ".join(f"{v:9.0f} ({v / anchor[k]:4.1f}x)" for k, v in rows[sid].items())
        print(f"{sid:#7x} {cells}")
    print(f"\nadd one member to {args.members} and join by Welcome, milliseconds")
    base = add_and_join(1, args.members)
    for sid in suites:
        commit_ms, join_ms = base if sid == 1 else add_and_join(sid, args.members)
        print(
            f"{sid:#7x} commit {commit_ms:7.1f} ({commit_ms / base[0]:4.1f}x)"
            f"   join {join_ms:7.1f} ({join_ms / base[1]:4.1f}x)"
        )


if __name__ == "__main__":
    main()
