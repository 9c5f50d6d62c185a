"""Every rule id of the policy is asserted by a test, and documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cove.protocol.errors import UsageError, ValidationError
from cove.protocol.policy import ALLOWED, RULES, PolicyRefused, refuse

HERE = Path(__file__).parent
DOC = HERE.parents[3] / "docs" / "protocol" / "policy.md"


def _asserted_rule_ids() -> set[str]:
    """Rule ids passed to ``refused(decision, "<id>")`` in the policy tests."""
    out: set[str] = set()
    for path in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "refused"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
            ):
                out.add(str(node.args[1].value))
    return out


def test_every_rule_is_asserted_by_a_test() -> None:
    missing = sorted(set(RULES) - _asserted_rule_ids())
    assert not missing, f"rules no test asserts: {missing}"


def test_every_rule_is_documented_and_nothing_else() -> None:
    text = DOC.read_text()
    missing = [r for r in RULES if f"`{r}`" not in text]
    assert not missing, f"rules missing from docs/protocol/policy.md: {missing}"

    documented = set(re.findall(r"`(policy\.[a-z_]+\.[a-z_]+)`", text))
    assert documented <= set(RULES), f"documented but not defined: {documented - set(RULES)}"


def test_decisions_are_values_with_an_exception_for_those_who_want_one() -> None:
    ALLOWED.raise_if_refused()
    assert ALLOWED.rule_id is None
    decision = refuse(RULES["policy.add.requires_moderator"], "cara", "add dan")
    with pytest.raises(PolicyRefused) as info:
        decision.raise_if_refused()
    assert isinstance(info.value, ValidationError)
    assert info.value.rule == "policy.add.requires_moderator"
    assert info.value.decision is decision
    assert str(info.value) == (
        "[policy.add.requires_moderator] cara tried to add dan — refused: "
        "only moderators and owners can add members"
    )
    with pytest.raises(UsageError, match=r"decision\.allowed"):
        bool(decision)
    assert refuse(RULES["policy.state.missing"]).explain() == (
        "someone outside the group was refused — refused: "
        "this group has no policy, so no change to it can be checked"
    )
