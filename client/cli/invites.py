"""``cove invite create|list|revoke|qr``, ``cove join``, ``cove requests``, ``cove approve``,
``cove decline`` (issue 11; ``docs/client/guide.md`` and ``docs/server/operations.md``)."""

from __future__ import annotations

import re
import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, Output, default_home, passphrase, when
from cove.client.cli.registry import arg, command, setup_command, topic
from cove.client.errors import UsageProblem
from cove.protocol.wire.limits import HANDLE_RULE

if TYPE_CHECKING:
    from cove.client.features.invites import JoinStatus, LinkView, PreviewView
    from cove.client.service import CoveClient

topic("invite", "invite links for a group: create, list, revoke, QR codes (moderators)")

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> int:
    """``90m``, ``12h``, ``7d``, ``2w`` (or plain seconds) in seconds."""
    m = re.fullmatch(r"\s*(\d{1,7})\s*([mhdw]?)\s*", text.lower())
    if not m:
        raise UsageProblem(f"'{text}' is not a duration: say e.g. 12h, 7d or 2w")
    return int(m.group(1)) * _UNITS.get(m.group(2), 1)


def _link_text(v: LinkView) -> str:
    state = "revoked" if v.revoked else f"until {when(v.expires_at)}"
    line = (
        f"{v.link_id}  {v.mode:<8} {state}  uses {v.uses}/{v.max_uses}  "
        f"approved {v.counted}  waiting {v.waiting}  registered {v.registrations}"
    )
    if v.url:
        line += f"\n  {v.url}"
    for q in v.questions:
        line += f"\n  ? {q}"
    return line


