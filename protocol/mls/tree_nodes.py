"""The ratchet tree's storage and the operations on it (RFC 9420 §4, §7): nodes,
access, mutation, resolution, tree hashes and parent hashes, with their caches.
:class:`~.ratchet_tree.RatchetTree` adds validation on top and is the class every
other module uses; see :mod:`.ratchet_tree` for the tree's shape, the caches and
the rule ids (``V-TREE-001``, ``V-TREE-002``, ``V-TREE-010`` and ``V-TREE-011``
are raised here).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Self

from ..codec import encode_varint
from ..crypto import Suite
from ..errors import UsageError, ValidationError
from .leaf_node import LeafNode, LeafNodeSource
from .nodes import Node, ParentNode, decode_ratchet_tree, encode_node_values
from .tree_math import LeafIndex, NodeIndex, level

#: A node value of the tree: a leaf, a parent, or ``None`` for blank.
TreeNode = LeafNode | ParentNode | None


def _vec(data: bytes) -> bytes:
    return encode_varint(len(data)) + data


def _root_of(n_leaves: int) -> int:
    """Root node index of a full tree with ``n_leaves`` (a power of two) leaves."""
    return n_leaves - 1


def _parent_of(x: int) -> int:
    """Parent of node ``x`` in an (unbounded) array tree; the caller checks it is not the root."""
    k = level(x)
    b = (x >> (k + 1)) & 0x01
    return (x | (1 << k)) ^ (b << (k + 1))


def _left(x: int) -> int:
    return x ^ (1 << (level(x) - 1))


def _right(x: int) -> int:
    return x ^ (3 << (level(x) - 1))


def _in_subtree(x: int, ancestor: int) -> bool:
    k = level(ancestor)
    return (x >> (k + 1)) == (ancestor >> (k + 1))


class PublicTree:
    """The public state of a group's ratchet tree, without validation.

    ``suite`` is the group's cipher suite (for hashing and signatures).
    """

    __slots__ = ("_hashes", "_n_leaves", "_nodes", "_resolutions", "suite")

    suite: Suite
    _n_leaves: int
    _nodes: list[TreeNode]
    _hashes: list[bytes | None]
    _resolutions: list[tuple[NodeIndex, ...] | None]

    def __init__(self, suite: Suite, n_leaves: int = 1) -> None:
        """An all-blank tree of ``n_leaves`` leaves (a power of two)."""
        if n_leaves < 1 or n_leaves & (n_leaves - 1):
            raise UsageError("a ratchet tree has a power-of-two number of leaves")
        width = 2 * n_leaves - 1
        self.suite = suite
        self._n_leaves = n_leaves
        self._nodes = [None] * width
        self._hashes = [None] * width
        self._resolutions = [None] * width

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, suite: Suite, leaf_node: LeafNode) -> Self:
        """The one-member tree of a new group (§11): ``leaf_node`` at leaf 0."""
        tree = cls(suite, 1)
        tree.set_leaf(LeafIndex(0), leaf_node)
        return tree

    @classmethod
    def from_nodes(cls, suite: Suite, nodes: Sequence[Node | None]) -> Self:
        """The tree of a ``ratchet_tree`` extension (§12.4.3.3), extended to full width.

        Structural checks only (``V-TREE-001``): at least one node, odd length,
        a non-blank last node, leaves at even and parents at odd indices. Use
        :meth:`validate` for everything else.
        """
        if not nodes:
            raise ValidationError("V-TREE-001", "empty ratchet tree")
        if len(nodes) % 2 == 0:
            raise ValidationError("V-TREE-001", "ratchet tree has an even number of nodes")
        if nodes[-1] is None:
            raise ValidationError("V-TREE-001", "ratchet tree ends with a blank node")
        values: list[TreeNode] = []
        for index, node in enumerate(nodes):
            if node is None:
                values.append(None)
                continue
            value = node.value
            if (index % 2 == 0) != isinstance(value, LeafNode):
                raise ValidationError(
                    "V-TREE-001", f"node {index} has the wrong type for its position"
                )
            values.append(value)
        n_leaves = 1
        while 2 * n_leaves - 1 < len(values):
            n_leaves *= 2
        tree = cls(suite, n_leaves)
        tree._nodes[: len(values)] = values
        return tree

    @classmethod
    def from_bytes(cls, suite: Suite, data: bytes) -> Self:
        """Decode the ``extension_data`` of a ``ratchet_tree`` extension."""
        return cls.from_nodes(suite, decode_ratchet_tree(data))

    def to_nodes(self) -> tuple[Node | None, ...]:
        """The node list of a ``ratchet_tree`` extension: trailing blanks omitted."""
        end = len(self._nodes)
        while end > 0 and self._nodes[end - 1] is None:
            end -= 1
        return tuple(None if v is None else Node(v) for v in self._nodes[:end])

    def to_bytes(self) -> bytes:
        """The ``extension_data`` of a ``ratchet_tree`` extension (``to_nodes()`` encoded)."""
        end = len(self._nodes)
        while end > 0 and self._nodes[end - 1] is None:
            end -= 1
        return encode_node_values(self._nodes[:end])

    def copy(self) -> Self:
        """An independent copy (nodes are immutable and shared; caches are kept)."""
        other = type(self).__new__(type(self))
        other.suite = self.suite
        other._n_leaves = self._n_leaves
        other._nodes = self._nodes.copy()
        other._hashes = self._hashes.copy()
        other._resolutions = self._resolutions.copy()
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicTree):
            return NotImplemented
        return self.suite is other.suite and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"RatchetTree(suite={self.suite.suite_id}, n_leaves={self._n_leaves}, "
            f"members={self.member_count()})"
        )

    # ------------------------------------------------------------------ access

    @property
    def n_leaves(self) -> int:
        """Number of leaves (a power of two), blank ones included."""
        return self._n_leaves

    @property
    def n_nodes(self) -> int:
        return 2 * self._n_leaves - 1

    @property
    def root(self) -> NodeIndex:
        return NodeIndex(_root_of(self._n_leaves))

    def _check_node(self, n: int) -> None:
        if not 0 <= n < len(self._nodes):
            raise UsageError(f"node {n} is outside the tree")

    def _check_leaf(self, i: int) -> None:
        if not 0 <= i < self._n_leaves:
            raise UsageError(f"leaf {i} is outside the tree")

    def node(self, n: int) -> TreeNode:
        """The value at node index ``n`` (``None`` if blank)."""
        self._check_node(n)
        return self._nodes[n]

    def leaf(self, i: int) -> LeafNode | None:
        """The LeafNode at leaf index ``i`` (``None`` if blank)."""
        self._check_leaf(i)
        value = self._nodes[2 * i]
        assert value is None or isinstance(value, LeafNode)
        return value

    def parent_node(self, n: int) -> ParentNode | None:
        """The ParentNode at (odd) node index ``n`` (``None`` if blank)."""
        self._check_node(n)
        if n % 2 == 0:
            raise UsageError(f"node {n} is a leaf")
        value = self._nodes[n]
        assert value is None or isinstance(value, ParentNode)
        return value

    def leaves(self) -> Iterator[tuple[LeafIndex, LeafNode]]:
        """The non-blank leaves, left to right."""
        nodes = self._nodes
        for i in range(self._n_leaves):
            value = nodes[2 * i]
            if value is not None:
                assert isinstance(value, LeafNode)
                yield LeafIndex(i), value

    def member_count(self) -> int:
        """Number of non-blank leaves."""
        return sum(1 for v in self._nodes[::2] if v is not None)

    def find_leaf(self, leaf_node: LeafNode) -> LeafIndex | None:
        """The index of a leaf equal to ``leaf_node`` (e.g. a joiner's own leaf), if any."""
        for i, value in self.leaves():
            if value == leaf_node:
                return i
        return None

    def nodes_with_encryption_keys(self, keys: Iterable[bytes]) -> list[NodeIndex]:
        """The non-blank nodes whose HPKE encryption key is one of ``keys`` (one pass)."""
        wanted = frozenset(keys)
        return [
            NodeIndex(n)
            for n, v in enumerate(self._nodes)
            if v is not None and v.encryption_key in wanted
        ]

    def leaves_with_signature_key(self, key: bytes) -> list[LeafIndex]:
        """The non-blank leaves whose signature key is ``key`` (one pass)."""
        nodes = self._nodes
        out: list[LeafIndex] = []
        for n in range(0, len(nodes), 2):
            v = nodes[n]
            if v is not None:
                assert isinstance(v, LeafNode)
                if v.signature_key == key:
                    out.append(LeafIndex(n >> 1))
        return out

    def free_leaf(self) -> LeafIndex:
        """The leaf the next :meth:`add_leaf` fills: the leftmost blank leaf, or
        ``n_leaves`` when there is none (the add will extend the tree). Does not
        modify the tree."""
        nodes = self._nodes
        for i in range(self._n_leaves):
            if nodes[2 * i] is None:
                return LeafIndex(i)
        return LeafIndex(self._n_leaves)

    def direct_path(self, n: int) -> list[NodeIndex]:
        """Ancestors of node ``n``, parent first, root last (§4.1.2)."""
        self._check_node(n)
        root = _root_of(self._n_leaves)
        out: list[NodeIndex] = []
        x = n
        while x != root:
            x = _parent_of(x)
            out.append(NodeIndex(x))
        return out

    # ------------------------------------------------------------------ mutation

    def _invalidate(self, n: int) -> None:
        """Drop the cached hash and resolution of ``n`` and of its direct path."""
        root = _root_of(self._n_leaves)
        hashes = self._hashes
        resolutions = self._resolutions
        x = n
        hashes[x] = None
        resolutions[x] = None
        while x != root:
            x = _parent_of(x)
            hashes[x] = None
            resolutions[x] = None

    def set_leaf(self, i: int, leaf_node: LeafNode | None) -> None:
        """Set leaf ``i`` (``None`` blanks it). No other node changes."""
        self._check_leaf(i)
        if leaf_node is not None and not isinstance(leaf_node, LeafNode):
            raise UsageError("set_leaf takes a LeafNode or None")
        self._nodes[2 * i] = leaf_node
        self._invalidate(2 * i)

    def set_parent(self, n: int, parent_node: ParentNode | None) -> None:
        """Set parent node ``n`` (odd index; ``None`` blanks it)."""
        self._check_node(n)
        if n % 2 == 0:
            raise UsageError(f"node {n} is a leaf")
        if parent_node is not None and not isinstance(parent_node, ParentNode):
            raise UsageError("set_parent takes a ParentNode or None")
        self._nodes[n] = parent_node
        self._invalidate(n)

    def blank_path(self, i: int) -> None:
        """Blank every parent node on the direct path of leaf ``i`` (the leaf stays)."""
        self._check_leaf(i)
        nodes = self._nodes
        for p in self.direct_path(2 * i):
            nodes[p] = None
        self._invalidate(2 * i)

    def extend(self) -> None:
        """Double the leaf count: the old tree becomes the left subtree of a new
        blank root (§7.7). :meth:`add_leaf` does this itself; this is for placing
        an external committer one past the last leaf of a full tree."""
        self._extend()

    def _extend(self) -> None:
        """Double the leaf count: the old tree becomes the left subtree of a blank root."""
        old = len(self._nodes)
        self._n_leaves *= 2
        grow = old + 1
        self._nodes.extend([None] * grow)
        self._hashes.extend([None] * grow)
        self._resolutions.extend([None] * grow)

    def _truncate(self) -> None:
        """Halve while the right subtree of the root holds no non-blank node (§7.7).

        The root is discarded with the right subtree, blank or not.
        """
        nodes = self._nodes
        n = self._n_leaves
        while n > 1:
            last = len(nodes) - 1
            while last >= n and nodes[last] is None:
                last -= 1
            if last >= n:  # a non-blank node in the right half
                break
            n //= 2
            width = 2 * n - 1
            del nodes[width:]
            del self._hashes[width:]
            del self._resolutions[width:]
            self._n_leaves = n

    def add_leaf(self, leaf_node: LeafNode) -> LeafIndex:
        """Apply an Add (§12.1.1): place ``leaf_node`` in the leftmost blank leaf.

        The tree is extended if no leaf is blank. The new leaf index is added to
        the ``unmerged_leaves`` of every non-blank parent on its direct path.
        """
        if not isinstance(leaf_node, LeafNode):
            raise UsageError("add_leaf takes a LeafNode")
        i = self.free_leaf()
        if i == self._n_leaves:
            self._extend()
        nodes = self._nodes
        for p in self.direct_path(2 * i):
            parent = nodes[p]
            if isinstance(parent, ParentNode) and i not in parent.unmerged_leaves:
                nodes[p] = ParentNode(
                    parent.encryption_key,
                    parent.parent_hash,
                    tuple(sorted((*parent.unmerged_leaves, i))),
                )
        nodes[2 * i] = leaf_node
        self._invalidate(2 * i)
        return i

    def _check_member(self, i: int, what: str) -> None:
        if not 0 <= i < self._n_leaves or self._nodes[2 * i] is None:
            raise ValidationError("V-TREE-011", f"{what} of leaf {i}, which is not a member")

    def update_leaf(self, i: int, leaf_node: LeafNode) -> None:
        """Apply an Update (§12.1.2): replace leaf ``i`` and blank its direct path."""
        self._check_member(i, "update")
        if not isinstance(leaf_node, LeafNode):
            raise UsageError("update_leaf takes a LeafNode")
        nodes = self._nodes
        for p in self.direct_path(2 * i):
            nodes[p] = None
        nodes[2 * i] = leaf_node
        self._invalidate(2 * i)

    def remove_leaf(self, i: int) -> None:
        """Apply a Remove (§12.1.3): blank leaf ``i`` and its direct path, then truncate."""
        self._check_member(i, "removal")
        nodes = self._nodes
        for p in self.direct_path(2 * i):
            nodes[p] = None
        nodes[2 * i] = None
        self._invalidate(2 * i)
        self._truncate()

    # ------------------------------------------------------------------ resolution

    def _resolution(self, n: int) -> tuple[NodeIndex, ...]:
        cached = self._resolutions[n]
        if cached is not None:
            return cached
        value = self._nodes[n]
        result: tuple[NodeIndex, ...]
        if value is not None:
            if isinstance(value, ParentNode):
                result = (NodeIndex(n), *(NodeIndex(2 * u) for u in value.unmerged_leaves))
            else:
                result = (NodeIndex(n),)
        elif n % 2 == 0:
            result = ()
        else:
            result = self._resolution(_left(n)) + self._resolution(_right(n))
        self._resolutions[n] = result
        return result

    def resolution(self, n: int) -> list[NodeIndex]:
        """The resolution of node ``n`` (§4.1.2), in order."""
        self._check_node(n)
        return list(self._resolution(n))

    def filtered_direct_path_with_copath(self, leaf: int) -> list[tuple[NodeIndex, NodeIndex]]:
        """``(node, copath child)`` for each node of the filtered direct path of ``leaf`` (§4.1.2).

        A direct-path node is kept when its child on the copath of ``leaf`` has
        a non-empty resolution (unmerged leaves count). Bottom-up order.
        """
        self._check_leaf(leaf)
        root = _root_of(self._n_leaves)
        out: list[tuple[NodeIndex, NodeIndex]] = []
        x = 2 * leaf
        while x != root:
            p = _parent_of(x)
            s = _right(p) if x < p else _left(p)
            if self._resolution(s):
                out.append((NodeIndex(p), NodeIndex(s)))
            x = p
        return out

    def filtered_direct_path(self, leaf: int) -> list[NodeIndex]:
        """The filtered direct path of ``leaf`` (§4.1.2), bottom-up."""
        return [p for p, _ in self.filtered_direct_path_with_copath(leaf)]

    # ------------------------------------------------------------------ tree hash

    def _leaf_hash_input(self, n: int, value: TreeNode) -> bytes:
        head = b"\x01" + (n >> 1).to_bytes(4, "big")
        if value is None:
            return head + b"\x00"
        return head + b"\x01" + value.to_bytes()

    def _parent_hash_input(self, value: ParentNode | None, left: bytes, right: bytes) -> bytes:
        body = b"\x00" if value is None else b"\x01" + value.to_bytes()
        return b"\x02" + body + _vec(left) + _vec(right)

    def _tree_hash(self, n: int) -> bytes:
        cached = self._hashes[n]
        if cached is not None:
            return cached
        value = self._nodes[n]
        if n % 2 == 0:
            digest = self.suite.hash(self._leaf_hash_input(n, value))
        else:
            left = self._tree_hash(_left(n))
            right = self._tree_hash(_right(n))
            assert value is None or isinstance(value, ParentNode)
            digest = self.suite.hash(self._parent_hash_input(value, left, right))
        self._hashes[n] = digest
        return digest

    def node_tree_hash(self, n: int) -> bytes:
        """The tree hash of the subtree headed by node ``n`` (§7.8)."""
        self._check_node(n)
        return self._tree_hash(n)

    def tree_hash(self) -> bytes:
        """The tree hash of the root (§7.8): the GroupContext ``tree_hash``."""
        return self._tree_hash(_root_of(self._n_leaves))

    def verify_tree_hash(self, expected: bytes) -> None:
        """``V-TREE-010`` unless the root tree hash equals ``expected``."""
        if self.tree_hash() != expected:
            raise ValidationError("V-TREE-010", "tree hash does not match")

    def _tree_hash_without(self, n: int, removed: frozenset[int]) -> bytes:
        """Tree hash of ``n`` with the leaves ``removed`` blanked and dropped from
        every ``unmerged_leaves`` list (the "original" tree of §7.9)."""
        k = level(n)
        inside = [u for u in removed if (2 * u) >> (k + 1) == n >> (k + 1)]
        if not inside:
            return self._tree_hash(n)
        value = self._nodes[n]
        if n % 2 == 0:
            return self.suite.hash(self._leaf_hash_input(n, None))
        sub = frozenset(inside)
        left = self._tree_hash_without(_left(n), sub)
        right = self._tree_hash_without(_right(n), sub)
        if value is not None:
            assert isinstance(value, ParentNode)
            value = ParentNode(
                value.encryption_key,
                value.parent_hash,
                tuple(u for u in value.unmerged_leaves if u not in sub),
            )
        assert value is None or isinstance(value, ParentNode)
        return self.suite.hash(self._parent_hash_input(value, left, right))

    # ------------------------------------------------------------------ parent hash

    def original_sibling_tree_hash(self, n: int, original_sibling: int) -> bytes:
        """Tree hash of ``original_sibling`` with the unmerged leaves of parent ``n``
        blanked and removed from every ``unmerged_leaves`` list (§7.9)."""
        parent = self.parent_node(n)
        if parent is None:
            raise UsageError(f"node {n} is blank")
        self._check_node(original_sibling)
        return self._tree_hash_without(original_sibling, frozenset(parent.unmerged_leaves))

    def parent_hash(self, n: int, original_sibling: int) -> bytes:
        """The parent hash of non-blank parent ``n`` with copath child ``original_sibling`` (§7.9).

        ``Hash(ParentHashInput)`` over ``n``'s encryption key, ``n``'s own
        ``parent_hash`` field and :meth:`original_sibling_tree_hash`.
        """
        parent = self.parent_node(n)
        if parent is None:
            raise UsageError(f"node {n} is blank")
        if original_sibling not in (_left(n), _right(n)):
            raise UsageError(f"node {original_sibling} is not a child of {n}")
        sibling_hash = self._tree_hash_without(original_sibling, frozenset(parent.unmerged_leaves))
        return self.suite.hash(
            _vec(parent.encryption_key) + _vec(parent.parent_hash) + _vec(sibling_hash)
        )

    def set_path_parent_hashes(self, leaf: int) -> bytes:
        """Fill in the ``parent_hash`` fields along the filtered direct path of ``leaf``.

        For a path just written by an UpdatePath (§7.5, §7.9): every node of the
        filtered direct path is non-blank with no unmerged leaves. Working from
        the top down, each node's ``parent_hash`` becomes the parent hash of the
        next node above it on the path (the topmost gets the empty string).
        Returns the parent hash the leaf must carry (empty if the path is empty).
        """
        path = self.filtered_direct_path_with_copath(leaf)
        above = b""
        for p, s in reversed(path):
            node = self._nodes[p]
            if node is None:
                raise UsageError(f"node {p} of the filtered direct path is blank")
            assert isinstance(node, ParentNode)
            if node.unmerged_leaves:
                raise UsageError(f"node {p} of a fresh path has unmerged leaves")
            if node.parent_hash != above:
                self.set_parent(p, ParentNode(node.encryption_key, above, ()))
            above = self.parent_hash(p, s)
        return above

    def _parent_hash_valid_child(self, p: int, parent: ParentNode) -> int:
        """How many descendants D make ``p`` parent-hash valid (§7.9.2): 0, 1 or 2."""
        count = 0
        for c, s in ((_left(p), _right(p)), (_right(p), _left(p))):
            res = self._resolution(c)
            unmerged = {2 * u for u in parent.unmerged_leaves if _in_subtree(2 * u, c)}
            # D in res(C) and res(C) \ {D} == unmerged ∩ subtree(C).
            if len(res) != len(unmerged) + 1:
                continue
            rest = [d for d in res if d not in unmerged]
            if len(rest) != 1:
                continue
            d = rest[0]
            child = self._nodes[d]
            if isinstance(child, LeafNode):
                if child.leaf_node_source != LeafNodeSource.COMMIT:
                    continue
                child_ph = child.parent_hash
            else:
                assert isinstance(child, ParentNode)
                child_ph = child.parent_hash
            if child_ph == self.parent_hash(p, s):
                count += 1
        return count

    def verify_parent_hashes(self) -> None:
        """Every non-blank parent node must be parent-hash valid (§7.9.2), else ``V-TREE-002``.

        "Top down": each non-blank parent P must have exactly one descendant D
        whose ``parent_hash`` is P's parent hash with the other child as
        original sibling, where D is in the resolution of its child C of P and
        the rest of that resolution is exactly P's unmerged leaves below C.
        Since every such D is a commit leaf or itself a checked parent, every P
        chains down to a leaf.
        """
        nodes = self._nodes
        for p in range(1, len(nodes), 2):
            parent = nodes[p]
            if parent is None:
                continue
            assert isinstance(parent, ParentNode)
            if self._parent_hash_valid_child(p, parent) != 1:
                raise ValidationError("V-TREE-002", f"parent node {p} is not parent-hash valid")
