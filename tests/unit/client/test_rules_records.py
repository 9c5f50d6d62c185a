"""The local records of rules and newcomers redact what they hold; typed input checks."""

from __future__ import annotations

import pytest

from cove.client.errors import UsageProblem
from cove.client.features.history_bundle import SharedRow
from cove.client.features.newcomers import PendingShare, WelcomeRow, parse_level
from cove.client.features.rules import PendingAcceptance, check_rules_input
from cove.client.features.rules_gate import AcceptedRow, RulesRow
from cove.client.store import StoreCorrupted
from cove.protocol.invites import HistoryLevel

SECRET = "SECRET-TEXT"
KEY = b"K" * 32


def test_reprs_hide_rules_text_welcome_text_and_bundle_keys() -> None:
    values = [
        RulesRow(b"g", 1, b"s" * 16, SECRET, b"i" * 16, 1, b"a" * 32, "ana"),
        WelcomeRow(b"g", SECRET, "ana"),
        PendingShare(b"g", 1, 1, "ana", SECRET.encode(), KEY),
        AcceptedRow(b"g", b"a" * 32, "ana", 1, b"h" * 32, b"s" * 64),
        AcceptedRow(b"g", b"a" * 32, "", 1, b"h" * 32, b"s" * 64),  # from an AcceptanceList
        PendingAcceptance(b"g", 1, b"h" * 32),
        SharedRow(b"g", "ana"),
    ]
    for value in values:
        text = repr(value)
        assert SECRET not in text and KEY.hex() not in text and repr(KEY) not in text, text
        assert type(value).unpack(value.pack()) == value


def test_rows_are_strict() -> None:
    bad = RulesRow(b"g", 1, b"s" * 16, "x", b"i" * 16, 1, b"a" * 32, "ana").pack()
    with pytest.raises(StoreCorrupted):
        WelcomeRow.unpack(bad)


def test_levels_and_rules_text_are_checked_with_clear_messages() -> None:
    assert parse_level("Titles") is HistoryLevel.TITLES
    assert parse_level(HistoryLevel.FULL) is HistoryLevel.FULL
    with pytest.raises(UsageProblem, match="'all' is not a history level: nothing, titles or full"):
        parse_level("all")
    assert check_rules_input("Be kind.\r\nNo advice.\n") == "Be kind.\nNo advice."
    with pytest.raises(UsageProblem, match="the rules text is empty"):
        check_rules_input("  \n ")
    with pytest.raises(UsageProblem, match="control character"):
        check_rules_input("bell\x07")
    with pytest.raises(UsageProblem, match="at most 16384 bytes of UTF-8 \\(this is 16385\\)"):
        check_rules_input("x" * 16385)
