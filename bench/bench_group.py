"""Group operations as the group grows (suite 1).

Run: .venv/bin/python bench/bench_group.py [--sizes 10 100 1000] [--repeat 3]

For each size n the group is built by one batched Add from member 0, then
"healed" the way a live group heals: the members at leaves 1, 2, 4, 8, ...
each commit one self-update, so every node on member 0's copath has a key
(right after a batched Add those nodes are blank, and the RFC then forces a
commit to encrypt to every leaf below them). Then it measures:

* remove: member 0 creates a commit removing member 1 (whose removal blanks
  no node of member 0's copath); the last member processes it. Removing a
  member elsewhere blanks one copath node; in a tree where every member has
  updated, its resolution is its two children, so the cost stays O(log n). We
  do not build such a tree for large n: it takes n/2 updates, each processed
  by every member (O(n^2) setup). Right after a batched Add most parent nodes
  are blank and a commit encrypts to every leaf below a blank copath node:
  that linear cost is the RFC's (resolution, §4.1.2), and it heals as members
  commit;
* join: member 0 commits an Add of a new member; the new member joins from
  the Welcome (which carries the ratchet tree), and the Welcome's size;
* load: restoring member 0 from its snapshot (``Group.from_bytes``). The
  other figures are for a group already loaded (a running client keeps it):
  its tree-hash cache and member index are warm.

The setup itself (batched Add and healing) is timed and printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from cove.protocol.crypto import SeededRandom
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import WireFormat
from cove.protocol.mls.group import Group, GroupConfig
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

NOW = 1_800_000_000
CONFIG = GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def build(n: int, rng: SeededRandom) -> tuple[Group, dict[int, Group], float, float]:
    creator = Group.create(1, b"bench" * 4, Credential.basic(b"m0"), rng, now=NOW, config=CONFIG)
    bundles = [
        KeyPackageBundle.create(1, Credential.basic(f"m{i}".encode()), rng, now=NOW)
        for i in range(1, n)
    ]
    t_add, out = timed(lambda: creator.add([b.key_package for b in bundles], now=NOW))
    creator.apply_pending_commit()
    healers = []
    k = 1
    while k < n:
        healers.append(k)
        k *= 2
    tracked_leaves = sorted({*healers, n - 1})
    tracked = {
        leaf: Group.join(out.welcome, bundles[leaf - 1], rng, config=CONFIG)
        for leaf in tracked_leaves
    }
    start = time.perf_counter()
    for leaf in healers:
        o = tracked[leaf].update()
        creator.process(o.commit)
        for other, g in tracked.items():
            if other != leaf:
                g.process(o.commit)
        tracked[leaf].apply_pending_commit()
    t_heal = time.perf_counter() - start
    return creator, tracked, t_add, t_heal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = SeededRandom(b"bench-group")
    print("suite 1, commits as PublicMessage; times are medians in milliseconds")
    print(
        f"{'members':>8} {'remove:commit':>14} {'remove:process':>15} {'add:commit':>11} "
        f"{'join':>9} {'welcome B':>10} {'load':>8} {'setup add s':>12} {'heal s':>8}"
    )
    for n in args.sizes:
        creator, tracked, t_add, t_heal = build(n, rng)
        creator_state, last_state = creator.to_bytes(), tracked[n - 1].to_bytes()
        victim = 1
        rm_commit, rm_process, add_commit, join, sizes, load = [], [], [], [], [], []
        for _ in range(args.repeat):
            # Each repetition starts from the same state (snapshots are not timed).
            t, c = timed(lambda: Group.from_bytes(creator_state, rng))  # noqa: B023
            load.append(t)
            p = Group.from_bytes(last_state, rng)
            for g in (c, p):  # warm the caches a running client has (tree hashes, keys index)
                g._epoch.tree.tree_hash()
                g._epoch.member_index()
            t, out = timed(lambda: c.remove([victim]))  # noqa: B023
            rm_commit.append(t)
            rm_process.append(timed(lambda: p.process(out.commit))[0])  # noqa: B023
            c.discard_pending_commit()
            b = KeyPackageBundle.create(1, Credential.basic(b"newcomer"), rng, now=NOW)
            t, out = timed(lambda: c.add([b.key_package], now=NOW))  # noqa: B023
            add_commit.append(t)
            sizes.append(len(out.welcome))
            join.append(timed(lambda: Group.join(out.welcome, b, rng, config=CONFIG))[0])  # noqa: B023
        med = statistics.median
        print(
            f"{n:8d} {med(rm_commit) * 1e3:14.1f} {med(rm_process) * 1e3:15.1f} "
            f"{med(add_commit) * 1e3:11.1f} {med(join) * 1e3:9.1f} {med(sizes):10.0f} "
            f"{med(load) * 1e3:8.1f} "
            f"{t_add:12.1f} {t_heal:8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
