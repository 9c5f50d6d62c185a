"""What the app keeps in the encrypted store survives a restart: which messages were
read (new-message counts) and drafts (deleted once sent). Taking back a reaction, live
on the other member's page; a checked safety number shown on the Members page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_read_markers_and_drafts_survive_a_restart(members: Any) -> None:
    ora = members("ora", start=False)
    pia = members("pia", start=False)

    async def organize(c: Any) -> dict[str, bytes]:
        gid = await c.create_group("Long days")
        await c.add_members(gid, ["pia"])
        tid = await c.new_thread(gid, "Pacing", "How do you plan a day?")
        return {"gid": gid, "tid": tid}

    ids = ora.api(organize)
    pia.api(lambda c: c.sync())  # the message arrived while the app was not running
    g, t = ids["gid"].hex(), ids["tid"].hex()

    pia.start()
    card = pia.page.locator(".card", has_text="Long days")
    expect(card.locator(".badge")).to_have_text("1 new message")
    page = pia.go(f"/groups/{g}/threads/{t}")
    expect(page.get_by_role("heading", name="Pacing")).to_be_visible()
    pia.go("/")
    expect(card.locator(".badge")).to_have_count(0)

    # Two drafts: a reply, and a new thread with its title.
    page = pia.go(f"/groups/{g}/threads/{t}")
    page.get_by_role("textbox", name="Message", exact=True).fill("I rest before I am tired")
    expect(page.locator("#draft-status")).to_have_text("Draft kept.")
    page = pia.go(f"/groups/{g}")
    page.get_by_label("Title").fill("Flare days")
    page.get_by_role("textbox", name="Message", exact=True).fill("What do you cancel first?")
    expect(page.locator("#draft-status")).to_have_text("Draft kept.")

    pia.stop()

    async def reply(c: Any) -> None:
        await c.sync()
        await c.post(ids["gid"], ids["tid"], "Lists help me")

    ora.api(reply)
    pia.start()
    # Only what came after she read the thread is new.
    card = pia.page.locator(".card", has_text="Long days")
    expect(card.locator(".badge")).to_have_text("1 new message")
    page = pia.go(f"/groups/{g}/threads/{t}")
    box = page.get_by_role("textbox", name="Message", exact=True)
    expect(box).to_have_value("I rest before I am tired")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#draft-status")).to_have_text("Sent.")
    expect(page.locator("article", has_text="I rest before I am tired")).to_be_visible()
    page = pia.go(f"/groups/{g}/threads/{t}")  # sent: the draft is gone
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("")
    page = pia.go(f"/groups/{g}")
    expect(page.get_by_label("Title")).to_have_value("Flare days")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value(
        "What do you cancel first?"
    )
    assert pia.console == []


def test_taking_back_a_reaction_and_a_checked_safety_number(members: Any) -> None:
    quin = members("quin", start=False)
    rex = members("rex", start=False)

    async def organize(c: Any) -> dict[str, bytes]:
        gid = await c.create_group("Quiet corner")
        await c.add_members(gid, ["rex"])
        tid = await c.new_thread(gid, "Hello", "Glad you are here")
        return {"gid": gid, "tid": tid}

    ids = quin.api(organize)
    rex.api(lambda c: c.sync())
    quin.start()
    rex.start()
    here = f"/groups/{ids['gid'].hex()}/threads/{ids['tid'].hex()}"
    theirs = rex.go(here).locator("article", has_text="Glad you are here")
    page = quin.go(here)
    root = page.locator("article", has_text="Glad you are here")
    root.get_by_role("button", name="React with 💜").click()
    expect(page.get_by_role("status").first).to_have_text("Reaction sent.")
    expect(theirs.locator(".reactions")).to_contain_text("💜 1")
    back = root.get_by_role("button", name="Take back your 💜")
    expect(back).to_have_attribute("aria-pressed", "true")
    back.click()
    expect(page.get_by_role("status").first).to_have_text("Your reaction is taken back.")
    expect(theirs.locator(".reactions")).to_have_count(0)
    expect(root.get_by_role("button", name="React with 💜")).to_have_attribute(
        "aria-pressed", "false"
    )

    # A safety number checked: the Members page says so.
    members_page = f"/groups/{ids['gid'].hex()}/members"
    row = quin.go(members_page).get_by_role("row", name=re.compile("^rex"))
    expect(row).not_to_contain_text("Checked by you")
    quin.go("/people/rex/verify").get_by_role(
        "button", name="We compared them: the numbers match"
    ).click()
    expect(page.get_by_role("status").first).to_have_text(
        "Thank you for checking. You can send again."
    )
    row = quin.go(members_page).get_by_role("row", name=re.compile("^rex"))
    expect(row).to_contain_text("Checked by you")
    assert quin.console == [] and rex.console == []
