"""Ratchet tree and TreeKEM figures for groups of 10 to 10,000 members (suite 1).

Run: ``.venv/bin/python bench/bench_tree.py [sizes...]``

For each size we build a steady-state tree directly: members at leaves
0..m-1, every parent whose two subtrees both hold members is non-blank (as
after many commits), parent hashes chained through left children, every leaf
a signed ``commit`` leaf, so the tree passes :meth:`RatchetTree.validate`.
Then we time:

* tree hash from a cold cache (every node hashed) and after one leaf change
  (the cache re-hashes one direct path);
* ``validate`` (signatures, parent hashes, unmerged leaves, key uniqueness);
* ``create_update_path`` from a random member and ``apply_update_path`` by
  another one (both include copying the tree and merging the path).

These are figures to read, not a timed test.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from cove.protocol.crypto import SeededRandom, Suite, sign_with_label, suite_for
from cove.protocol.crypto.labels import ref_hash
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.leaf_node import Capabilities, LeafNode, LeafNodeSource
from cove.protocol.mls.nodes import ParentNode
from cove.protocol.mls.ratchet_tree import LEAF_NODE_TBS_LABEL, RatchetTree
from cove.protocol.mls.tree_math import NodeIndex, level
from cove.protocol.mls.treekem import TreePrivateKeys, apply_update_path, create_update_path

SUITE = suite_for(1)
GROUP_ID = b"bench group"


def _left(x: int) -> int:
    return x ^ (1 << (level(x) - 1))


def _right(x: int) -> int:
    return x ^ (3 << (level(x) - 1))


class Built:
    def __init__(self, tree: RatchetTree, privates: dict[int, bytes], signers: list[bytes]):
        self.tree = tree
        self.privates = privates  # node index -> HPKE private key
        self.signers = signers  # leaf index -> signature private key

    def keys_of(self, leaf: int) -> TreePrivateKeys:
        path = [2 * leaf, *self.tree.direct_path(2 * leaf)]
        return TreePrivateKeys(
            leaf, {NodeIndex(n): self.privates[n] for n in path if self.tree.node(n) is not None}
        )


def build(suite: Suite, members: int) -> Built:
    rng = SeededRandom(f"bench {members}")
    n_leaves = 1
    while n_leaves < members:
        n_leaves *= 2
    tree = RatchetTree(suite, n_leaves)
    privates: dict[int, bytes] = {}
    signers: list[bytes] = []
    sig_pubs: list[bytes] = []
    for _ in range(members):
        priv, pub = suite.generate_signature_key_pair(rng)
        signers.append(priv)
        sig_pubs.append(pub)

    def has_member(n: int) -> bool:
        k = level(n)
        return n - (1 << k) + 1 < 2 * members  # leftmost leaf of the subtree is a member

    # Which parents are set: both subtrees hold members.
    for p in range(1, tree.n_nodes, 2):
        if has_member(_left(p)) and has_member(_right(p)):
            privates[p], pub = suite.generate_kem_key_pair(rng)
            tree.set_parent(p, ParentNode(pub))
    leaf_pubs: dict[int, bytes] = {}
    for i in range(members):
        privates[2 * i], leaf_pubs[i] = suite.generate_kem_key_pair(rng)

    def finalize(n: int, parent_hash: bytes) -> None:
        """Set n's parent_hash (and sign it, for a leaf), then do its subtree."""
        if n % 2 == 0:
            i = n // 2
            if i >= members:
                return
            leaf = LeafNode(
                encryption_key=leaf_pubs[i],
                signature_key=sig_pubs[i],
                credential=Credential.basic(b"member %d" % i),
                capabilities=Capabilities(cipher_suites=(1,), credentials=(1,)),
                leaf_node_source=LeafNodeSource.COMMIT,
                parent_hash=parent_hash,
            )
            tbs = leaf.tbs(GROUP_ID, i)
            sig = sign_with_label(suite, signers[i], LEAF_NODE_TBS_LABEL, tbs)
            tree.set_leaf(i, replace(leaf, signature=sig))
            return
        node = tree.parent_node(n)
        if node is not None:
            node = ParentNode(node.encryption_key, parent_hash)
            tree.set_parent(n, node)
            stale = ref_hash(suite, b"stale", b"%d" % n)
            finalize(_right(n), stale)  # not chained to n: any earlier value
            finalize(_left(n), tree.parent_hash(n, _right(n)))
        else:  # blank: both children keep whatever chain they had
            finalize(_right(n), b"")
            finalize(_left(n), parent_hash)

    finalize(tree.root, b"")
    return Built(tree, privates, signers)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def bench(members: int) -> None:
    t0 = time.perf_counter()
    built = build(SUITE, members)
    tree = built.tree
    build_s = time.perf_counter() - t0
    rnd = random.Random(members)

    cold = timed(lambda: RatchetTree.from_nodes(SUITE, tree.to_nodes()).tree_hash(), 3)
    tree.tree_hash()
    alt = tree.copy()

    def one_leaf_change() -> None:
        i = rnd.randrange(members)
        leaf = alt.leaf(i)
        assert leaf is not None
        alt.set_leaf(i, replace(leaf, signature=leaf.signature[::-1]))
        alt.tree_hash()

    warm = timed(one_leaf_change, 200)
    validate = timed(lambda: tree.validate(GROUP_ID), 1 if members >= 1000 else 3)

    def context_for(tree_hash: bytes) -> GroupContext:
        return GroupContext(1, GROUP_ID, 7, tree_hash, bytes(32))

    sender = rnd.randrange(members)
    receiver = (sender + members // 2 + 1) % members if members > 1 else sender
    receiver_keys = built.keys_of(receiver)
    created_box: list[object] = []

    def create() -> None:
        created_box.append(
            create_update_path(
                tree,
                sender,
                group_id=GROUP_ID,
                signature_private=built.signers[sender],
                group_context_for=context_for,
                rng=SeededRandom(len(created_box)),
            )
        )

    create_s = timed(create, 5)
    created = created_box[-1]
    assert hasattr(created, "update_path")
    update_path = created.update_path

    def apply() -> None:
        out = apply_update_path(
            tree,
            sender,
            update_path,
            receiver_keys,
            group_id=GROUP_ID,
            group_context_for=context_for,
        )
        assert out.commit_secret == created.commit_secret

    apply_s = timed(apply, 5)
    print(
        f"{members:>6} members ({tree.n_leaves:>5} leaves, "
        f"{len(update_path.nodes):>2} path nodes)  build {build_s:6.2f} s\n"
        f"         tree hash cold          {ms(cold)}\n"
        f"         tree hash, 1 leaf change{ms(warm)}\n"
        f"         validate                {ms(validate)}\n"
        f"         create_update_path      {ms(create_s)}\n"
        f"         apply_update_path       {ms(apply_s)}",
        flush=True,
    )


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10, 100, 1000, 10000]
    print(f"suite 1 ({SUITE.name}); median of repeated runs")
    for m in sizes:
        bench(m)


if __name__ == "__main__":
    main(sys.argv[1:])
