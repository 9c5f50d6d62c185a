"""Rules and what newcomers see, in the app: the group settings page shows the history
level, the rules (with "Accept the rules" when needed) and the welcome message; a
banner asks a member who has not accepted the rules to do so before posting; a
moderator changes the settings from the page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible

pytestmark = pytest.mark.browser


def test_settings_page_rules_banner_and_accepting(members: Any) -> None:
    ola = members("ola", start=False)  # the owner
    pia = members("pia", start=False)

    async def organize(c: Any) -> bytes:
        gid = await c.create_group("Migraine mornings")
        await c.add_members(gid, ["pia"])
        await c.rules.set(gid, "Be gentle with each other.")
        await c.newcomers.set_welcome(gid, "Glad you found us.")
        return gid

    gid = ola.api(organize)
    pia.api(lambda c: c.sync())
    ola.start()
    pia.start()

    # the owner changes what newcomers see from the settings page
    page = ola.go(f"/groups/{gid.hex()}/settings")
    expect(page.locator("#history-level")).to_have_text("New members receive: nothing.")
    assert_accessible(page, "group settings (owner)")
    page.get_by_text("Choose what newcomers see").click()
    page.get_by_label("Thread titles and the rules (nobody's messages)").check()
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    expect(page.locator("#history-level")).to_have_text(
        "New members receive: thread titles, pinned resources and rules."
    )

    # only the owner may allow open links; she is told what that reveals
    expect(page.locator("#open-links")).to_contain_text("Off: people join only through")
    page.get_by_role("button", name="Allow open links").click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    expect(page.locator("#open-links")).to_contain_text("can see the member list")

    # pia is asked to accept before posting, reads the rules and accepts them
    pia_page = pia.go(f"/groups/{gid.hex()}")
    banner = pia_page.locator("#rules-banner")
    expect(banner).to_contain_text("you have not accepted yet")
    banner.get_by_role("link", name="Read and accept the rules").click()
    expect(pia_page.locator(".rules-text")).to_have_text("Be gentle with each other.")
    expect(pia_page.get_by_text("Glad you found us.")).to_be_visible()
    expect(pia_page.get_by_text("For organizers and moderators")).to_have_count(0)
    expect(pia_page.get_by_role("button", name="Turn open links off")).to_have_count(0)
    expect(pia_page.locator("#open-links")).to_contain_text("On: whoever holds")
    assert_accessible(pia_page, "group settings (member, rules not accepted)")
    pia_page.get_by_role("button", name="Accept the rules").click()
    expect(pia_page.get_by_role("status").first).to_have_text(
        "Thank you: you accepted the group's rules. You can post now."
    )
    expect(pia_page.get_by_text("You accepted these rules.")).to_be_visible()
    pia.go(f"/groups/{gid.hex()}")
    expect(pia.page.locator("#rules-banner")).to_have_count(0)
    assert_accessible(pia.page, "group page (rules accepted)")
    assert ola.console == [] and pia.console == []
