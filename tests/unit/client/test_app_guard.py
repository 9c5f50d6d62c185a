"""cove.client.app.security.Guard: the rules every request to the local app passes."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from cove.client.app.security import COOKIE, Guard

PORT = 41234


def guard() -> Guard:
    g = Guard()
    g.port = PORT
    return g


def req(g: Guard, method: str = "GET", path: str = "/", **headers: str) -> web.Request:
    base = {"Host": f"127.0.0.1:{PORT}", "Cookie": f"{COOKIE}={g.session_token}"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return make_mocked_request(method, path, headers={k: v for k, v in base.items() if v})


def test_secrets_are_fresh_long_and_redacted() -> None:
    a, b = guard(), guard()
    assert len({a.launch_secret, a.session_token, a.csrf_token, b.launch_secret}) == 4
    assert all(len(s) == 43 for s in (a.launch_secret, a.session_token, a.csrf_token))
    assert a.launch_secret not in repr(a) and "redacted" in repr(a)
    assert a.opening_url == f"http://127.0.0.1:{PORT}/launch/{a.launch_secret}"


@pytest.mark.parametrize(
    ("method", "headers", "rule"),
    [
        ("GET", {}, None),
        ("GET", {"Host": f"localhost:{PORT}"}, None),
        ("GET", {"Host": "evil.example"}, "host"),
        ("GET", {"Host": f"127.0.0.1:{PORT + 1}"}, "host"),
        ("GET", {"Cookie": ""}, "cookie"),
        ("GET", {"Cookie": f"{COOKIE}=wrong"}, "cookie"),
        ("GET", {"Sec_Fetch_Site": "cross-site"}, "fetch-site"),
        ("GET", {"Sec_Fetch_Site": "same-site"}, "fetch-site"),
        ("GET", {"Sec_Fetch_Site": "none"}, None),
        ("POST", {}, "origin"),
        ("POST", {"Origin": "null"}, "origin"),
        ("POST", {"Origin": f"http://127.0.0.1:{PORT}"}, None),
        ("POST", {"Origin": f"http://127.0.0.1:{PORT}", "Sec_Fetch_Site": "same-site"},
         "fetch-site"),
        ("GET", {"Upgrade": "websocket"}, "origin"),
        ("GET", {"Upgrade": "websocket", "Origin": f"http://localhost:{PORT}"}, None),
    ],
)  # fmt: skip
def test_request_rules(method: str, headers: dict[str, str], rule: str | None) -> None:
    g = guard()
    assert g.problem(req(g, method, **headers)) == rule


def test_the_opening_link_needs_no_cookie_and_may_come_from_elsewhere() -> None:
    g = guard()
    r = req(g, "GET", f"/launch/{g.launch_secret}", Cookie="", Sec_Fetch_Site="cross-site")
    assert g.problem(r) is None
    assert g.problem(req(g, "POST", "/launch/x", Cookie="")) == "origin"


def test_the_opening_link_works_once() -> None:
    async def main() -> None:
        g = guard()
        launched = []
        g.on_launch = lambda: launched.append(True)
        wrong = make_mocked_request("GET", "/launch/nope", match_info={"secret": "nope"})
        assert (await g.launch(wrong)).status == 403
        assert not g.launched
        good = make_mocked_request(
            "GET", f"/launch/{g.launch_secret}", match_info={"secret": g.launch_secret}
        )
        first = await g.launch(good)
        assert first.status == 200 and launched == [True]
        morsel = first.cookies[COOKIE]
        assert morsel.value == g.session_token
        assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
        again = await g.launch(good)
        assert again.status == 403 and launched == [True]

    asyncio.run(main())


def test_csrf_tokens_compare_exactly() -> None:
    g = guard()
    assert g.check_csrf(g.csrf_token)
    assert not g.check_csrf(None)
    assert not g.check_csrf("")
    assert not g.check_csrf(g.csrf_token[:-1])
    assert not g.check_csrf(g.session_token)


def test_content_security_policy_is_strict() -> None:
    csp = guard().csp()
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert f"ws://127.0.0.1:{PORT}" in csp
