"""Every validation rule id has a test that asserts exactly that rule fired.

A rule counts as tested when some test file contains ``raises_rule("<id>")`` or
compares ``.rule == "<id>"``. The few ids that are not a ValidationError (the
table of docs/protocol/validation.md marks them: a CryptoError, a StateError, or
a guard that decoding makes unreachable) are listed in EXEMPT with the reason;
they must still be named by some test.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"V-[A-Z]+-\d{3}")
#: ``raises_rule("V-…")``, ``… .rule == "V-…"``, ``_rule(…) == "V-…"``, ``rule="V-…"``.
ASSERTED = re.compile(r"""(?:raises_rule\(\s*|==\s*|rule=)["'](V-[A-Z]+-\d{3})["']""")
#: Table rows ``("V-…", …)`` / ``(…, "V-…")`` in a file that runs ``raises_rule(rule)``.
TABLE_ROW = re.compile(r"""\(\s*["'](V-[A-Z]+-\d{3})["']\s*,|,\s*["'](V-[A-Z]+-\d{3})["']\s*\)""")

EXEMPT = {
    "V-FRAMING-001": "a bad signature is a CryptoError (no rule id by design)",
    "V-FRAMING-003": "a bad membership tag is a CryptoError (no rule id by design)",
    "V-WELCOME-001": "a Welcome not for us is a StateError",
    "V-COMMIT-001": "unreachable: a commit without a confirmation tag does not decode",
    "V-TKEM-011": "never raised: the joiner's LCA is always on the filtered direct path",
}


def _rule_ids() -> set[str]:
    ids = set(RULE.findall((ROOT / "docs/protocol/validation.md").read_text()))
    for path in (ROOT / "protocol").rglob("*.py"):
        ids |= set(RULE.findall(path.read_text()))
    return ids


def _test_texts() -> list[str]:
    return [
        p.read_text()
        for p in (ROOT / "tests").rglob("*.py")
        if p.name.startswith("test_") and p.name != Path(__file__).name
    ]


def test_every_rule_is_asserted_by_a_test() -> None:
    ids = _rule_ids()
    assert len(ids) > 50, "rule ids not found: the pattern is wrong"
    texts = _test_texts()
    asserted = {m for t in texts for m in ASSERTED.findall(t)}
    for t in texts:
        if "raises_rule(rule)" in t:
            asserted |= {a or b for a, b in TABLE_ROW.findall(t)}
    missing = sorted(ids - asserted - set(EXEMPT))
    assert missing == [], f"rules no test asserts by id: {missing}"


def test_exempt_rules_are_still_named_by_a_test() -> None:
    texts = "\n".join(_test_texts())
    assert set(EXEMPT) <= _rule_ids()
    named = [r for r, why in EXEMPT.items() if not why.startswith("never raised")]
    assert sorted(r for r in named if r not in texts) == []


def test_the_pattern_sees_an_assertion() -> None:
    assert ASSERTED.findall('with raises_rule("V-PROP-001"):') == ["V-PROP-001"]
    assert ASSERTED.findall('assert e.rule == "V-LEAF-005"') == ["V-LEAF-005"]
    assert ASSERTED.findall('pytest.raises(ValidationError, match="V-PROP-001")') == []
    assert TABLE_ROW.findall('("V-PROP-009", [x], me)') == [("V-PROP-009", "")]
