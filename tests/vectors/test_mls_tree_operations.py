"""Runner for tree-operations.json (RFC 9420 §7.7, §7.8, §12.1.1-§12.1.3).

Format: per case ``cipher_suite``; ``tree_before`` and ``tree_after``, encoded
``ratchet_tree`` payloads; ``proposal``, an encoded Proposal (Add, Update or
Remove); ``proposal_sender``, the leaf index of the member that sent it;
``tree_hash_before`` and ``tree_hash_after``. We hash the old tree, apply the
proposal (Add: the KeyPackage's leaf into the leftmost blank leaf, extending
the tree if needed, with unmerged-leaf bookkeeping; Update: replace the
sender's leaf and blank its direct path; Remove: blank the leaf and its path,
then truncate), re-encode and compare bytes, then compare the new hash.

5 cases, all suite 1: two Add, one Update, two Remove. The Update leaf has
``leaf_node_source = update`` (upstream fix of 2025-11-30).
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.mls.proposals import Add, Proposal, Remove, Update
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.mls.tree_math import LeafIndex
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("tree-operations.json"))
def test_tree_operations(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    tree = RatchetTree.from_bytes(suite, h(case["tree_before"]))
    assert tree.tree_hash().hex() == case["tree_hash_before"]

    before = tree.copy()
    body = Proposal.from_bytes(h(case["proposal"])).body
    sender = LeafIndex(case["proposal_sender"])
    if isinstance(body, Add):
        tree.add_leaf(body.key_package.leaf_node)
    elif isinstance(body, Update):
        tree.update_leaf(sender, body.leaf_node)
    elif isinstance(body, Remove):
        tree.remove_leaf(body.removed)
    else:  # pragma: no cover - the file has only these three
        pytest.fail(f"unexpected proposal {body.proposal_type}")

    assert tree.to_bytes().hex() == case["tree_after"]
    assert tree.tree_hash().hex() == case["tree_hash_after"]
    # The cached hash equals a from-scratch one, and the copy was not touched.
    assert RatchetTree.from_bytes(suite, tree.to_bytes()).tree_hash() == tree.tree_hash()
    assert before.tree_hash().hex() == case["tree_hash_before"]
    assert before.to_bytes().hex() == case["tree_before"]
