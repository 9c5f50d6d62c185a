"""Import rules (design §2, style reference §8) and the route table."""

from __future__ import annotations

import ast
from pathlib import Path

from cove.protocol.wire.api import ENDPOINTS
from cove.server.config import RelayConfig
from cove.server.http.app import make_app
from cove.server.http.handlers import HANDLERS

ROOT = Path(__file__).resolve().parents[3]


def _imports(folder: Path) -> dict[Path, set[str]]:
    out = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(("." * node.level) + (node.module or ""))
        out[path] = names
    return out


def test_server_never_imports_the_client() -> None:
    for path, names in _imports(ROOT / "server").items():
        assert not any(n.startswith("cove.client") for n in names), path


def test_wire_is_pure() -> None:
    banned = {"asyncio", "socket", "sqlite3", "aiohttp", "aiosqlite", "os", "time", "random"}
    for path, names in _imports(ROOT / "protocol" / "wire").items():
        assert not names & banned, (path, names & banned)
        assert not any(n.startswith(("cove.server", "cove.client")) for n in names), path


def test_handlers_and_domain_do_not_touch_sql() -> None:
    for folder in ("http", "domain"):
        for path, names in _imports(ROOT / "server" / folder).items():
            assert not names & {"aiosqlite", "sqlite3"}, path


def test_every_endpoint_has_a_route(tmp_path: Path) -> None:
    app = make_app(RelayConfig(tmp_path))
    routes = {r.name for r in app.router.routes()}
    assert routes == {ep.name for ep in ENDPOINTS} | {None}
    # the one unnamed route is the catch-all that answers 404/405 through the middleware
    (unnamed,) = [r for r in app.router.routes() if r.name is None]
    assert unnamed.resource is not None and unnamed.resource.canonical == "/{tail}"
    assert set(HANDLERS) == {ep.name for ep in ENDPOINTS if ep.body != "websocket"}
