"""The public ratchet tree (RFC 9420 §4, §7): nodes, resolution, tree and parent hashes.

A :class:`RatchetTree` is a *full* array-based binary tree (Appendix C): its
leaf count is always a power of two, ``LeafNode | None`` sits at even node
indices and ``ParentNode | None`` at odd ones (``None`` = blank). It grows by
doubling when no blank leaf is left (§7.7) and shrinks by halving while the
right half is entirely blank (§7.7, §12.1.3).

Mutations act in place; callers that need the old tree keep a :meth:`copy`
(cheap: nodes are immutable, only the node and cache arrays are copied).

Caches. Tree hashes (§7.8) and resolutions (§4.1.2) are cached per node. A
node's cached values depend only on its own subtree, so every mutation of
node ``x`` drops the cache entries of ``x`` and of its direct path and
nothing else: a commit that rewrites one direct path costs O(log n) hashing.
Extending the tree keeps every existing entry (node indices, and hence leaf
indices, do not move); truncating drops the right half and the old root.

Validation rule ids raised here (``docs/protocol/ratchet-tree.md``):

* ``V-TREE-001`` malformed node list (empty, blank last node, even length,
  node type not matching its position);
* ``V-TREE-002`` a non-blank parent node that is not parent-hash valid (§7.9.2);
* ``V-TREE-003`` a leaf whose signature over its LeafNodeTBS does not verify (§7.3);
* ``V-TREE-004`` an ``unmerged_leaves`` entry that is not a non-blank leaf below
  the parent (§12.4.3.1);
* ``V-TREE-005`` an unmerged leaf missing from the ``unmerged_leaves`` of a
  non-blank node between it and the parent listing it (§12.4.3.1);
* ``V-TREE-006`` an HPKE encryption key that appears in two nodes (§7.3, §12.4.3.1);
* ``V-TREE-007`` a signature key that appears in two leaves (§7.3);
* ``V-TREE-008`` a leaf whose credential type is not in its own capabilities (§7.2);
* ``V-TREE-009`` a leaf carrying a non-default extension type its capabilities
  do not list (§7.2, §7.3);
* ``V-TREE-010`` the tree hash differs from the expected one (§12.4.3.1);
* ``V-TREE-011`` an Update or Remove of a blank or out-of-range leaf (§12.1.2, §12.1.3).
"""

from __future__ import annotations

from typing import Final

from ..crypto import Suite
from ..crypto.labels import verify_with_label
from ..errors import CryptoError, UsageError, ValidationError
from .extensions import ExtensionType
from .leaf_node import LeafNode, LeafNodeSource
from .nodes import ParentNode
from .tree_nodes import PublicTree, TreeNode, _in_subtree, _parent_of, _root_of

__all__ = [
    "LEAF_NODE_TBS_LABEL",
    "RatchetTree",
    "TreeNode",
    "check_leaf_node_contents",
    "verify_leaf_node_signature",
]

#: SignWithLabel label of a LeafNode signature (§7.2).
LEAF_NODE_TBS_LABEL: Final = b"LeafNodeTBS"

#: Extension types that are "default" and never listed in capabilities (§7.2).
_DEFAULT_EXTENSION_TYPES: Final = frozenset(int(t) for t in ExtensionType)


def check_leaf_node_contents(leaf: LeafNode) -> None:
    """The group-independent content checks of a LeafNode (§7.2, §7.3).

    * ``V-TREE-008``: the credential type is listed in ``capabilities.credentials``;
    * ``V-TREE-009``: every non-default extension type of ``extensions`` is
      listed in ``capabilities.extensions``.
    """
    if int(leaf.credential.credential_type) not in leaf.capabilities.credentials:
        raise ValidationError(
            "V-TREE-008", "leaf credential type is not listed in its capabilities"
        )
    for ext in leaf.extensions:
        t = ext.extension_type
        if t not in _DEFAULT_EXTENSION_TYPES and t not in leaf.capabilities.extensions:
            raise ValidationError(
                "V-TREE-009", f"leaf extension type {t} is not listed in its capabilities"
            )


