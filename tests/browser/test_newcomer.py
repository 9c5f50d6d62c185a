"""The newcomer scenario of issue 12, end to end in two browser contexts, each with its
own ``cove app`` process, against a real relay: an account from an invite, joining a
group (the organizer adds them), reading, posting in a thread, replying, reacting,
editing, deleting, a photo up and down with the progress bar and its preview, a
private message, and checking a safety number; every update arrives live over the
app's WebSocket (no reload). Then a canary sweep: nothing of what they wrote is in the
apps' logs, in any file outside the encrypted stores, or on the relay's disk.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import first_run, scratch_folders
from tests.support.canary import Canaries, scan_tree
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.browser

STORE_FILES = ("cove.db", "cove.db-wal", "cove.db-journal")


def png(width: int, height: int, note: str) -> bytes:
    """A small real PNG (a colour gradient) with ``note`` in a tEXt chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00" + note.encode())
        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )  # fmt: skip


def article(page: Page, text: str) -> Any:
    return page.locator("article", has_text=text)


def test_the_newcomer_scenario_live_in_two_browsers(
    members: Any, relay: RelayProcess, code: str, tmp_path: Path
) -> None:
    c = Canaries()
    before = scratch_folders()
    ana = members("ana")  # the organizer
    bo = members("ben", account=False)  # the newcomer: first run in the app
    first_run(bo.page, relay, code, "ben")

    # The organizer creates a group and adds the newcomer by name.
    group_name = c.new("group")
    ana.page.get_by_text("Start a new group").click()
    ana.page.get_by_label("Group name").fill(group_name)
    ana.page.get_by_role("button", name="Create the group").click()
    expect(ana.page.get_by_role("heading", name=f"Members of {group_name}")).to_be_visible()
    ana.page.get_by_text("Add members", exact=True).click()
    ana.page.get_by_label("Their Cove names").fill("ben")
    ana.page.get_by_role("button", name="Add to the group").click()
    expect(ana.page.get_by_role("status").first).to_contain_text("Added.")
    expect(ana.page.get_by_role("row", name=re.compile("^ben"))).to_be_visible()

    # The group appears on bo's page by itself.
    expect(bo.page.get_by_role("link", name=group_name)).to_be_visible()

    # ana starts a thread; bo's group list shows it as new, live.
    ana.go("/")
    ana.page.get_by_role("link", name=group_name).click()
    title, body = c.new("title"), c.new("body")
    ana.page.get_by_label("Title").fill(title)
    ana.page.get_by_role("textbox", name="Message", exact=True).fill(body)
    ana.page.get_by_role("button", name="Send").click()
    expect(ana.page.get_by_role("heading", name=title)).to_be_visible()
    badge = bo.page.locator(".card", has_text=group_name).locator(".badge")
    expect(badge).to_have_text("1 new message")

    # bo reads the thread (titles in the list), replies to ana's post.
    bo.page.get_by_role("link", name=group_name).click()
    bo.page.get_by_role("link", name=title).click()
    expect(article(bo.page, body)).to_be_visible()
    bo.page.get_by_role("link", name="Reply to ana").click()
    expect(bo.page.locator(".replying")).to_contain_text("Replying to ana")
    reply = c.new("reply")
    bo.page.get_by_role("textbox", name="Message", exact=True).fill(reply)
    bo.page.get_by_role("button", name="Send").click()
    expect(bo.page.get_by_role("status").first).to_have_text("Sent.")

    # ana sees the reply arrive without reloading, quoting her post.
    mine = article(ana.page, reply)
    expect(mine).to_be_visible()
    expect(mine.locator(".quote")).to_contain_text("In reply to ana")

    # ana reacts; bo sees it live.
    ana.page.get_by_role("button", name="React with 💜").last.click()
    expect(ana.page.get_by_role("status").first).to_have_text("Reaction sent.")
    expect(article(bo.page, reply).locator(".reactions")).to_contain_text("💜 1")

    # bo edits his reply; ana sees the new text, marked edited.
    edited = c.new("edited reply")
    box = article(bo.page, reply)
    box.get_by_text("Edit or delete").click()
    box.get_by_label("Your message").fill(edited)
    box.get_by_role("button", name="Save the change").click()
    expect(bo.page.get_by_role("status").first).to_have_text("Your change is saved.")
    expect(article(ana.page, edited)).to_contain_text("edited")
    expect(article(ana.page, reply)).to_have_count(0)

    # ana posts something and deletes it; bo's page shows it deleted.
    oops = c.new("oops")
    ana.page.get_by_role("textbox", name="Message", exact=True).fill(oops)
    ana.page.get_by_role("button", name="Send").click()
    expect(article(bo.page, oops)).to_be_visible()
    gone = article(ana.page, oops)
    gone.get_by_text("Edit or delete").click()
    gone.get_by_role("button", name="Delete this message").click()
    expect(ana.page.get_by_role("status").first).to_contain_text("Deleted.")
    expect(article(bo.page, oops)).to_have_count(0)
    expect(bo.page.get_by_text("This message was deleted.")).to_be_visible()

    # bo attaches a photo: the progress bar fills, ana sees the preview and downloads it.
    photo = tmp_path / "garden.png"
    photo.write_bytes(png(96, 64, c.new("photo note")))
    caption = c.new("caption")
    bo.page.get_by_role("textbox", name="Message", exact=True).fill(caption)
    bo.page.get_by_label("Attach photos or files (optional)").set_input_files(str(photo))
    form = bo.page.locator("form[data-composer]")
    bo.page.get_by_role("button", name="Send").click()
    expect(form).to_have_attribute("data-sent", "yes")
    assert int(form.get_attribute("data-progress-seen") or 0) >= 1
    expect(form.get_by_label("Sending")).to_have_attribute("value", "100")
    expect(form.locator(".upload-text")).to_have_text("Files sent.")
    expect(form.locator("#draft-status")).to_have_text("Sent.")
    expect(article(bo.page, caption).get_by_role("img", name="Photo: garden.png")).to_be_visible()
    shown = article(ana.page, caption).get_by_role("img", name="Photo: garden.png")
    expect(shown).to_be_visible()
    ana.page.wait_for_function(
        "(el) => el.complete && el.naturalWidth === 96", arg=shown.element_handle()
    )
    with ana.page.expect_download() as download:
        article(ana.page, caption).get_by_role("link", name="Download garden.png").click()
    assert Path(download.value.path()).read_bytes() == photo.read_bytes()
    photo.unlink()  # the sweep below covers tmp_path too

    # A private message from bo to ana; ana's list shows it as new, live.
    ana.go("/people")
    bo.page.get_by_role("link", name="Private messages").click()
    private = c.new("private")
    bo.page.get_by_label("To (their Cove name)").fill("ana")
    bo.page.get_by_role("textbox", name="Message", exact=True).fill(private)
    bo.page.get_by_role("button", name="Send").click()
    expect(article(bo.page, private)).to_be_visible()
    expect(ana.page.locator(".card", has_text="ben").locator(".badge")).to_have_text(
        "1 new message"
    )
    ana.page.get_by_role("link", name="ben").click()
    expect(article(ana.page, private)).to_be_visible()

    # bo checks ana's safety number: both pages show the same 60 digits; he confirms.
    bo.page.get_by_role("link", name="Your safety number with ana").click()
    ana.page.get_by_role("link", name="Your safety number with ben").click()
    digits_bo = bo.page.locator(".safety").inner_text().split()
    digits_ana = ana.page.locator(".safety").inner_text().split()
    assert digits_bo == digits_ana and len("".join(digits_bo)) == 60
    bo.page.get_by_role("button", name="We compared them: the numbers match").click()
    expect(bo.page.get_by_role("status").first).to_have_text(
        "Thank you for checking. You can send again."
    )

    assert ana.console == [] and bo.console == []
    # Nothing but the member's own app was asked for anything (no CDN, font, analytics).
    assert len(ana.requests) > 50 and any(u.startswith("ws://") for u in ana.requests)
    assert ana.elsewhere() == [] and bo.elsewhere() == []

    # The canary sweep: the apps' logs, every file of both homes but the encrypted
    # store, the relay's data folder (database and log), and anything that appeared in
    # the memory-backed and temporary folders meanwhile: the apps stage no files (a
    # photo goes from the form to the client as bytes and back).
    places = [ana.home.parent, relay.data, tmp_path]
    places += [p for p in scratch_folders() - before if p.is_dir()]
    hits = []
    for place in places:
        try:
            found = scan_tree(place, c.values())
        except OSError:  # another program's folder went away meanwhile
            continue
        hits += [(place / f, canary) for f, canary in found if Path(f).name not in STORE_FILES]
    assert hits == []
    assert "cove app: posted" in bo.app.log()  # the log is there, and says what happened
    # The sweep finds a canary when there is one (it can fail).
    (ana.home.parent / "planted.txt").write_text(c["reply"])
    assert [h[1] for h in scan_tree(ana.home.parent, c.values())] == [c["reply"]]
    (ana.home.parent / "planted.txt").unlink()
