"""``cove --help`` loads neither aiohttp nor MLS: the client is imported when a command runs.

Checked by the modules present after printing the help in a fresh interpreter, not by
timing it (``bench/bench_table.py`` times it against ``python -c pass``).
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import contextlib, io, json, sys
from cove.client.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _help_run() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_help_does_not_import_aiohttp_or_mls() -> None:
    got = _help_run()
    assert got["code"] == 0
    help_text = got["help"]
    assert isinstance(help_text, str)
    # the real help, with the commands registered by every command module
    for word in ("init", "sync", "listen", "attachment", "group"):
        assert word in help_text
    modules = got["modules"]
    assert isinstance(modules, list)
    heavy = [
        m
        for m in modules
        if m.split(".")[0] in ("aiohttp", "aiosqlite")
        or m.startswith(("cove.protocol.mls", "cove.client.service", "cove.client.store"))
    ]
    assert heavy == []


def test_the_python_api_still_imports_eagerly_named_things() -> None:
    # The lazy package attributes resolve to the real objects.
    from cove.client import CoveClient, SyncReport
    from cove.client.service import CoveClient as Direct
    from cove.client.sync.runner import SyncReport as DirectReport
    from cove.protocol import Group
    from cove.protocol.crypto import suite_for
    from cove.protocol.mls.group import Group as DirectGroup

    assert CoveClient is Direct and SyncReport is DirectReport and Group is DirectGroup
    assert suite_for(1).name.startswith("MLS_128_DHKEMX25519")
