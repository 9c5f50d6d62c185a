"""``cove group …``, ``cove groups``, ``cove members``."""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, Output
from cove.client.cli.registry import arg, command, topic
from cove.client.records import GroupView

if TYPE_CHECKING:
    from cove.client.service import CoveClient

topic("group", "create and manage groups")


@command(
    "group create",
    "create a group with you as its owner; prints its id",
    arg("name", help="the group's name (only members can read it)"),
    arg("--description", help="what the group is about (only members can read it)"),
)
async def create(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.create_group(args.name, args.description or "")
    out.emit({"id": gid.hex()}, gid.hex())


@command(
    "group add",
    "add members (owner and moderators); they join on their next sync",
    arg("group", help=GROUP_HELP),
    arg("handles", nargs="+", metavar="HANDLE", help="who to add"),
)
async def add(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    added = await c.add_members(gid, args.handles)
    already = [h for h in args.handles if h not in added]
    text = "added " + ", ".join(added)
    if already:
        text += f" ({', '.join(already)} already in the group)"
    out.emit({"ok": True, "added": added, "already_members": already}, text)


@command(
    "group remove",
    "remove a member (owner and moderators); they read nothing sent afterwards",
    arg("group", help=GROUP_HELP),
    arg("handle", help="who to remove"),
)
async def remove(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.remove_member(gid, args.handle)
    out.emit({"ok": True, "removed": args.handle}, f"removed {args.handle}")


@command("group leave", "leave a group and delete its keys", arg("group", help=GROUP_HELP))
async def leave(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.leave_group(gid)
    out.emit({"ok": True}, "left the group")


@command(
    "group role",
    "owners: set a member's role (a moderator may add, remove, ban and delete posts)",
    arg("group", help=GROUP_HELP),
    arg("handle", help="whose role to set"),
    arg("role", choices=["moderator", "member", "owner"], help="moderator, member or owner"),
)
async def role(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.set_role(gid, args.handle, args.role)
    out.emit({"ok": True}, f"{args.handle} is now {args.role}")


@command(
    "group rename",
    "give a group a new name (and description)",
    arg("group", help=GROUP_HELP),
    arg("name", help="the new name"),
    arg("--description", help="a new description (without it the description stays)"),
)
async def rename(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    await c.rename_group(gid, args.name, args.description)
    out.emit({"ok": True}, "renamed")


@command("groups", "list your groups")
async def groups(c: CoveClient, args: Namespace, out: Output) -> None:
    views = [g for g in await c.groups() if g.kind == "group"]

    def state(g: GroupView) -> str:
        if g.active:
            return ""
        return f"  [removed by {g.removed_by}]" if g.removed_by else "  [no longer a member]"

    out.emit(
        [
            {
                "id": g.group_id.hex(),
                "name": g.name,
                "description": g.description,
                "members": g.members,
                "epoch": g.epoch,
                "active": g.active,
                "removed_by": g.removed_by,
            }
            for g in views
        ],
        "\n".join(
            f"{g.group_id.hex()[:8]}  {g.name}  ({g.members} members){state(g)}" for g in views
        )
        or "no groups",
    )


@command(
    "members",
    "a group's members, each with the safety number you share",
    arg("group", help=GROUP_HELP),
)
async def members(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    ms = await c.members(gid)
    out.emit(
        [
            {
                "handle": m.handle,
                "leaf": m.leaf,
                "safety_number": m.safety_number or None,
                "verified": m.verified,
                "key_changed": m.key_changed,
                "me": m.me,
                "role": m.role,
            }
            for m in ms
        ],
        "\n".join(
            (f"{m.handle} (you)" if m.me else f"{m.handle}  {m.safety_number}")
            + ("" if m.role == "member" else f"  [{m.role}]")
            + ("  KEY CHANGED" if m.key_changed else "")
            + ("  (verified)" if m.verified else "")
            for m in ms
        ),
    )
