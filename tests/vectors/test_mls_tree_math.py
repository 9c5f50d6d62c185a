"""Runner for tree-math.json (RFC 9420 Appendix C).

Format: one object per tree size with ``n_leaves``, ``n_nodes``, ``root`` and
four arrays ``left``, ``right``, ``parent``, ``sibling`` indexed by node index,
``null`` where the relation does not exist (leaves have no children, the root
has neither parent nor sibling). No cipher suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.errors import UsageError
from cove.protocol.mls import tree_math as tm
from tests.support.vectors import cases


def _or_none(f: Any, *args: Any) -> int | None:
    try:
        return int(f(*args))
    except UsageError:
        return None


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("tree-math.json"))
def test_tree_math(case: dict[str, Any]) -> None:
    n = case["n_leaves"]
    assert tm.node_width(n) == case["n_nodes"]
    assert tm.root(n) == case["root"]
    for x in range(case["n_nodes"]):
        node = tm.NodeIndex(x)
        assert _or_none(tm.left, node) == case["left"][x]
        assert _or_none(tm.right, node) == case["right"][x]
        assert _or_none(tm.parent, node, n) == case["parent"][x]
        assert _or_none(tm.sibling, node, n) == case["sibling"][x]
