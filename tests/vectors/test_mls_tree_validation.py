"""Runner for tree-validation.json (RFC 9420 §4.1.2, §7.3, §7.8, §7.9.2).

Format: per case ``cipher_suite``; ``tree``, the encoded ``ratchet_tree``
extension payload (``optional<Node> ratchet_tree<V>``, trailing blanks
omitted); ``group_id``; and, indexed by node index of the tree extended to
full width, ``resolutions`` (list of node-index lists) and ``tree_hashes``
(hex). Per case we decode the tree, compare the resolution and tree hash of
every node, verify the parent hashes as a joiner does, and verify every leaf
signature with ``group_id`` as context (update/commit leaves) — i.e. the
whole of :meth:`RatchetTree.validate`. We also check that the tree re-encodes
to the given bytes and that a cold cache and a warm one agree.

98 cases, 14 per suite, suites 1-7 (all run).
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.mls.ratchet_tree import RatchetTree
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("tree-validation.json"))
def test_tree_validation(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    data = h(case["tree"])
    tree = RatchetTree.from_bytes(suite, data)
    assert tree.to_bytes() == data
    assert tree.n_nodes == len(case["resolutions"]) == len(case["tree_hashes"])

    # Root first (fills the whole hash cache recursively) ...
    assert tree.tree_hash().hex() == case["tree_hashes"][tree.root]
    for n, (want_res, want_hash) in enumerate(
        zip(case["resolutions"], case["tree_hashes"], strict=True)
    ):
        assert tree.resolution(n) == want_res, f"resolution of node {n}"
        assert tree.node_tree_hash(n).hex() == want_hash, f"tree hash of node {n}"

    # ... and a cold tree node by node, leaves first.
    cold = RatchetTree.from_bytes(suite, data)
    for n in range(cold.n_nodes):
        assert cold.node_tree_hash(n).hex() == case["tree_hashes"][n]

    tree.verify_parent_hashes()
    gid = h(case["group_id"])
    for i, _ in tree.leaves():
        tree.verify_leaf_signature(i, gid)
    tree.validate(gid)
