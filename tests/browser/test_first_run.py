"""The first run in the app: an account from an invite link, the passphrase strength
meter and its plain warning, refusals that keep what was typed, lock and unlock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSPHRASE, first_run
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.browser


def test_first_run_from_an_invite_link_then_lock_and_unlock(
    members: Any, relay: RelayProcess, code: str
) -> None:
    newcomer = members("cleo", account=False)
    page = newcomer.page
    assert page.url.endswith("/welcome")
    expect(page.get_by_role("heading", name="Welcome to Cove")).to_be_visible()
    warning = page.locator("#pp-warning")
    expect(warning).to_contain_text("Nobody can recover your passphrase.")
    expect(warning).to_contain_text("cannot be opened again")

    # The meter follows what is typed (the same estimate the app enforces).
    box = page.get_by_label("Passphrase", exact=True)
    meter = page.locator("#pp-strength")
    box.fill("password12")
    expect(meter).to_have_attribute("value", "0")
    expect(page.locator("#pp-strength-text")).to_have_text("very weak: add another word or two.")
    box.fill("short")
    expect(page.locator("#pp-strength-text")).to_have_text(
        re.compile(r"use at least 10 characters\.$")
    )
    box.fill(PASSPHRASE)
    expect(meter).to_have_attribute("value", "4")
    expect(page.locator("#pp-strength-text")).to_have_text("very strong.")

    # A weak passphrase is refused by the app itself, what was typed (but no
    # passphrase) is kept.
    page.get_by_label("Invite link or code").fill(f"{relay.url}/#invite={code}")
    page.get_by_label("The name other members will see").fill("cleo")
    box.fill("password12")
    page.get_by_label("Type your passphrase again").fill("password12")
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That passphrase is too easy to guess. Try three or four unrelated words."
    )
    expect(page.get_by_label("The name other members will see")).to_have_value("cleo")
    expect(page.get_by_label("Passphrase", exact=True)).to_have_value("")

    # Two different passphrases are refused too.
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE + " ")
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The two passphrases are not the same. Please type them again."
    )

    # A bare code without the relay's address, then a wrong code with it: plain
    # messages, nothing created.
    page.get_by_label("Invite link or code").fill("not-a-real-code")
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE)
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Your invite is a code: please also give the relay address."
    )
    page.get_by_label("Relay address").fill(relay.url)
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE)
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That invite was not accepted. It may be used up or expired: ask for a new one."
    )
    assert not (newcomer.home / "cove.db").exists()

    first_run(page, relay, code, "cleo")
    expect(page.get_by_role("status").first).to_have_text("Welcome to Cove. Your account is ready.")
    expect(page.locator(".empty")).to_contain_text("Tell your organizer your Cove name: cleo")
    assert (newcomer.home / "cove.db").exists()

    # Lock; a wrong passphrase is refused in plain words; the right one opens it again.
    page.get_by_role("button", name="Lock").click()
    page.wait_for_url(re.compile(r"/unlock$"))
    page.get_by_label("Passphrase").fill("not my passphrase at all")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That passphrase did not open your Cove. Check Caps Lock and try again."
    )
    page.get_by_label("Passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    assert newcomer.console == []
