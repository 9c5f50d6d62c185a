"""Issue 11's whole "Done when" path through the ``cove`` command, against a real relay:
an organizer sets rules, chooses what newcomers see (thread titles in one group, full
history in another) and makes approval links with two questions; a person with **no
relay account** joins the first group with the link alone, the moderator reads her
answers and approves; she sees the titles only, her acceptance of the rules reaches the
members, and she replies to a thread created before she joined; with the same account she
joins the second group by its link and reads the full history. The members read her
replies in the old threads. And an open link, once the owner allows them, admits exactly
one joiner per use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_client_invites import A1, A2, Q1, Q2, Cove
from tests.support.links import organizer_code
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

BODY, REPLY = "BODY night sweats, every night", "REPLY magnesium helped me"


def test_a_newcomer_joins_by_link_accepts_the_rules_and_replies_to_an_old_thread(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org = Cove(tmp_path / "olga", capsys)
    org.ok("init", "--relay", links_relay.url, "--handle", "olga",
           "--invite", organizer_code(links_relay))  # fmt: skip
    groups: dict[str, tuple[str, str]] = {}
    for level in ("titles", "full"):
        gid = org.ok("group", "create", f"Spoonies ({level})")["id"]
        tid = org.ok("thread", "new", gid, f"Sleep ({level})", "--body", BODY)["id"]
        org.ok("post", gid, tid, REPLY)
        org.ok("group", "history", gid, level)
        org.ok("rules", "set", gid, "--text", "Be kind. What is said here stays here.")
        org.ok("group", "welcome", gid, f"Welcome to the {level} circle")
        groups[level] = (gid, tid)

    def link(level: str) -> str:
        gid = groups[level][0]
        made = org.ok("invite", "create", groups[level][0], "--question", Q1, "--question", Q2)
        assert made["mode"] == "approval"
        shown = nia.ok("join", made["url"], "--preview")
        assert (shown["history"], shown["rules"], shown["questions"]) == (
            level, "Be kind. What is said here stays here.", [Q1, Q2],
        )  # fmt: skip
        assert shown["group_id"] == gid
        return str(made["url"])

    def approve(level: str) -> None:
        gid = groups[level][0]
        [req] = org.ok("requests", gid)["requests"]
        assert (req["handle"], req["answers"]) == (
            "nia", [{"question": Q1, "answer": A1}, {"question": Q2, "answer": A2}],
        )  # fmt: skip
        assert org.ok("approve", gid, req["id"])["approved"] == "nia"

    nia = Cove(tmp_path / "nia", capsys)
    # no account on this relay: the link alone registers her and asks to join
    code, doc, _ = nia("join", link("titles"), "--answer", A1, "--answer", A2, "--handle", "nia")
    assert code != 0 and "accept" in doc["message"]  # the rules must be accepted to join
    sent = nia.ok("join", link("titles"), "--answer", A1, "--answer", A2, "--accept-rules",
                  "--handle", "nia")  # fmt: skip
    assert sent["state"] == "requested"
    approve("titles")
    assert nia.ok("join", "--status")["requests"][0]["state"] == "joined"
    nia.ok("sync")

    gid, tid = groups["titles"]
    threads = nia.ok("threads", gid)
    assert [(t["title"], t["body"], t["shared_by"]) for t in threads] == [
        ("Sleep (titles)", "", "olga")
    ]
    assert BODY not in str(nia.ok("read", gid)) and REPLY not in str(nia.ok("read", gid))
    rules = nia.ok("rules", "show", gid)
    assert rules["accepted"] is True  # accepted in the request, sent once she was in
    nia.ok("post", gid, tid, "nia: pacing works for me")

    # the second group, by its own link, with the account she now has
    sent = nia.ok("join", link("full"), "--answer", A1, "--answer", A2, "--accept-rules")
    assert sent["state"] == "requested"
    approve("full")
    nia.ok("join", "--status")
    nia.ok("sync")
    gid_full, tid_full = groups["full"]
    read = nia.ok("read", gid_full, tid_full)
    assert [(m["sender"], m["body"], m["shared_by"]) for m in read] == [
        ("olga", BODY, "olga"), ("olga", REPLY, "olga"),
    ]  # fmt: skip
    nia.ok("post", gid_full, tid_full, "nia: me too")

    # the members read her replies in the threads that existed before she came
    org.ok("sync")
    for (g, t), text in ((groups["titles"], "nia: pacing works for me"),
                         (groups["full"], "nia: me too")):  # fmt: skip
        thread = org.ok("read", g, t)
        assert [(m["sender"], m["body"]) for m in thread][-1] == ("nia", text)
    assert org.ok("rules", "accepted", gid)["1"] == ["nia", "olga"]


def test_an_open_link_admits_exactly_one_joiner_per_use_through_cove(
    tmp_path: Path, links_relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    org = Cove(tmp_path / "owner", capsys)
    org.ok("init", "--relay", links_relay.url, "--handle", "owner",
           "--invite", organizer_code(links_relay))  # fmt: skip
    gid = org.ok("group", "create", "Open circle")["id"]
    code, doc, _ = org("invite", "create", gid, "--open", "--max-uses", "2")
    assert code != 0 and doc["message"].startswith("open links are off in this group")
    org.ok("group", "open-links", gid, "on")
    url = org.ok("invite", "create", gid, "--open", "--max-uses", "2")["url"]
    for name in ("rae", "sam"):
        joined = Cove(tmp_path / name, capsys).ok("join", url, "--handle", name)
        assert (joined["state"], joined["group_id"]) == ("joined", gid)
    late = Cove(tmp_path / "tom", capsys)
    code, doc, err = late("join", url, "--handle", "tom")
    assert (code, doc["error"], doc["message"]) == (
        1,
        "InviteProblem",
        "this invite link has been used as many times as it allows; "
        "ask the group's organizer for a new link",
    ), err
    org.ok("sync")
    assert sorted(m["handle"] for m in org.ok("members", gid)) == ["owner", "rae", "sam"]
    listed = org.ok("invite", "list", gid)["links"]
    assert [(x["mode"], x["counted"]) for x in listed] == [("open", 2)]
