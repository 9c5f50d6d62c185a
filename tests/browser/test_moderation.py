"""Moderating in the app: renaming a group, changing a member's role, removing a
member — and the others' pages following live; drafts survive leaving the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_rename_role_and_removal_follow_live(members: Any) -> None:
    ivy = members("ivy", start=False)  # the owner
    jo = members("joe", start=False)
    kit = members("kit", start=False)

    async def organize(c: Any) -> bytes:
        gid = await c.create_group("Fatigue friends")
        await c.add_members(gid, ["joe", "kit"])
        return gid

    gid = ivy.api(organize)
    for m in (jo, kit):
        m.api(lambda c: c.sync())
    ivy.start()
    jo.start()
    expect(jo.page.get_by_role("link", name="Fatigue friends")).to_be_visible()

    page = ivy.go(f"/groups/{gid.hex()}/members")
    page.get_by_text("Rename the group").click()
    page.get_by_label("New name").fill("Fatigue & friends")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status").first).to_have_text("Group renamed.")
    expect(jo.page.get_by_role("link", name="Fatigue & friends")).to_be_visible()

    page.get_by_text("Change a member's role").click()
    page.locator("#role-handle").select_option("kit")
    page.get_by_label("Role").select_option("moderator")
    page.get_by_role("button", name="Change the role").click()
    expect(page.get_by_role("status").first).to_have_text("Role changed.")
    page.get_by_role("button", name="Refresh my keys in this group").click()
    expect(page.get_by_role("status").first).to_have_text("Your keys in this group are fresh.")

    # Only the owner may change roles: jo's attempt is refused in plain words.
    jo_page = jo.go(f"/groups/{gid.hex()}/members")
    jo_page.get_by_text("Change a member's role").click()
    jo_page.locator("#role-handle").select_option("kit")
    jo_page.get_by_label("Role").select_option("owner")
    jo_page.get_by_role("button", name="Change the role").click()
    expect(jo_page.get_by_role("alert")).to_have_text(
        "The group's rules do not allow that: only owners can change roles."
    )

    # jo's app is closed while she is removed: the relay's push of the removing commit
    # reaches nobody, so what follows is the relay's refusal alone (without this the
    # outcome would depend on whether her live app caught the push first)
    jo.go("/")
    assert jo.console == []
    jo.stop()
    page.get_by_text("Remove a member").click()
    page.get_by_label("Member", exact=True).first.select_option("joe")
    page.get_by_role("button", name="Remove from the group").click()
    expect(page.get_by_role("status").first).to_have_text("Removed from the group.")
    expect(page.get_by_role("row", name=re.compile("^joe"))).to_have_count(0)
    # The removing commit never reaches jo, and a relay's refusal alone deletes no keys
    # (decision 0017): her app keeps the group until she leaves it herself.
    jo.start()
    jo.go("/")
    expect(jo.page.get_by_role("link", name="Fatigue & friends")).to_be_visible()
    assert ivy.console == [] and jo.console == []


def test_a_draft_survives_leaving_the_page(members: Any) -> None:
    lea = members("lea")
    page = lea.page
    page.get_by_text("Start a new group").click()
    page.get_by_label("Group name").fill("Drafts")
    page.get_by_role("button", name="Create the group").click()
    group = page.url.split("/members")[0]
    page.goto(group)
    page.get_by_role("textbox", name="Message", exact=True).fill("Half a thought, to finish later")
    expect(page.locator("#draft-status")).to_have_text("Draft kept.")
    lea.go("/settings")
    page.goto(group)
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value(
        "Half a thought, to finish later"
    )


def test_a_message_no_one_can_read_is_reported_plainly(members: Any) -> None:
    """A hostile member goes under the client and posts bytes that are not an app
    record: the others' clients keep it aside (quarantine), the app says so plainly,
    and everything else in the group still reads."""
    import os

    from cove.protocol.wire import envelopes as E

    max_ = members("max", start=False)
    ned = members("ned", start=False)

    async def organize(c: Any) -> bytes:
        gid = await c.create_group("Migraine circle")
        await c.add_members(gid, ["ned"])
        await c.new_thread(gid, "Triggers", "Bright screens, for me.")
        return gid

    gid = max_.api(organize)

    async def hostile(c: Any) -> None:
        await c.sync()
        async with c.store.transaction() as txn:
            record, group = await c.states.load(txn, gid)
            message = group.encrypt(b"\xc1 not an app record")
            await c.states.save(txn, record, group)
        await c.call(
            "post_message",
            E.PostMessageRequest(idempotency_key=os.urandom(16), message=message),
            path={"group_id": gid.hex()},
        )

    ned.api(hostile)
    max_.start()
    page = max_.go(f"/groups/{gid.hex()}")
    expect(page.locator(".warning")).to_have_text(
        "1 message in this group could not be read. They may have been damaged on the way, "
        "or sent by someone who is not a member. Nothing else is affected."
    )
    expect(page.get_by_role("link", name="Triggers")).to_be_visible()
