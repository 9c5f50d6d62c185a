"""The ``cove`` command: a scriptable front end over :class:`cove.client.CoveClient`.

Global options come before the subcommand: ``cove --home DIR --json read GROUP``.
The passphrase comes from ``COVE_PASSPHRASE`` or a prompt (never an argument,
which would show in process lists). With ``--json`` every command prints one
JSON document; a command that creates something prints its id (``{"id": ...}``).
Exit codes: 0 ok, 1 other error, 2 usage, 3 wrong passphrase, 4 unknown group,
handle or message, 5 not allowed (also: no longer a member), 6 relay unreachable,
7 a member's key changed, 8 no account here, 9 damaged store.

Commands live in the modules of this package, one per command group, and
register themselves (:mod:`.registry`); this module only builds the parser from
the registry and dispatches.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from cove.client.cli.output import Output, default_home, passphrase
from cove.client.cli.registry import COMMANDS, TOPICS, Command
from cove.client.errors import ClientError, NoPermission
from cove.client.service import CoveClient
from cove.client.store import StoreError
from cove.protocol import CoveError
from cove.protocol.policy import PolicyRefused

EXIT_USAGE = 2
EXIT_STORE = 9


def _load_commands() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("__main__", "output", "registry"):
            importlib.import_module(f"{__name__}.{info.name}")


def parser() -> argparse.ArgumentParser:
    _load_commands()
    p = argparse.ArgumentParser(
        prog="cove", description="Cove: end-to-end encrypted support groups"
    )
    p.add_argument(
        "--home", metavar="DIR", help="data folder (default: the platform's user data folder)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    top = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    nested: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for words, cmd in COMMANDS.items():
        if len(words) == 1:
            parent = top
        else:
            if words[0] not in nested:
                g = top.add_parser(
                    words[0], help=TOPICS.get(words[0], ""), description=TOPICS.get(words[0])
                )
                nested[words[0]] = g.add_subparsers(dest="sub", required=True, metavar="SUBCOMMAND")
            parent = nested[words[0]]
        x = parent.add_parser(words[-1], help=cmd.help, description=cmd.description or cmd.help)
        for a in cmd.args:
            x.add_argument(*a.names, **a.options)
        x.set_defaults(cove_command=cmd)
    return p


async def run(args: argparse.Namespace, out: Output) -> int:
    cmd: Command = args.cove_command
    if cmd.setup is not None:
        return await cmd.setup(args, out) or 0
    assert cmd.run is not None
    home = Path(args.home) if args.home else default_home()
    client = await CoveClient.open(home, passphrase())
    async with client:
        return await cmd.run(client, args, out) or 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Output(args.json)
    try:
        return asyncio.run(run(args, out))
    except ClientError as exc:
        return _fail(args, type(exc).__name__, str(exc), exc.exit_code)
    except StoreError as exc:
        return _fail(args, "StoreDamaged", f"the local store failed: {exc}", EXIT_STORE)
    except PolicyRefused as exc:  # the group's policy refused our own action
        return _fail(args, "NoPermission", exc.decision.explain(), NoPermission.exit_code)
    except CoveError as exc:  # a protocol refusal no client error describes better
        return _fail(args, type(exc).__name__, f"refused: {exc}", 1)
    except KeyboardInterrupt:
        return 130


def _fail(args: argparse.Namespace, name: str, message: str, code: int) -> int:
    if args.json:
        print(json.dumps({"error": name, "message": message}))
    print(f"cove: {message}", file=sys.stderr)
    return code


__all__ = ["main", "parser"]