@command(
    "invite create",
    "moderators: make an invite link (approval by default) and print it",
    arg("group", help=GROUP_HELP),
    arg("--open", action="store_true",
        help="admit whoever holds the link without approval (an owner must allow open links)"),
    arg("--expires", default="7d", metavar="TIME",
        help="how long the link works, e.g. 12h, 7d, 2w (default 7d)"),
    arg("--max-uses", type=int, default=25, metavar="N",
        help="how many people may use it (default 25)"),
    arg("--question", action="append", default=[], metavar="TEXT",
        help="a join question (repeat for several, at most 8); approval links only"),
)  # fmt: skip
async def invite_create(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    v = await c.invites.create(
        gid, open_link=args.open, expires_in=duration(args.expires), max_uses=args.max_uses,
        questions=args.question,
    )  # fmt: skip
    out.emit({"id": v.link_id, **v.doc()}, v.url)


@command("invite list", "moderators: the group's invite links with their counters",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def invite_list(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    views = await c.invites.list(gid)
    out.emit(
        {"links": [v.doc() for v in views]},
        "\n".join(_link_text(v) for v in views) or "no invite links",
    )


@command(
    "invite revoke",
    "moderators: revoke an invite link at once",
    arg("group", help=GROUP_HELP),
    arg("link", metavar="LINK_ID", help="the link's id (or its start, or the link)"),
)
async def invite_revoke(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    v = await c.invites.revoke(gid, args.link)
    out.emit({"ok": True, "revoked": v.link_id}, f"revoked {v.link_id}")


@command(
    "invite qr",
    "moderators: the link as a QR code, for a flyer (in the terminal, or a PNG or SVG file)",
    arg("group", help=GROUP_HELP),
    arg("link", metavar="LINK_ID", help="the link's id (or the start of it)"),
    arg("--png", metavar="FILE", help="write a PNG image to FILE"),
    arg("--svg", metavar="FILE", help="write an SVG image to FILE"),
)
async def invite_qr(c: CoveClient, args: Namespace, out: Output) -> None:
    if args.png and args.svg:
        raise UsageProblem("give --png or --svg, not both")
    gid = await c.resolve_group(args.group)
    fmt, path = ("png", args.png) if args.png else ("svg", args.svg) if args.svg else ("", None)
    data = await c.invites.qr(gid, args.link, fmt or "terminal")
    if path is None:
        out.emit({"qr": data.decode("utf-8")}, data.decode("utf-8").rstrip("\n"))
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageProblem(f"cannot write {path}: {exc.strerror}") from None
    out.emit({"ok": True, "file": str(path), "format": fmt}, f"wrote {path}")


# -- joining ---------------------------------------------------------------------------


def _preview_text(p: PreviewView) -> str:
    lines = [f"{p.group_name}" + (f" — {p.description}" if p.description else "")]
    lines.append(f"invited by {p.inviter} (fingerprint {p.inviter_fingerprint}, checked)")
    lines.append(
        "a moderator approves each request" if p.mode == "approval" else "you join at once"
    )
    lines.append(f"newcomers receive: {p.history_label}")
    lines.append(f"the link works until {when(p.expires_at)}")
    if p.rules_text:
        lines.append(f"rules (version {p.rules_version}):\n{p.rules_text}")
    for i, q in enumerate(p.questions, 1):
        lines.append(f"question {i}: {q}")
    return "\n".join(lines)


def _status_text(s: JoinStatus) -> str:
    return {
        "requested": f"request sent to the moderators of {s.group_name}; 'cove join --status' "
        "tells you when they answer",
        "waiting": f"{s.group_name}: waiting for a moderator",
        "joined": f"you are in {s.group_name}",
        "declined": f"{s.group_name}: your request was declined"
        + (f": {s.message}" if s.message else ""),
    }[s.state]


@setup_command(
    "join",
    "join a group with an invite link (on a new home this also creates your account)",
    arg("link", nargs="?", metavar="LINK", help="the invite link (https://…/j/…#…)"),
    arg("--answer", action="append", default=[], metavar="TEXT",
        help="your answer to the group's questions, one per question, in order"),
    arg("--accept-rules", action="store_true",
        help="you read the group's rules (see --preview) and accept them"),
    arg("--handle", metavar="NAME", help=f"your handle, for a new account: {HANDLE_RULE}"),
    arg("--preview", action="store_true",
        help="only show what the link's preview says (group, rules, questions)"),
    arg("--status", action="store_true", help="what became of your join requests"),
)  # fmt: skip
async def join(args: Namespace, out: Output) -> None:
    from cove.client.features.invites import join_new
    from cove.client.service import CoveClient

    home = Path(args.home) if args.home else default_home()
    exists = CoveClient.store_path(home).exists()
    if args.preview:
        if not args.link:
            raise UsageProblem("--preview needs the link")
        from cove.client.clock import SystemClock
        from cove.client.features.invites_joining import parse_link, read_preview, view

        p = view(await read_preview(parse_link(args.link), SystemClock().now()))
        out.emit(p.doc(), _preview_text(p))
        return
    if args.status:
        if not exists:
            raise UsageProblem(f"no Cove account in {home}")
        async with await CoveClient.open(home, passphrase()) as c:
            states = await c.invites.status()
        out.emit(
            {"requests": [s.doc() for s in states]},
            "\n".join(_status_text(s) for s in states) or "no join requests",
        )
        return
    if not args.link:
        raise UsageProblem("give the invite link (or --status)")
    if exists:
        async with await CoveClient.open(home, passphrase()) as c:
            status = await c.invites.join(
                args.link, answers=args.answer, accept_rules=args.accept_rules,
                handle=args.handle,
            )  # fmt: skip
    else:
        if not args.handle:
            raise UsageProblem(f"a new account needs a handle (--handle NAME): {HANDLE_RULE}")
        client, status = await join_new(
            home, passphrase(confirm=sys.stdin.isatty()), args.link, args.handle,
            answers=args.answer, accept_rules=args.accept_rules,
        )  # fmt: skip
        await client.close()
    out.emit({"id": status.group_id, **status.doc()}, _status_text(status))


# -- the moderators' queue -------------------------------------------------------------


@command("requests", "moderators: join requests waiting for the group, with their answers",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def requests(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    views = await c.invites.requests(gid)
    refused = c.invites.refused(gid)
    lines = []
    for v in views:
        lines.append(f"{v.id[:12]}  {v.handle}  (received {when(v.received_at)})")
        lines += [f"  {q}\n    {a}" for q, a in v.answers]
        if v.rules_version:
            lines.append(f"  accepted rules version {v.rules_version}")
    for r in refused:
        out.note(f"refused a queued request {r.id[:12]}: {r.message} [{r.rule}]")
    out.emit(
        {"requests": [v.doc() for v in views], "refused": [r.doc() for r in refused]},
        "\n".join(lines) or "no join requests wait",
    )


@command("approve", "moderators: admit the person who sent a join request",
         arg("group", help=GROUP_HELP),
         arg("request", help="the request's id from 'cove requests' (or its start)"))  # fmt: skip
async def approve(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    handle = await c.invites.approve(gid, args.request)
    out.emit({"ok": True, "approved": handle}, f"approved {handle}: they join on their next sync")


@command("decline", "moderators: turn down a join request, with an optional message",
         arg("group", help=GROUP_HELP),
         arg("request", help="the request's id from 'cove requests' (or its start)"),
         arg("--message", default="", metavar="TEXT",
             help="what to tell them (only they can read it)"))  # fmt: skip
async def decline(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    handle = await c.invites.decline(gid, args.request, args.message)
    out.emit({"ok": True, "declined": handle}, f"declined {handle}'s request")
