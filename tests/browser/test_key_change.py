"""A member's identity key changes: the app blocks sending until the member has
checked the new safety number and confirmed it; the draft survives; the block is
the client's (a post that goes around the page is refused too); keyboard-only
posting works from the first Tab."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from cove.client.trust import PIN, Pin

pytestmark = pytest.mark.browser


def test_a_changed_key_blocks_sending_until_the_member_confirms(members: Any) -> None:
    ana = members("ana", start=False)
    bea = members("bea", start=False)

    async def organize(c: Any) -> tuple[bytes, bytes]:
        gid = await c.create_group("Pain & sleep")
        await c.add_members(gid, ["bea"])
        return gid, await c.new_thread(gid, "Nights", "How did you sleep?")

    gid, tid = ana.api(organize)

    async def join_and_tamper(c: Any) -> None:
        await c.sync()
        # As if ana's identity key changed: bea's client had pinned another key for her.
        async with c.store.transaction() as txn:
            await c.trust_store.put_pin(txn, Pin("ana", b"\x01" * 32))
            assert await txn.get(PIN, b"ana") is not None

    bea.api(join_and_tamper)
    ana.start()
    bea.start()
    here = f"/groups/{gid.hex()}/threads/{tid.hex()}"
    page = bea.go(here)
    expect(page.get_by_role("heading", name="Nights")).to_be_visible()
    # Going around the page (a form post with the right token) is refused by the client,
    # which raised the block.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(
        bea.app.base + here + "/posts",
        multipart={"csrf": token or "", "text": "around the page"},
        headers={"Origin": bea.app.base, "X-Requested-With": "cove-app"},
    )
    assert answer.json()["location"].endswith("?blocked=1#composer")

    page.get_by_role("textbox", name="Message", exact=True).fill("Badly, again.")
    page.get_by_role("button", name="Send").click()

    # Blocked: a plain warning, the Send button disabled, the draft kept.
    warning = page.locator("#keychange")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("The safety number of ana has changed.")
    expect(warning).to_contain_text("Sending here is paused until you have checked.")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("Badly, again.")

    # The members page flags her; the verify page says the number is new.
    page.goto(bea.app.base + f"/groups/{gid.hex()}/members")
    expect(page.get_by_role("row", name=re.compile("^ana"))).to_contain_text(
        "Changed: please check"
    )
    page.goto(bea.app.base + here)
    page.get_by_role("link", name="Check ana's safety number").click()
    expect(page.get_by_role("alert")).to_contain_text("This safety number is new.")
    page.get_by_role("button", name="We compared them: the numbers match").click()

    # Back on the thread: the block is gone, the draft is still there, and it sends.
    page.wait_for_url(re.compile(re.escape(here) + r"\?done=trusted"))
    expect(page.locator("#keychange")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("Badly, again.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#draft-status")).to_have_text("Sent.")
    expect(ana.go(here).locator("article", has_text="Badly, again.")).to_be_visible()
    expect(ana.page.locator("article", has_text="around the page")).to_have_count(0)


def test_keyboard_only_posting(members: Any) -> None:
    """From a fresh page load: Tab to the composer, type, Tab to Send, Enter; every
    focused control shows a visible focus outline."""
    cat = members("cat")
    page = cat.page
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.get_by_text("Start a new group").click()
    page.get_by_label("Group name").fill("Keyboard circle")
    page.get_by_role("button", name="Create the group").click()
    group_url = page.url.split("/members")[0]
    page.goto(group_url)

    def tab_to(selector: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                outline = page.evaluate(
                    "() => getComputedStyle(document.activeElement).outlineStyle"
                )
                assert outline != "none", f"no visible focus on {selector}"
                return
        raise AssertionError(f"Tab never reached {selector}")

    expect(page.locator("body")).to_have_attribute("data-live", "yes")
    # Keys tell the app the member is here: the idle lock never fires while they type.
    with sockets[-1].expect_event("framesent", lambda f: '"active"' in str(f)):
        tab_to("#thread-title")
    page.keyboard.type("Typed with the keyboard")
    tab_to("#composer-text")
    page.keyboard.type("Slowly, one key at a time.")
    tab_to("button[type=submit].primary")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Typed with the keyboard")).to_be_visible()
    # A reply with Ctrl+Enter from the composer.
    tab_to("#composer-text")
    page.keyboard.type("And a reply, sent with Ctrl+Enter.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("article", has_text="And a reply, sent with Ctrl+Enter.")).to_be_visible()
    assert cat.console == []
