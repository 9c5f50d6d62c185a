"""Every page of the app, scanned by axe-core (WCAG 2.2 A/AA and best practices) in the
light, dark and high-contrast themes with zero serious or critical violations; no
inline script or style anywhere; no sideways scrolling at 320 CSS pixels or at 200 %
text; screenshots of each main page in light and dark (docs/client/app.md shows them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cove.client.trust import Pin
from tests.browser.conftest import PASSPHRASE, assert_accessible, axe_violations, screenshot
from tests.browser.test_newcomer import png

pytestmark = pytest.mark.browser

INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>|<style[\s>]|\sstyle=|\son[a-z]+=", re.I)


def no_inline_code(page: Page, label: str) -> None:
    """In the HTML the app sends (the live DOM may hold the test tools' own styles)."""
    found = INLINE.findall(page.request.get(page.url).text())
    assert found == [], f"{label}: inline script or style {found}"


def no_sideways_scroll(page: Page, label: str) -> None:
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    width = page.evaluate("() => window.innerWidth")
    assert wide <= width, f"{label}: {wide}px of content in a {width}px window"


@pytest.fixture(scope="module")
def world(members: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    eve = members("eve", start=False)
    fay = members("fay", start=False)
    hal = members("hal", start=False)
    photo = tmp_path_factory.mktemp("photo") / "sunset.png"
    photo.write_bytes(png(320, 200, "a photo"))

    async def organize(c: Any) -> dict[str, Any]:
        gid = await c.create_group("Chronic pain circle", "A place to share good and bad days")
        await c.add_members(gid, ["fay", "hal"])
        t1 = await c.new_thread(gid, "Good days and bad days", "What helped you this week?")
        await c.new_thread(gid, "Sleep and pain", "Share what works for your nights.")
        await c.post(gid, t1, "Warm baths, and going slowly.")
        return {"gid": gid, "tid": t1}

    ids = eve.api(organize)

    async def answer(c: Any) -> None:
        await c.sync()
        gid, tid = ids["gid"], ids["tid"]
        posts = await c.read(gid, tid)
        mid = await c.post(gid, tid, "Short walks helped me.", reply_to=posts[-1].id)
        await c.react(posts[0].id, "💜")
        await c.edit(mid, "Short walks and rest helped me.")
        gone = await c.post(gid, tid, "Posted by mistake")
        await c.delete(gone)
        await c.post(gid, tid, "My garden this morning.", attachments=[photo])
        await c.dm("eve", "Thank you for starting the group.")
        for thread in await c.threads(gid):  # fay has read everything so far
            await c.mark_read(gid, thread.id)

    fay.api(answer)

    async def react_back(c: Any) -> None:
        await c.sync()
        posts = await c.read(ids["gid"], ids["tid"])
        await c.react(posts[-1].id, "🤗")
        # A key change as fay's client would see it, for the blocked page.
        async with c.store.transaction() as txn:
            await c.trust_store.put_pin(txn, Pin("fay", b"\x02" * 32, b"\x03" * 32, False))

    eve.api(react_back)
    eve.start()
    fay.start()
    return {"eve": eve, "fay": fay, "hal": hal, **ids}


def pages(world: dict[str, Any]) -> list[tuple[str, str]]:
    g, t = world["gid"].hex(), world["tid"].hex()
    return [
        ("groups", "/"),
        ("group", f"/groups/{g}"),
        ("thread", f"/groups/{g}/threads/{t}"),
        ("members", f"/groups/{g}/members"),
        ("verify", "/people/eve/verify"),
        ("people", "/people"),
        ("private-message", "/people/eve"),
        ("settings", "/settings"),
    ]


def check(page: Page, label: str) -> None:
    assert_accessible(page, label)
    no_inline_code(page, label)


def test_every_page_in_every_theme(world: dict[str, Any], members: Any) -> None:
    fay, eve = world["fay"], world["eve"]
    g, t = world["gid"].hex(), world["tid"].hex()
    # Something new for fay (from hal, who uses the Python API): her list shows it, live.
    badge = fay.go("/").locator(".badge")
    expect(badge).to_have_count(0)

    async def welcome(c: Any) -> None:
        await c.sync()
        await c.new_thread(world["gid"], "Welcome, newcomers", "Say hello when you like.")

    world["hal"].api(welcome)
    expect(badge).to_have_text("1 new message")
    for scheme in ("light", "dark"):
        fay.page.emulate_media(color_scheme=scheme)
        for name, path in pages(world):
            page = fay.go(path)
            if name == "thread":
                page.wait_for_function(
                    "() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)"
                )
                page.locator("details.own").first.evaluate("(d) => d.open = true")
            check(page, f"{name} ({scheme})")
            screenshot(page, f"{name}-{scheme}")

    # The key-change block, as eve sees it (fay's key "changed" on eve's side).
    page = eve.go(f"/groups/{g}/threads/{t}")
    page.get_by_role("textbox", name="Message", exact=True).fill("Is everyone all right?")
    expect(page.locator("#keychange")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        check(page, f"key change ({scheme})")
        page.locator("#composer").scroll_into_view_if_needed()
        screenshot(page, f"key-change-{scheme}")
    page.emulate_media(color_scheme="light")

    # High contrast and larger text, chosen on the settings page.
    page = fay.go("/settings")
    page.get_by_label("High contrast").check()
    page.get_by_label("Larger").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    assert page.locator("html").get_attribute("data-theme") == "contrast"
    for name, path in pages(world):
        check(fay.go(path), f"{name} (high contrast, larger text)")
    screenshot(fay.go(f"/groups/{g}/threads/{t}"), "thread-contrast")

    # 320 CSS pixels wide (larger text), and a 640-pixel window (200 % zoom of 1280).
    for width in (320, 640):
        fay.page.set_viewport_size({"width": width, "height": 800})
        for name, path in pages(world):
            no_sideways_scroll(fay.go(path), f"{name} at {width}px")
    fay.page.set_viewport_size({"width": 1024, "height": 800})
    page = fay.go("/settings")
    page.get_by_label("Same as my computer").check()
    page.get_by_label("Normal").check()
    page.get_by_role("button", name="Save settings").click()
    assert fay.console == [] and eve.console == []
    assert fay.elsewhere() == [] and eve.elsewhere() == []


def test_the_scan_finds_a_violation_when_there_is_one(members: Any, world: dict[str, Any]) -> None:
    page = world["fay"].go("/settings")
    page.evaluate("() => document.querySelector('#lock-after').removeAttribute('id')")
    found = axe_violations(page)
    assert [v["id"] for v in found] == ["select-name"]


def test_first_run_and_unlock_pages(members: Any, world: dict[str, Any]) -> None:
    newcomer = members("gus", account=False)
    page = newcomer.page
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.get_by_label("Passphrase", exact=True).fill("gentle")
        check(page, f"welcome ({scheme})")
        screenshot(page, f"welcome-{scheme}")
    fay = world["fay"]
    page = fay.go("/")
    page.get_by_role("button", name="Lock").click()
    page.wait_for_url(re.compile(r"/unlock$"))
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        check(page, f"unlock ({scheme})")
        screenshot(page, f"unlock-{scheme}")
    page.emulate_media(color_scheme="light")
    page.get_by_label("Passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    assert Path(newcomer.home).exists() is False or not (newcomer.home / "cove.db").exists()
