"""The app's routes, one module per feature."""

from __future__ import annotations

from aiohttp import web

from cove.client.app.routes import (
    account,
    attachments,
    group_settings,
    groups,
    invites,
    members,
    people,
    settings,
    threads,
)

FEATURES = (
    account, groups, threads, attachments, members, people, settings, group_settings, invites,
)  # fmt: skip


def setup(app: web.Application) -> None:
    for feature in FEATURES:
        app.router.add_routes(feature.routes)
