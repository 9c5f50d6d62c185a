"""``cove group open-links GROUP on|off``: the owner's switch for open invite links.

Off by default. With it on, a person holding an open link (``cove invite create
--open``) joins without waiting for a moderator, within the link's caps; every
member's app checks each such join. Turning it on lets whoever holds an open link
see the member list (handles) before joining (``docs/server/operations.md``).
"""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, Output
from cove.client.cli.registry import arg, command

if TYPE_CHECKING:
    from cove.client.service import CoveClient


@command(
    "group open-links",
    "owners: let people join with an open invite link, no approval (on), or not (off)",
    arg("group", help=GROUP_HELP),
    arg(
        "state",
        nargs="?",
        choices=("on", "off"),
        help="on or off (leave out to see the current setting)",
    ),
)
async def open_links(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    if args.state is None:
        on = await c.open_links.enabled(gid)
        out.emit({"open_links": on}, f"open links are {'on' if on else 'off'}")
        return
    on = args.state == "on"
    changed = await c.open_links.set_enabled(gid, on)
    text = f"open links are {'now' if changed else 'already'} {args.state}"
    if changed and on:
        text += " (anyone holding an open link can now see who is in the group)"
    out.emit({"ok": True, "open_links": on, "changed": changed}, text)
