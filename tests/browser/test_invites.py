"""Invite links in the app: a moderator makes an approval link with two questions on the
group's Invite links page (QR code inline), a member pastes it on "Join a group", reads
the preview, answers and asks to join; the moderator reads the answers on Join requests
and lets her in; her Join page then says she is in."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible

pytestmark = pytest.mark.browser

Q1 = "How did you find us?"
Q2 = "What helps you on bad days?"


def test_invite_link_request_and_approval_in_the_app(members: Any) -> None:
    oli = members("oli", start=False)
    pia = members("pia")

    async def organize(c: Any) -> bytes:
        return await c.create_group("Gentle mornings", "slow starts together")

    gid = oli.api(organize).hex()
    oli.start()
    page = oli.go(f"/groups/{gid}/invites")
    page.get_by_label("Questions to ask (one per line, at most 8)").fill(f"{Q1}\n{Q2}")
    page.get_by_role("button", name="Make the link").click()
    expect(page.locator(".notice")).to_have_text("Your invite link is ready.")
    url = page.locator("input.link-url").input_value()
    assert "/j/" in url and "#" in url
    # the QR code is an SVG the app serves (no waiting: the browser says when it loaded)
    page.wait_for_function(
        "() => { const i = document.querySelector('img.qr');"
        " return i !== null && i.complete && i.naturalWidth > 100; }"
    )
    assert_accessible(page, "invite links")

    join = pia.go("/join")
    join.get_by_label("The invite link you were given").fill(url)
    join.get_by_role("button", name="Show what the link says").click()
    expect(join.locator("#preview-title")).to_have_text("Gentle mornings")
    expect(join.locator(".preview")).to_contain_text("Invited by oli")
    join.get_by_label(Q1).fill("A nurse at the pain clinic")
    join.get_by_label(Q2).fill("Tea and company")
    assert_accessible(join, "join preview")
    join.get_by_role("button", name="Ask to join").click()
    expect(join.locator(".join-state")).to_have_text(
        "Your request was sent to the moderators of Gentle mornings."
    )

    queue = oli.go(f"/groups/{gid}/requests")
    section = queue.locator("section.request")
    expect(section.locator("h2")).to_have_text("pia")
    expect(section.locator("dd")).to_have_text(["A nurse at the pain clinic", "Tea and company"])
    assert_accessible(queue, "join requests")
    queue.get_by_role("button", name="Let pia in").click()
    expect(queue.locator(".notice")).to_have_text(
        "Approved: they join the group on their next sync."
    )

    done = pia.go("/join")
    expect(done.locator(".join-state")).to_have_text("You are in Gentle mornings.")
