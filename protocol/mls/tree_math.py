"""Array-based binary tree arithmetic (RFC 9420 §4.1, Appendix C).

Leaves sit at even node indices, parents at odd ones; a tree of ``n`` leaves
has ``2n - 1`` nodes and its root at ``(1 << log2(2n - 1)) - 1``.
``LeafIndex`` and ``NodeIndex`` are distinct types so that mypy catches mixing
them.
"""

from __future__ import annotations

from typing import NewType

from ..errors import UsageError

LeafIndex = NewType("LeafIndex", int)
NodeIndex = NewType("NodeIndex", int)


def log2(x: int) -> int:
    """floor(log2(x)), with log2(0) = 0 as in Appendix C."""
    return x.bit_length() - 1 if x > 0 else 0


def level(x: int) -> int:
    """The level of node ``x``: 0 for leaves, k for a node with 2^k - 1 trailing one bits."""
    if x & 1 == 0:
        return 0
    k = 0
    while (x >> k) & 1 == 1:
        k += 1
    return k


def node_width(n_leaves: int) -> int:
    """Number of nodes of a tree with ``n_leaves`` leaves."""
    return 0 if n_leaves == 0 else 2 * (n_leaves - 1) + 1


def root(n_leaves: int) -> NodeIndex:
    if n_leaves <= 0:
        raise UsageError("a tree needs at least one leaf")
    w = node_width(n_leaves)
    return NodeIndex((1 << log2(w)) - 1)


def leaf_to_node(leaf: LeafIndex) -> NodeIndex:
    return NodeIndex(2 * leaf)


def node_to_leaf(node: NodeIndex) -> LeafIndex:
    if node & 1:
        raise UsageError(f"node {node} is not a leaf")
    return LeafIndex(node >> 1)


def is_leaf(node: int) -> bool:
    return node & 1 == 0


def left(x: NodeIndex) -> NodeIndex:
    k = level(x)
    if k == 0:
        raise UsageError("a leaf has no children")
    return NodeIndex(x ^ (0x01 << (k - 1)))


def right(x: NodeIndex) -> NodeIndex:
    k = level(x)
    if k == 0:
        raise UsageError("a leaf has no children")
    return NodeIndex(x ^ (0x03 << (k - 1)))


def parent(x: NodeIndex, n_leaves: int) -> NodeIndex:
    if x == root(n_leaves):
        raise UsageError("the root has no parent")
    k = level(x)
    b = (x >> (k + 1)) & 0x01
    return NodeIndex((x | (1 << k)) ^ (b << (k + 1)))


def sibling(x: NodeIndex, n_leaves: int) -> NodeIndex:
    p = parent(x, n_leaves)
    return right(p) if x < p else left(p)


def direct_path(x: NodeIndex, n_leaves: int) -> list[NodeIndex]:
    """Ancestors of ``x`` from its parent up to and including the root."""
    r = root(n_leaves)
    out: list[NodeIndex] = []
    while x != r:
        x = parent(x, n_leaves)
        out.append(x)
    return out


def copath(x: NodeIndex, n_leaves: int) -> list[NodeIndex]:
    """Siblings of ``x`` and of each node of its direct path except the root."""
    r = root(n_leaves)
    if x == r:
        return []
    path = [x, *direct_path(x, n_leaves)]
    path.pop()  # the root
    return [sibling(y, n_leaves) for y in path]


def common_ancestor(x: NodeIndex, y: NodeIndex) -> NodeIndex:
    """The lowest common ancestor of two nodes (Appendix C ``common_ancestor_semantic``)."""
    if level(x) == 0 and x == y:
        return x
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and (x >> ly) == (y >> ly):
        return y
    if ly <= lx and (x >> lx) == (y >> lx):
        return x
    xn: int = x
    yn: int = y
    k = 0
    while xn != yn:
        xn >>= 1
        yn >>= 1
        k += 1
    return NodeIndex((xn << k) + (1 << (k - 1)) - 1)


def is_in_subtree(x: NodeIndex, ancestor: NodeIndex) -> bool:
    """True when ``x`` is ``ancestor`` or below it."""
    k = level(ancestor)
    return (x >> (k + 1)) == (ancestor >> (k + 1))
