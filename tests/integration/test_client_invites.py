"""Invite links end to end through the ``cove`` command, against a real relay process that
registers only with a relay invite code or an invite link (issue 11, "Done when").

An organizer makes an approval link with two questions; a person with **no account**
joins with the link alone; the moderator reads her answers, approves, and she is in the
group. Dead links (expired, used up, revoked) and mistyped ones are refused with
exact messages; a relay that alters or forges the preview, or replays a handled join
request, is caught by the client; a decline's message reaches the requester.

Time: the relay's expiry is reached by moving ``expires_at`` in its database (as
``tests/support/links.py`` does), the preview's own expiry with a :class:`FixedClock`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from cove.client.cli import main as cove_main
from cove.client.clock import FixedClock
from cove.client.features.invites import InviteProblem, join_new
from cove.client.service import CoveClient
from cove.protocol.crypto import OsRandom
from cove.protocol.invites import InviteLink, LinkPreview, open_preview, parse_invite_link
from cove.protocol.invites.preview import seal_preview
from tests.support.canary import Canaries, scan_tree
from tests.support.links import organizer_code, set_expiry
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

Q1 = "How did you hear about the group?"
Q2 = "What would you like from it?"
A1 = "From the rheumatology clinic's flyer"
A2 = "People who understand flares 💜"
DEAD = "; ask the group's organizer for a new link"


class Cove:
    """``cove --home HOME --json …`` in this process: (exit code, last JSON doc or None,
    stderr). An exception escaping ``main`` (a traceback for a user) fails the test."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.capsys = home, capsys

    def __call__(self, *args: str) -> tuple[int, Any, str]:
        os.environ["COVE_PASSPHRASE"] = "pw"
        try:
            code = cove_main(["--home", str(self.home), "--json", *args])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = self.capsys.readouterr()
        lines = out.strip().splitlines()
        return code, json.loads(lines[-1]) if lines else None, err

    def ok(self, *args: str) -> Any:
        code, doc, err = self(*args)
        assert code == 0, (args, code, doc, err)
        return doc


def organizer(
    tmp_path: Path, relay: RelayProcess, capsys: pytest.CaptureFixture[str], name: str
) -> tuple[Cove, str]:
    org = Cove(tmp_path / name, capsys)
    org.ok("init", "--relay", relay.url, "--handle", name, "--invite", organizer_code(relay))
    gid = org.ok("group", "create", "Fatigue Fridays", "--description", "rest is work")["id"]
    return org, gid


def relay_db(relay: RelayProcess) -> sqlite3.Connection:
    return sqlite3.connect(relay.data / "relay.sqlite3", timeout=10)


def test_a_newcomer_joins_with_the_link_alone(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "organizer")
    made = org.ok("invite", "create", gid, "--question", Q1, "--question", Q2,
                  "--max-uses", "5", "--expires", "2w")  # fmt: skip
    url = made["url"]
    assert made["mode"] == "approval" and made["questions"] == [Q1, Q2]
    assert parse_invite_link(url).link_id_text == made["link_id"]
    # without the link this relay registers no one
    ana = Cove(tmp_path / "ana", capsys)
    code, doc, err = ana("init", "--relay", links_relay.url, "--handle", "ana")
    assert (code, doc["error"]) == (5, "NoPermission"), (code, doc, err)
    assert not (tmp_path / "ana").exists()
    # what the preview shows, before any account exists
    shown = ana.ok("join", url, "--preview")
    assert (shown["group_name"], shown["description"]) == ("Fatigue Fridays", "rest is work")
    assert (shown["inviter"], shown["mode"], shown["questions"]) == (
        "organizer", "approval", [Q1, Q2],
    )  # fmt: skip
    assert shown["history"] == "nothing"
    # the link alone: registers her and sends the request
    sent = ana.ok("join", url, "--answer", A1, "--answer", A2, "--accept-rules",
                  "--handle", "ana")  # fmt: skip
    assert (sent["state"], sent["group_id"], sent["group_name"]) == (
        "requested", gid, "Fatigue Fridays",
    )  # fmt: skip
    assert ana.ok("join", "--status")["requests"][0]["state"] == "waiting"
    # the moderator reads her answers
    queue = org.ok("requests", gid)
    assert queue["refused"] == []
    [req] = queue["requests"]
    assert req["handle"] == "ana"
    assert req["answers"] == [{"question": Q1, "answer": A1}, {"question": Q2, "answer": A2}]
    listed = org.ok("invite", "list", gid)["links"]
    assert [(x["uses"], x["counted"], x["waiting"], x["registrations"]) for x in listed] == [
        (1, 0, 1, 1)
    ]
    assert org.ok("approve", gid, req["id"][:8]) == {"ok": True, "approved": "ana"}
    # the use is counted in the group's settings, the queue is empty
    listed = org.ok("invite", "list", gid)["links"]
    assert [(x["counted"], x["waiting"]) for x in listed] == [(1, 0)]
    assert org.ok("requests", gid)["requests"] == []
    # she is in the group, and the organizer's key came verified from the link
    assert ana.ok("join", "--status")["requests"][0]["state"] == "joined"
    assert ana.ok("join", "--status")["requests"] == []
    groups = {g["name"]: g for g in ana.ok("groups")}
    assert groups["Fatigue Fridays"]["members"] == 2
    members = {m["handle"]: m for m in ana.ok("members", gid)}
    assert members["organizer"]["verified"] is True
    # the QR code of the link
    qr = org.ok("invite", "qr", gid, made["link_id"])["qr"]
    assert qr.count("\n") > 20


