"""The local app's small parts: invites, passphrase strength, preferences, redirects,
and the idle lock (with an injected clock)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cove.client.app import passphrase, preferences
from cove.client.app.routes.account import parse_invite
from cove.client.app.routes.common import safe_next, with_query
from cove.client.app.server import App


def test_invite_links_and_codes() -> None:
    assert parse_invite("https://relay.example.org/#invite=AbC-12", "") == (
        "https://relay.example.org",
        "AbC-12",
    )
    assert parse_invite("  AbC-12 ", "http://127.0.0.1:8470/") == (
        "http://127.0.0.1:8470",
        "AbC-12",
    )
    for invite, relay, message in [
        ("", "https://r.example", "Please paste the invite your organizer sent you."),
        ("AbC", "", "Your invite is a code: please also give the relay address."),
        ("AbC", "relay.example", "The relay address should start with https:// (or http://)."),
        ("ftp://r.example/#invite=x", "", "The relay address should start with https:// (or http://)."),
    ]:  # fmt: skip
        with pytest.raises(ValueError) as err:
            parse_invite(invite, relay)
        assert str(err.value) == message


def test_passphrase_rules() -> None:
    assert passphrase.problem("short", "short") == "Your passphrase needs at least 10 characters."
    assert passphrase.problem("password12", "password12") == (
        "That passphrase is too easy to guess. Try three or four unrelated words."
    )
    assert passphrase.problem("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa") is not None
    assert passphrase.problem("quiet harbour seven lanterns", "quiet harbour seven") == (
        "The two passphrases are not the same. Please type them again."
    )
    assert (
        passphrase.problem("quiet harbour seven lanterns", "quiet harbour seven lanterns") is None
    )
    scores = [passphrase.score(p) for p in ("", "abcdefghij", "kitten-moon", "quiet harbour seven")]
    assert scores == sorted(scores) and scores[0] == 0 and scores[-1] == 4


def test_preferences_round_trip_and_bad_files(tmp_path: Path) -> None:
    assert preferences.load(tmp_path) == preferences.Preferences()
    p = preferences.Preferences(theme="dark", text_size="larger", motion="reduce", lock_after=5)
    preferences.save(tmp_path, p)
    assert preferences.load(tmp_path) == p
    assert (tmp_path / preferences.FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / preferences.FILE).write_text('{"theme": "<script>", "lock_after": 7}')
    assert preferences.load(tmp_path) == preferences.Preferences()
    (tmp_path / preferences.FILE).write_text("not json")
    assert preferences.load(tmp_path) == preferences.Preferences()


def test_redirect_targets_stay_local() -> None:
    assert safe_next("/groups/ab?x=1#m") == "/groups/ab?x=1#m"
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil", "javascript:x", ""):
        assert safe_next(bad) == "/"
    assert with_query("/t#m-1", "done=reacted") == "/t?done=reacted#m-1"
    assert with_query("/t?a=1", "done=x") == "/t?a=1&done=x"


class FakeSession:
    handle = "ana"

    def __init__(self, last_active: float) -> None:
        self.last_active = last_active
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_idle_lock_follows_the_setting_and_activity(tmp_path: Path) -> None:
    async def main() -> None:
        app = App(tmp_path)
        session: Any = FakeSession(last_active=1000.0)
        app.session = session
        app.prefs.lock_after = 15
        assert not await app.idle_check(now=1000.0 + 15 * 60)  # exactly the limit: not yet
        session.last_active = 1000.0 + 14 * 60  # typing sent an "active" message
        assert not await app.idle_check(now=1000.0 + 16 * 60)
        app.prefs.lock_after = 0  # never
        assert not await app.idle_check(now=1e9)
        app.prefs.lock_after = 5
        assert await app.idle_check(now=1000.0 + 20 * 60)
        assert session.closed and app.session is None
        assert not await app.idle_check(now=1e9)  # nothing left to lock

    asyncio.run(main())
