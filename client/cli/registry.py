"""The command registry: each command module registers its commands here and the
dispatcher (``cove.client.cli``) finds them, so a feature's commands are one new
module in this package and the dispatcher never changes.

::

    @command("group add", "add members to a group",
             arg("group", help=GROUP_HELP), arg("handles", nargs="+", help="..."))
    async def group_add(client: CoveClient, args: Namespace, out: Output) -> None: ...
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.client.cli.output import Output

if TYPE_CHECKING:
    from cove.client.service import CoveClient

Run = Callable[["CoveClient", Namespace, Output], Awaitable[int | None]]
Setup = Callable[[Namespace, Output], Awaitable[int | None]]


@dataclass(frozen=True, slots=True)
class Arg:
    names: tuple[str, ...]
    options: dict[str, Any]


def arg(*names: str, **options: Any) -> Arg:
    """One argument, as for ``ArgumentParser.add_argument`` (give it a ``help``)."""
    if "help" not in options:
        raise TypeError(f"argument {names[0]} needs a help text")
    return Arg(names, options)


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    help: str
    args: tuple[Arg, ...]
    run: Run | None = None
    #: commands that need no open account (``init``) take (args, out)
    setup: Setup | None = None
    description: str = ""


COMMANDS: dict[tuple[str, ...], Command] = {}
#: help for a word that groups commands ("group" in "group add")
TOPICS: dict[str, str] = {}


def topic(word: str, help: str) -> None:
    TOPICS[word] = help


def command(name: str, help: str, *args: Arg, description: str = "") -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        words = tuple(name.split())
        if words in COMMANDS:
            raise ValueError(f"command '{name}' registered twice")
        COMMANDS[words] = Command(words, help, args, run=run, description=description)
        return run

    return register


def setup_command(
    name: str, help: str, *args: Arg, description: str = ""
) -> Callable[[Setup], Setup]:
    def register(setup: Setup) -> Setup:
        words = tuple(name.split())
        COMMANDS[words] = Command(words, help, args, setup=setup, description=description)
        return setup

    return register
