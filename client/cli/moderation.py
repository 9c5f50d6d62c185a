"""``cove group ban``, ``cove group unban``, ``cove group bans``, ``cove events``.

Roles are set with ``cove group role`` and shown by ``cove members``; a
moderator's ``cove delete`` deletes anyone's post. Every action is a commit the
group's policy checks in every member's app (``docs/client/guide.md``).
"""

from __future__ import annotations

from argparse import Namespace

from cove.client.cli.output import GROUP_HELP, Output, message_doc, message_text
from cove.client.cli.registry import arg, command
from cove.client.service import CoveClient


@command(
    "group ban",
    "moderators and owners: remove someone and keep them out until unbanned",
    arg("group", help=GROUP_HELP),
    arg("handle", help="who to ban (a member, or someone this app has seen)"),
    arg("--reason", help="why (members read it; it is encrypted, the relay never sees it)"),
)
async def ban(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.ban(gid, args.handle, reason=args.reason or "")
    out.emit({"ok": True, "banned": args.handle}, f"banned {args.handle}")


@command(
    "group unban",
    "moderators and owners: lift a ban (then 'cove group add' can add them again)",
    arg("group", help=GROUP_HELP),
    arg("handle", help="who to unban"),
    arg("--reason", help="why (members read it; encrypted)"),
)
async def unban(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.unban(gid, args.handle, reason=args.reason or "")
    out.emit({"ok": True, "unbanned": args.handle}, f"unbanned {args.handle}")


@command("group bans", "who is banned from a group", arg("group", help=GROUP_HELP))
async def bans(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    names = await c.banned(gid)
    out.emit(names, "\n".join(names) or "nobody is banned")


@command(
    "events",
    "a group's events: refused changes and messages, membership, roles, renames",
    arg("group", help=GROUP_HELP),
)
async def events(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    evs = await c.events(gid)
    out.emit([message_doc(e) for e in evs], "\n".join(message_text(e) for e in evs) or "no events")
