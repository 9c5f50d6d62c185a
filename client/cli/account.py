"""``cove init`` and ``cove settings``."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from cove.client.cli.output import Output, default_home, passphrase
from cove.client.cli.registry import arg, command, setup_command
from cove.protocol.wire.limits import HANDLE_RULE

if TYPE_CHECKING:
    from cove.client.service import CoveClient


@setup_command(
    "init",
    "create your keys and encrypted store, and register with a relay",
    arg(
        "--relay",
        required=True,
        metavar="URL",
        help="the relay's address, e.g. https://relay.example",
    ),
    arg("--handle", required=True, metavar="NAME", help=f"your handle: {HANDLE_RULE}"),
    arg("--invite", metavar="CODE", help="the invite code your organizer gave you"),
)
async def init(args: Namespace, out: Output) -> None:
    from cove.client.service import CoveClient

    home = Path(args.home) if args.home else default_home()
    client = await CoveClient.init(
        home, passphrase(confirm=True), args.relay, args.handle, args.invite
    )
    async with client:
        out.emit(
            {"id": client.account.account_id.hex(), "handle": args.handle},
            f"registered {args.handle} at {args.relay}",
        )


@command(
    "settings",
    "show or change how often your keys are refreshed (post-compromise security)",
    arg(
        "--update-days",
        type=float,
        metavar="DAYS",
        help="refresh your keys in each group at least this often",
    ),
    arg("--update-messages", type=int, metavar="N", help="... and after this many messages sent"),
)
async def settings(c: CoveClient, args: Namespace, out: Output) -> None:
    values = await c.settings(update_days=args.update_days, update_messages=args.update_messages)
    out.emit(
        values,
        f"self-update every {values['update_days']:g} days or "
        f"{values['update_messages']} messages sent",
    )
