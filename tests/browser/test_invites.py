"""Invite links in the app: a moderator makes an approval link with two questions on the
group's Invite links page (QR code inline), a member pastes it on "Join a group", reads
the preview, answers and asks to join; the moderator reads the answers on Join requests
and lets her in; her Join page then says she is in."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSPHRASE, assert_accessible

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


def test_a_newcomer_with_no_account_joins_from_the_first_run_page(members: Any) -> None:
    """The one link an organizer hands out also creates the account: the first-run page
    shows the group's preview, asks the questions and the rules, then registers with the
    link and sends the request."""
    uma = members("uma", start=False)

    async def organize(c: Any) -> tuple[bytes, str]:
        gid = await c.create_group("Long covid circle", "pacing, together")
        await c.rules.set(gid, "Be gentle. What is said here stays here.")
        made = await c.invites.create(gid, questions=(Q1,))
        return gid, made.url

    gid, url = uma.api(organize)
    tia = members("tia", account=False)
    page = tia.page
    page.get_by_label("Invite link or code").fill(url)
    page.get_by_label("The name other members will see").fill("tia")
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE)
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Join Long covid circle")).to_be_visible()
    expect(page.locator(".preview")).to_contain_text("Invited by uma")
    expect(page.locator(".rules")).to_have_text("Be gentle. What is said here stays here.")
    expect(page.get_by_label("The name other members will see")).to_have_value("tia")
    assert_accessible(page, "first run with a group link")
    page.get_by_label(Q1).fill("My GP told me about it")
    page.get_by_label("I have read the rules and accept them").check()
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE)
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account and ask to join").click()
    expect(page.locator(".join-state")).to_have_text("Long covid circle: waiting for a moderator.")

    async def approve(c: Any) -> list[str]:  # the moderator, from her own app's API
        [req] = await c.invites.requests(gid)
        assert req.answers == ((Q1, "My GP told me about it"),)
        await c.invites.approve(gid, req.id)
        return [req.handle]

    assert uma.api(approve) == ["tia"]
    done = tia.go("/join")
    expect(done.locator(".join-state")).to_have_text("You are in Long covid circle.")
    assert tia.console == []