def test_dead_and_mistyped_links_are_refused_with_clear_messages(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-dead")
    person = Cove(tmp_path / "bea", capsys)

    def refused(url: str, *extra: str) -> tuple[int, str]:
        code, doc, _ = person("join", url, "--accept-rules", "--handle", "bea", *extra)
        assert not (tmp_path / "bea").exists()  # nothing created
        return code, doc["message"]

    expired = org.ok("invite", "create", gid)
    set_expiry(links_relay, parse_invite_link(expired["url"]).link_id, 1_000_000)
    assert refused(expired["url"]) == (1, "this invite link has expired" + DEAD)

    revoked = org.ok("invite", "create", gid)
    assert org.ok("invite", "revoke", gid, revoked["link_id"][:6])["revoked"] == revoked["link_id"]
    assert refused(revoked["url"]) == (1, "this invite link was revoked" + DEAD)
    # revoked at the relay and gone from the group's join settings
    links = {x["link_id"]: x for x in org.ok("invite", "list", gid)["links"]}
    assert links[revoked["link_id"]]["revoked"] is True

    once = org.ok("invite", "create", gid, "--max-uses", "1")
    cleo = Cove(tmp_path / "cleo", capsys)
    cleo.ok("join", once["url"], "--handle", "cleo")
    assert refused(once["url"]) == (
        1, "this invite link has been used as many times as it allows" + DEAD,
    )  # fmt: skip

    live = org.ok("invite", "create", gid, "--question", Q1)
    assert refused(live["url"]) == (
        1, "this group asks 1 question and you gave 0 answers: give one --answer for each "
        "question",
    )  # fmt: skip
    base, _, material = live["url"].partition("#")
    typo = base + "#" + ("a" if material[0] != "a" else "b") + material[1:]
    assert refused(typo) == (
        2, "not a usable invite link: the link is mistyped: its two parts do not belong together",
    )  # fmt: skip
    assert refused(base + "#" + material[:-3]) == (
        2, "not a usable invite link: the link is mistyped: the part after # is wrong",
    )  # fmt: skip

    # the preview's own expiry, by the joiner's clock (the relay still serves it)
    async def late() -> str:
        clock = FixedClock(parse_preview_expiry(links_relay, live["url"]) + 1)
        try:
            await join_new(tmp_path / "late", "pw", live["url"], "dora", answers=("x",),
                           clock=clock)  # fmt: skip
        except InviteProblem as exc:
            return f"{exc.rule}: {exc}"
        return "accepted"

    assert asyncio.run(late()) == "invite.link.expired: this invite link has expired" + DEAD


def parse_preview_expiry(relay: RelayProcess, url: str) -> int:
    link = parse_invite_link(url)
    with relay_db(relay) as db:
        (sealed,) = db.execute(
            "SELECT preview FROM links WHERE link_id = ?", (link.link_id,)
        ).fetchone()
    return open_preview(sealed, link).expires_at


def test_an_altered_or_forged_preview_is_detected(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-forged")
    url = org.ok("invite", "create", gid)["url"]
    link = parse_invite_link(url)
    db = relay_db(links_relay)
    query = "SELECT preview FROM links WHERE link_id = ?"
    (sealed,) = db.execute(query, (link.link_id,)).fetchone()
    person = Cove(tmp_path / "eve", capsys)

    def shown_with(preview: bytes) -> tuple[int, str]:
        db.execute("UPDATE links SET preview = ? WHERE link_id = ?", (preview, link.link_id))
        db.commit()
        code, doc, _ = person("join", url, "--preview")
        return code, doc["message"]

    # one flipped byte
    altered = sealed[:40] + bytes([sealed[40] ^ 1]) + sealed[41:]
    assert shown_with(altered) == (
        1, "the invite preview does not open with this link (altered, or not this link's preview)",
    )  # fmt: skip
    # a preview that opens with the link but is signed by someone the link does not pin
    # (what a person holding the link could make to impersonate the organizer)
    good = open_preview(sealed, link)
    rng = OsRandom()
    from cove.protocol.crypto import suite_for

    forger_private, forger_key = suite_for(3).generate_signature_key_pair(rng)
    fake = LinkPreview(**{
        **{f: getattr(good, f) for f in LinkPreview.__dataclass_fields__},
        "group_name": "Fatigue Fridays (official)", "inviter_identity_key": forger_key,
    })  # fmt: skip
    with mock.patch.object(InviteLink, "pins", return_value=True):
        forged = seal_preview(fake, link, forger_private, rng)
    assert shown_with(forged) == (1, "the preview names another inviter than the link")
    db.execute("UPDATE links SET preview = ? WHERE link_id = ?", (sealed, link.link_id))
    db.commit()
    db.close()
    assert person.ok("join", url, "--preview")["group_name"] == "Fatigue Fridays"


def test_a_replayed_join_request_is_refused_and_a_decline_reaches_the_requester(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-replay")
    url = org.ok("invite", "create", gid, "--question", Q1)["url"]
    link_id = parse_invite_link(url).link_id
    fay = Cove(tmp_path / "fay", capsys)
    fay.ok("join", url, "--answer", A1, "--handle", "fay")
    with relay_db(links_relay) as db:
        row = db.execute("SELECT * FROM join_requests WHERE link_id = ?", (link_id,)).fetchone()
    [req] = org.ok("requests", gid)["requests"]
    org.ok("approve", gid, req["id"])
    assert fay.ok("join", "--status")["requests"][0]["state"] == "joined"
    # the relay hands the handled request to the moderators again
    with relay_db(links_relay) as db:
        db.execute(f"INSERT INTO join_requests VALUES ({', '.join('?' * len(row))})", row)
    queue = org.ok("requests", gid)
    assert queue["requests"] == []
    assert [(r["id"], r["rule"], r["message"]) for r in queue["refused"]] == [
        (req["id"], "invite.request.replayed", "this join request was already handled (a replay)")
    ]
    code, doc, _ = org("approve", gid, req["id"])
    assert (code, doc["message"]) == (1, "this join request was already handled (a replay)")
    # a decline with a message
    gus = Cove(tmp_path / "gus", capsys)
    gus.ok("join", url, "--answer", "just curious", "--handle", "gus")
    queue = org.ok("requests", gid)
    [req] = queue["requests"]
    assert req["handle"] == "gus"
    message = "This group is for people with a diagnosis; try the carers' group 💜"
    assert org.ok("decline", gid, req["id"], "--message", message)["declined"] == "gus"
    [status] = gus.ok("join", "--status")["requests"]
    assert (status["state"], status["message"]) == ("declined", message)
    assert gus.ok("join", "--status")["requests"] == []
    assert [g["name"] for g in gus.ok("groups")] == []


def test_a_relay_that_stretches_a_links_cap_admits_no_one_more(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """The relay raises a one-use link's cap in its own table and queues a second request:
    the moderator's client counts uses in the group's settings and refuses it."""
    org, gid = organizer(tmp_path, links_relay, capsys, "org-caps")
    url = org.ok("invite", "create", gid, "--max-uses", "1")["url"]
    link_id = parse_invite_link(url).link_id
    Cove(tmp_path / "hal", capsys).ok("join", url, "--handle", "hal")
    with relay_db(links_relay) as db:
        db.execute("UPDATE links SET max_uses = 5 WHERE link_id = ?", (link_id,))
    Cove(tmp_path / "ivy", capsys).ok("join", url, "--handle", "ivy")
    first, second = org.ok("requests", gid)["requests"]
    assert (first["handle"], second["handle"]) == ("hal", "ivy")
    org.ok("approve", gid, first["id"])
    queue = org.ok("requests", gid)
    assert queue["requests"] == []
    assert [(r["id"], r["rule"]) for r in queue["refused"]] == [
        (second["id"], "invite.link.used_up")
    ]
    code, doc, _ = org("approve", gid, second["id"])
    assert (code, doc["message"]) == (
        1, "this invite link has been used as many times as it allows" + DEAD,
    )  # fmt: skip


def test_only_moderators_make_links_and_read_requests(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org, gid = organizer(tmp_path, links_relay, capsys, "org-roles")
    url = org.ok("invite", "create", gid)["url"]
    jo = Cove(tmp_path / "jodi", capsys)
    jo.ok("join", url, "--handle", "jodi")
    [req] = org.ok("requests", gid)["requests"]
    org.ok("approve", gid, req["id"])
    jo.ok("join", "--status")
    for args in (("invite", "create", gid), ("invite", "list", gid), ("requests", gid)):
        code, doc, _ = jo(*args)
        assert (code, doc["message"]) == (
            5, "only the group's moderators and owners manage invite links",
        ), args  # fmt: skip

    # going under the client: she commits a link into the join settings herself
    async def hostile() -> str:
        from dataclasses import replace as change

        from cove.client.features.join_settings import change_join_settings
        from cove.client.features.moderation import Refused
        from cove.protocol.invites import LinkEntry, LinkMode

        c = await CoveClient.open(tmp_path / "jodi", "pw")
        try:
            entry = LinkEntry(b"\x01" * 10, LinkMode.APPROVAL, b"\x02" * 32, b"\x03" * 32, 9)
            try:
                await change_join_settings(
                    c.outbox, bytes.fromhex(gid), lambda s: change(s, links=(*s.links, entry)),
                    now=c.clock.now,
                )  # fmt: skip
            except Refused as exc:
                return exc.rule
            return "accepted"
        finally:
            await c.close()

    assert asyncio.run(hostile()) == "policy.join.settings.not_allowed"


def test_the_relay_keeps_nothing_readable_of_a_join(tmp_path: Path) -> None:
    """A canary sweep of a relay's files after a whole join through the client: no group
    name, description, question, answer, decline message or link secret."""
    canaries = Canaries()
    name, about, question = (canaries.new(k) for k in ("group name", "description", "question"))
    answer, message = canaries.new("join answer"), canaries.new("decline message")

    async def main(relay: RelayProcess) -> list[str]:
        code = organizer_code(relay)
        org = await CoveClient.init(tmp_path / "org", "pw", relay.url, "organizer", code)
        try:
            gid = await org.create_group(name, about)
            made = await org.invites.create(gid, questions=(question,))
            ana, _ = await join_new(tmp_path / "ana", "pw", made.url, "ana", answers=(answer,))
            bo, _ = await join_new(tmp_path / "bob", "pw", made.url, "bob", answers=(answer,))
            first, second = await org.invites.requests(gid)
            await org.invites.approve(gid, first.id)
            await org.invites.decline(gid, second.id, message)
            assert [s.state for s in await ana.invites.status()] == ["joined"]
            assert [(s.state, s.message) for s in await bo.invites.status()] == [
                ("declined", message)
            ]
            await ana.close()
            await bo.close()
            link = parse_invite_link(made.url)
            fragment = made.url.split("#", 1)[1]
            keys = link.keys()
            return [fragment.encode(), fragment.upper().encode(), link.secret,
                    link.secret.hex().encode(), keys.capability, keys.preview_key]  # fmt: skip
        finally:
            await org.close()

    with RelayProcess.start(tmp_path / "relay", registration="invite") as relay:
        secrets = asyncio.run(main(relay))
        running = scan_tree(relay.data, canaries.values())
    (relay.data / "planted").write_text(answer)
    hits = scan_tree(relay.data, canaries.values())
    assert ("planted", answer) in [(Path(f).name, c) for f, c in hits]
    assert [h for h in hits + running if Path(h[0]).name != "planted"] == []
    files = [p for p in relay.data.rglob("*") if p.is_file()]
    assert files and not [(p.name, s) for p in files for s in secrets if s in p.read_bytes()]


def test_a_second_moderator_reads_approves_and_shares_the_replay_log(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """The moderators' group carries the link, the intake key and the handled requests:
    a moderator who did not make the link reads and approves its requests, and the
    organizer's client then refuses the same request replayed by the relay."""
    org, gid = organizer(tmp_path, links_relay, capsys, "org-two")
    kim = Cove(tmp_path / "kim", capsys)
    kim.ok("init", "--relay", links_relay.url, "--handle", "kimmod",
           "--invite", organizer_code(links_relay))  # fmt: skip
    org.ok("group", "add", gid, "kimmod")
    kim.ok("sync")
    org.ok("group", "role", gid, "kimmod", "moderator")
    kim.ok("sync")
    made = org.ok("invite", "create", gid, "--question", Q1)
    link_id = parse_invite_link(made["url"]).link_id
    lea = Cove(tmp_path / "lea", capsys)
    lea.ok("join", made["url"], "--answer", A1, "--handle", "lea")
    with relay_db(links_relay) as db:
        row = db.execute("SELECT * FROM join_requests WHERE link_id = ?", (link_id,)).fetchone()
    queue = kim.ok("requests", gid)
    assert queue["refused"] == []
    [req] = queue["requests"]
    assert (req["handle"], req["answers"]) == ("lea", [{"question": Q1, "answer": A1}])
    # kim holds the link too (from the moderators' group)
    assert [x["url"] for x in kim.ok("invite", "list", gid)["links"]] == [made["url"]]
    assert kim.ok("approve", gid, req["id"]) == {"ok": True, "approved": "lea"}
    assert lea.ok("join", "--status")["requests"][0]["state"] == "joined"
    with relay_db(links_relay) as db:
        db.execute(f"INSERT INTO join_requests VALUES ({', '.join('?' * len(row))})", row)
    queue = org.ok("requests", gid)
    assert queue["requests"] == []
    assert [r["rule"] for r in queue["refused"]] == ["invite.request.replayed"]
    # the moderators' group is there, named after the group, for moderators only
    names = [g["name"] for g in org.ok("groups")]
    assert "moderators of Fatigue Fridays" in names
    assert "moderators of Fatigue Fridays" not in [g["name"] for g in lea.ok("groups")]


def test_notes_from_a_demoted_moderator_are_ignored(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Demoted, she is taken out of the moderators' group (``invites_roles``); going under
    her client to overwrite the intake key there, she is refused by the relay, which no
    longer serves her that group — and her stale copy of it could not be read anyway."""
    org, gid = organizer(tmp_path, links_relay, capsys, "org-demote")
    max_ = Cove(tmp_path / "max", capsys)
    max_.ok("init", "--relay", links_relay.url, "--handle", "maxmod",
            "--invite", organizer_code(links_relay))  # fmt: skip
    org.ok("group", "add", gid, "maxmod")
    max_.ok("sync")
    org.ok("group", "role", gid, "maxmod", "moderator")
    max_.ok("sync")
    url = org.ok("invite", "create", gid)["url"]
    org.ok("group", "role", gid, "maxmod", "member")

    async def overwrite_the_key() -> str:
        from cove.client.errors import NotAMember
        from cove.client.features.invites import moderators_group_id
        from cove.protocol.app.moderators_records import IntakeKeyShare

        c = await CoveClient.open(tmp_path / "max", "pw")
        try:
            await c.sync()
            with pytest.raises(NotAMember) as caught:
                await c.outbox.send_record(moderators_group_id(bytes.fromhex(gid)), IntakeKeyShare(
                    id=b"\x05" * 16, sent_at=c.clock.now(), group=bytes.fromhex(gid),
                    generation=1, private_key=b"\x07" * 32,
                ))  # fmt: skip
            return str(caught.value)
        finally:
            await c.close()

    assert asyncio.run(overwrite_the_key()) == (
        "the relay no longer serves this group to you: you may no longer be a member "
        "(leave it to delete its keys)"
    )
    Cove(tmp_path / "nell", capsys).ok("join", url, "--handle", "nell")
    queue = org.ok("requests", gid)  # syncs the moderators' group first
    assert queue["refused"] == []
    assert [r["handle"] for r in queue["requests"]] == ["nell"]
