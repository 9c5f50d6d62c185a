"""Roles in the app: the Members page shows them; a moderator deletes a member's post,
bans and unbans; a member's own refused action is explained; a hostile member's
refused change (she went under her client) is shown on the group page to the others."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot
from tests.integration.test_hostile_member import hostile_commit

pytestmark = pytest.mark.browser


def test_roles_bans_moderator_deletion_and_refusals(members: Any) -> None:
    uma = members("uma", start=False)  # the owner (Python API only)
    val = members("val", start=False)  # a moderator
    wes = members("wes", start=False)  # a member
    xan = members("xan", start=False)  # a member who goes under her client

    async def organize(c: Any) -> bytes:
        gid = await c.create_group("Steady steps")
        await c.add_members(gid, ["val", "wes", "xan"])
        await c.set_role(gid, "val", "moderator")
        return gid

    gid = uma.api(organize)

    async def start_thread(c: Any) -> bytes:
        await c.sync()
        tid = await c.new_thread(gid, "Flares", "Mine started on Monday")
        await c.post(gid, tid, "Something I should not have posted")
        return tid

    tid = wes.api(start_thread)
    val.api(lambda c: c.sync())

    async def go_under(c: Any) -> None:
        await c.sync()
        leaf = next(m.leaf for m in await c.members(gid) if m.handle == "val")
        await hostile_commit(c, gid, lambda g: g.remove([leaf]))

    xan.api(go_under)
    val.start()
    wes.start()
    g = gid.hex()

    # The others' apps refused xan's change and say so on the group page.
    page = val.go(f"/groups/{g}")
    refused = page.locator(".event.refused")
    expect(refused).to_contain_text(
        "xan tried to remove val — refused: only moderators and owners can remove members"
    )
    assert_accessible(page, "group with events")
    screenshot(page, "group-events-light")

    # Roles on the Members page; the moderator's panels.
    page = val.go(f"/groups/{g}/members")
    for handle, role in (("uma", "owner"), ("val", "moderator"), ("wes", "member")):
        expect(page.get_by_role("row", name=re.compile(f"^{handle}"))).to_contain_text(role)
    page.get_by_text("Ban a member").click()
    assert_accessible(page, "members (moderator)")
    screenshot(page, "members-moderator-light")
    # The new screens in the dark and high-contrast themes too.
    screens = {"group-events": f"/groups/{g}", "members-moderator": f"/groups/{g}/members"}
    for theme in ("dark", "contrast"):
        if theme == "dark":
            val.page.emulate_media(color_scheme="dark")
        else:
            val.page.emulate_media(color_scheme="light")
            page = val.go("/settings")
            page.get_by_label("High contrast").check()
            page.get_by_role("button", name="Save settings").click()
        for name, path in screens.items():
            page = val.go(path)
            if name == "members-moderator":
                page.get_by_text("Ban a member").click()
            assert_accessible(page, f"{name} ({theme})")
            if theme == "dark":
                screenshot(page, f"{name}-dark")
    page = val.go("/settings")
    page.get_by_label("Same as my computer").check()
    page.get_by_role("button", name="Save settings").click()

    # A member's own refused action, in plain words.
    wpage = wes.go(f"/groups/{g}/members")
    expect(wpage.get_by_text("Ban a member")).to_have_count(0)
    wpage.get_by_text("Remove a member").click()
    wpage.get_by_label("Member", exact=True).first.select_option("val")
    wpage.get_by_role("button", name="Remove from the group").click()
    expect(wpage.get_by_role("alert")).to_have_text(
        "The group's rules do not allow that: only moderators and owners can remove members."
    )

    # The moderator deletes wes's post; wes's page follows live.
    here = f"/groups/{g}/threads/{tid.hex()}"
    theirs = wes.go(here)
    said = theirs.locator(".body", has_text="Something I should not have posted")
    expect(said).to_be_visible()
    page = val.go(here)
    post = page.locator("article", has_text="Something I should not have posted")
    post.get_by_text("Moderate").click()
    assert_accessible(page, "thread (moderator)")
    post.get_by_role("button", name="Delete wes's message").click()
    expect(page.get_by_role("status").first).to_contain_text("Deleted.")
    expect(said).to_have_count(0)
    expect(theirs.get_by_text("This message was deleted.")).to_be_visible()
    # A member has no moderator's controls on others' messages.
    expect(theirs.get_by_text("Moderate")).to_have_count(0)

    # A ban with a reason; wes's app loses the group live; the ban is lifted.
    wes.go("/")
    page = val.go(f"/groups/{g}/members")
    page.get_by_text("Ban a member").click()
    page.locator("#ban-handle").select_option("wes")
    page.get_by_label("Why (optional)").fill("Please take a break for a week")
    page.get_by_role("button", name="Remove and ban").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Removed and banned. They cannot be added again until a moderator lifts the ban."
    )
    banned = page.get_by_role("list", name="Banned")
    expect(banned).to_contain_text("wes")
    expect(wes.page.get_by_role("link", name="Steady steps")).to_have_count(0)
    events = val.go(f"/groups/{g}").locator(".events")
    expect(events).to_contain_text("val banned wes")

    async def told(c: Any) -> list[str]:
        await c.sync()
        return [e.body for e in await c.events(gid)]

    # the reason reaches the other members (encrypted; the relay never sees it)
    assert "val gave the reason: Please take a break for a week" in uma.api(told)
    page = val.go(f"/groups/{g}/members")
    page.get_by_role("button", name="Lift the ban on wes").click()
    expect(page.get_by_role("status").first).to_have_text(
        "The ban is lifted. They can be added again."
    )
    expect(page.get_by_role("list", name="Banned")).to_have_count(0)
    assert val.console == [] and wes.console == []
