"""Documentation stays in step with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"V-[A-Z]+-\d{3}")


def test_every_validation_rule_is_documented() -> None:
    used = set()
    for path in (ROOT / "protocol").rglob("*.py"):
        used |= set(RULE.findall(path.read_text()))
    documented = set(RULE.findall((ROOT / "docs/protocol/validation.md").read_text()))
    assert used, "no rule ids found: the pattern is wrong"
    assert sorted(used - documented) == []
