"""``cove rules set/show/accept/accepted``, ``cove group welcome``, ``cove group history``
and ``cove group settings``: the group's rules and what newcomers receive
(``docs/client/guide.md``)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, Output
from cove.client.cli.registry import arg, command, topic
from cove.client.errors import UsageProblem

if TYPE_CHECKING:
    from cove.client.service import CoveClient

topic("rules", "the group's rules: members accept them before they post")

HISTORY_CHOICES = ["nothing", "titles", "full"]


def _rules_text(args: Namespace) -> str:
    if (args.text is None) == (args.file is None):
        raise UsageProblem("give the rules with --text TEXT or --file FILE (one of them)")
    if args.text is not None:
        return str(args.text)
    path = Path(args.file)
    if not path.is_file():
        raise UsageProblem(f"no file {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageProblem(f"{path} is not UTF-8 text") from None


@command(
    "rules set",
    "moderators: set new rules (every member accepts them before posting again)",
    arg("group", help=GROUP_HELP),
    arg("--text", help="the rules text"),
    arg("--file", metavar="FILE", help="read the rules text from a UTF-8 file"),
)
async def rules_set(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    version = await c.rules.set(gid, _rules_text(args))
    out.emit({"ok": True, "version": version}, f"rules version {version} set (you accepted it)")


@command("rules show", "the group's current rules and whether you accepted them",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def rules_show(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    v = await c.rules.show(gid)
    if not v.version:
        text = "this group has no rules"
    else:
        state = "you accepted them" if v.accepted else (
            f"you have not accepted them yet: 'cove rules accept {args.group}'"
        )  # fmt: skip
        body = v.text or "(the text has not arrived yet: run 'cove sync')"
        by = f" set by {v.set_by}" if v.set_by else ""
        text = f"rules version {v.version}{by} — {state}\n\n{body}"
    out.emit(
        {"version": v.version, "text": v.text, "accepted": v.accepted,
         "my_version": v.my_version, "set_by": v.set_by},
        text,
    )  # fmt: skip


@command("rules accept", "accept the group's current rules (signed with your identity key)",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def rules_accept(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    version = await c.rules.accept(gid)
    out.emit({"ok": True, "version": version}, f"you accepted rules version {version}")


@command("rules accepted", "moderators: who accepted which version of the rules",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def rules_accepted(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    by = await c.rules.acceptances(gid)
    out.emit(
        {str(v): names for v, names in by.items()},
        "\n".join(
            (f"version {v}: " if v else "not accepted: ") + ", ".join(names)
            for v, names in by.items()
        )
        or "nobody has accepted the rules",
    )


@command(
    "group welcome",
    "moderators: the message each newcomer is greeted with ('' for none)",
    arg("group", help=GROUP_HELP),
    arg("text", help="the welcome text (up to 2000 bytes)"),
)
async def group_welcome(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.newcomers.set_welcome(gid, args.text)
    out.emit({"ok": True}, "welcome message set")


@command(
    "group history",
    "moderators: what newcomers receive of the group's past",
    arg("group", help=GROUP_HELP),
    arg("level", choices=HISTORY_CHOICES,
        help="nothing; titles (thread titles, pinned resources, rules); or full"),
)  # fmt: skip
async def group_history(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    changed = await c.newcomers.set_history(gid, args.level)
    out.emit({"ok": True, "level": args.level, "changed": changed},
             f"newcomers receive: {args.level}" + ("" if changed else " (unchanged)"))  # fmt: skip


@command("group settings", "the group's settings: what newcomers see, rules, welcome message",
         arg("group", help=GROUP_HELP))  # fmt: skip
async def group_settings(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    s = await c.newcomers.settings(gid)
    rules = (
        "none" if not s.rules.version
        else f"version {s.rules.version}, "
        + ("accepted by you" if s.rules.accepted else "NOT accepted by you")
    )  # fmt: skip
    out.emit(
        {"name": s.name, "description": s.description, "history": s.history,
         "history_label": s.history_label, "welcome": s.welcome,
         "rules_version": s.rules.version, "rules_accepted": s.rules.accepted,
         "open_links": s.open_links, "role": s.role, "can_edit": s.can_edit},
        "\n".join([
            f"group: {s.name}",
            f"newcomers receive: {s.history_label}",
            f"rules: {rules}",
            f"welcome message: {s.welcome or '(none)'}",
            f"open links: {'on' if s.open_links else 'off'}",
            f"your role: {s.role}",
        ]),
    )  # fmt: skip