class RatchetTree(PublicTree):
    """The public state of a group's ratchet tree (see the module docstring), with the
    checks of §7.9 and §12.4.3.1 (:meth:`validate`).

    ``suite`` is the group's cipher suite (for hashing and signatures).
    """

    __slots__ = ()

    # ------------------------------------------------------------------ validation

    def verify_leaf_signature(self, i: int, group_id: bytes) -> None:
        """``V-TREE-003`` unless leaf ``i``'s signature verifies (§7.2).

        For ``update`` and ``commit`` leaves the LeafNodeTBS binds ``group_id``
        and the leaf index ``i``; for ``key_package`` leaves it does not.
        """
        leaf = self.leaf(i)
        if leaf is None:
            raise UsageError(f"leaf {i} is blank")
        verify_leaf_node_signature(self.suite, leaf, group_id, i)

    def verify_unmerged_leaves(self) -> None:
        """``V-TREE-004``/``V-TREE-005``: the unmerged leaves of every parent (§12.4.3.1)."""
        nodes = self._nodes
        root = _root_of(self._n_leaves)
        for p in range(1, len(nodes), 2):
            parent = nodes[p]
            if parent is None:
                continue
            assert isinstance(parent, ParentNode)
            for u in parent.unmerged_leaves:
                ln = 2 * u
                if ln >= len(nodes) or nodes[ln] is None or not _in_subtree(ln, p):
                    raise ValidationError(
                        "V-TREE-004",
                        f"unmerged leaf {u} of node {p} is not a member below it",
                    )
                x = ln
                while x != root:
                    x = _parent_of(x)
                    if x == p:
                        break
                    between = nodes[x]
                    if between is not None:
                        assert isinstance(between, ParentNode)
                        if u not in between.unmerged_leaves:
                            raise ValidationError(
                                "V-TREE-005",
                                f"unmerged leaf {u} of node {p} is missing at node {x}",
                            )

    def verify_unique_keys(self) -> None:
        """``V-TREE-006``: no HPKE key in two nodes; ``V-TREE-007``: no signature key
        in two leaves (§7.3, §12.4.3.1)."""
        encryption_keys: set[bytes] = set()
        signature_keys: set[bytes] = set()
        for value in self._nodes:
            if value is None:
                continue
            if value.encryption_key in encryption_keys:
                raise ValidationError("V-TREE-006", "an encryption key appears in two nodes")
            encryption_keys.add(value.encryption_key)
            if isinstance(value, LeafNode):
                if value.signature_key in signature_keys:
                    raise ValidationError("V-TREE-007", "a signature key appears in two leaves")
                signature_keys.add(value.signature_key)

    def validate(self, group_id: bytes) -> None:
        """Validate a tree received from others (§7.3, §7.9.2, §12.4.3.1).

        Checks, in order: unique encryption and signature keys (``V-TREE-006``,
        ``V-TREE-007``); unmerged-leaf lists (``V-TREE-004``, ``V-TREE-005``);
        each leaf's contents and signature (``V-TREE-008``, ``V-TREE-009``,
        ``V-TREE-003``); parent hashes (``V-TREE-002``). Group-level policy
        (credential acceptance, lifetimes, required capabilities, the group's
        cipher suite in capabilities) is the caller's.
        """
        if all(v is None for v in self._nodes[::2]):
            raise ValidationError("V-TREE-001", "ratchet tree has no member")
        self.verify_unique_keys()
        self.verify_unmerged_leaves()
        for i, leaf in self.leaves():
            check_leaf_node_contents(leaf)
            verify_leaf_node_signature(self.suite, leaf, group_id, i)
        self.verify_parent_hashes()


def verify_leaf_node_signature(
    suite: Suite, leaf: LeafNode, group_id: bytes | None, leaf_index: int | None
) -> None:
    """``V-TREE-003`` unless ``leaf``'s signature over its LeafNodeTBS verifies (§7.2).

    ``group_id`` and ``leaf_index`` are used for ``update``/``commit`` leaves and
    ignored for ``key_package`` leaves.
    """
    if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        tbs = leaf.tbs()
    else:
        if group_id is None or leaf_index is None:
            raise UsageError("an update/commit leaf needs group_id and leaf_index")
        tbs = leaf.tbs(group_id, leaf_index)
    try:
        verify_with_label(suite, leaf.signature_key, LEAF_NODE_TBS_LABEL, tbs, leaf.signature)
    except CryptoError:
        raise ValidationError(
            "V-TREE-003", f"leaf {leaf_index} signature does not verify"
        ) from None
