"""Ratchet-tree nodes and the ``ratchet_tree`` extension (RFC 9420 §7.1, §12.4.3.3).

The extension payload is ``optional<Node> ratchet_tree<V>``: the nodes of the
tree in array order (leaves at even indices, parents at odd ones), ``None``
for a blank node, with trailing blank nodes omitted.
:func:`decode_ratchet_tree` checks that shape (see :func:`read_ratchet_tree`);
extending the list to a full tree is the tree module's job.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise

from ..codec import Reader, Struct, Writer, decode_all, encode_varint
from ..errors import UsageError
from .leaf_node import LeafNode


class NodeType(IntEnum):
    """``enum { reserved(0), leaf(1), parent(2), (255) } NodeType``"""

    LEAF = 1
    PARENT = 2


def _write_leaf_index(w: Writer, value: int) -> None:
    w.uint32(value)


def _read_leaf_index(r: Reader) -> int:
    return r.uint32()


@dataclass(frozen=True, slots=True)
class ParentNode(Struct):
    """::

        struct {
            HPKEPublicKey encryption_key;
            opaque parent_hash<V>;
            uint32 unmerged_leaves<V>;
        } ParentNode;

    ``unmerged_leaves`` MUST be sorted in increasing order (§7.1); Cove refuses
    a list that is not strictly increasing, when decoding and when building.
    """

    encryption_key: bytes
    parent_hash: bytes = b""
    unmerged_leaves: tuple[int, ...] = ()
    #: the encoding, kept once computed (the node is immutable; every Welcome and
    #: GroupInfo of the group encodes the whole tree again)
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _strictly_increasing(self.unmerged_leaves):
            raise UsageError("unmerged_leaves must be strictly increasing")

    def encode(self, w: Writer) -> None:
        w.fixed(self.to_bytes())

    def to_bytes(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            w = Writer()
            self._write(w)
            encoded = w.getvalue()
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    def _write(self, w: Writer) -> None:
        w.opaque(self.encryption_key)
        w.opaque(self.parent_hash)
        w.vector(self.unmerged_leaves, _write_leaf_index)

    @classmethod
    def decode(cls, r: Reader) -> ParentNode:
        encryption_key = r.opaque()
        parent_hash = r.opaque()
        unmerged = tuple(r.vector(_read_leaf_index))
        if not _strictly_increasing(unmerged):
            raise r.error("unmerged_leaves not strictly increasing")
        return cls(encryption_key, parent_hash, unmerged)


def _strictly_increasing(values: tuple[int, ...]) -> bool:
    return all(a < b for a, b in pairwise(values))


@dataclass(frozen=True, slots=True)
class Node(Struct):
    """::

        struct {
            NodeType node_type;
            select (Node.node_type) {
                case leaf:   LeafNode leaf_node;
                case parent: ParentNode parent_node;
            };
        } Node;

    ``value`` is the :class:`LeafNode` or :class:`ParentNode`; ``node_type``
    follows from it.
    """

    value: LeafNode | ParentNode

    @property
    def node_type(self) -> NodeType:
        return NodeType.LEAF if isinstance(self.value, LeafNode) else NodeType.PARENT

    @property
    def leaf_node(self) -> LeafNode | None:
        return self.value if isinstance(self.value, LeafNode) else None

    @property
    def parent_node(self) -> ParentNode | None:
        return self.value if isinstance(self.value, ParentNode) else None

    def encode(self, w: Writer) -> None:
        w.uint8(self.node_type)
        self.value.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Node:
        node_type = r.uint8()
        if node_type == NodeType.LEAF:
            return cls(LeafNode.decode(r))
        if node_type == NodeType.PARENT:
            return cls(ParentNode.decode(r))
        raise r.error(f"unknown node type {node_type}")


def _write_optional_node(w: Writer, node: Node | None) -> None:
    w.optional(node, Writer.struct)


def _read_optional_node(r: Reader) -> Node | None:
    return r.optional(Node.decode)


def write_ratchet_tree(w: Writer, nodes: Sequence[Node | None]) -> None:
    """Write ``optional<Node> ratchet_tree<V>``."""
    w.vector(nodes, _write_optional_node)


def read_ratchet_tree(r: Reader) -> tuple[Node | None, ...]:
    """Read ``optional<Node> ratchet_tree<V>`` and check its shape.

    Refused (DecodeError): an empty tree, a blank last node (§12.4.3.3: the
    sender omits trailing blanks and the receiver MUST check it), and a node
    whose type does not match its position (a parent at an even index or a
    leaf at an odd one).
    """
    nodes = tuple(r.vector(_read_optional_node))
    if not nodes:
        raise r.error("empty ratchet tree")
    if nodes[-1] is None:
        raise r.error("ratchet tree ends with a blank node")
    for index, node in enumerate(nodes):
        if node is not None and (index % 2 == 0) != isinstance(node.value, LeafNode):
            raise r.error(f"ratchet tree node {index} has the wrong type for its position")
    return nodes


def encode_ratchet_tree(nodes: Sequence[Node | None]) -> bytes:
    """The ``extension_data`` of a ``ratchet_tree`` extension."""
    return encode_node_values([None if n is None else n.value for n in nodes])


_BLANK = b"\x00"
_LEAF_HEAD = bytes((1, NodeType.LEAF))  # optional present, node_type leaf
_PARENT_HEAD = bytes((1, NodeType.PARENT))


def encode_node_values(values: Sequence[LeafNode | ParentNode | None]) -> bytes:
    """``optional<Node> ratchet_tree<V>`` from the nodes' values (None: blank), in one
    join of the values' kept encodings: a tree of n nodes costs O(n) small joins, and
    only nodes new since the last encoding are encoded."""
    parts = []
    for v in values:
        if v is None:
            parts.append(_BLANK)
        elif isinstance(v, LeafNode):
            parts.append(_LEAF_HEAD)
            parts.append(v.to_bytes())
        else:
            parts.append(_PARENT_HEAD)
            parts.append(v.to_bytes())
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def decode_ratchet_tree(data: bytes) -> tuple[Node | None, ...]:
    """Parse a ``ratchet_tree`` extension payload (see :func:`read_ratchet_tree`).

    A large tree is tens of thousands of new objects, none of them in a reference
    cycle: the cyclic garbage collector is paused while they are made (its passes
    over the growing heap were a fifth of a 10,000-member join), and resumed after.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return decode_all(data, read_ratchet_tree, "ratchet_tree")
    finally:
        if paused:
            gc.enable()


__all__ = [
    "Node",
    "NodeType",
    "ParentNode",
    "decode_ratchet_tree",
    "encode_node_values",
    "encode_ratchet_tree",
    "read_ratchet_tree",
    "write_ratchet_tree",
]
