"""The join settings extension (0xF0C2) inside the commit policy: moderators manage
links, rules and history; only owners switch open links; nobody drops or garbles it."""

from __future__ import annotations

import dataclasses

from cove.protocol.invites import (
    JOIN_SETTINGS_EXTENSION,
    HistoryLevel,
    JoinSettings,
    LinkEntry,
    LinkMode,
)
from cove.protocol.mls.extensions import Extension, ExtensionType, RequiredCapabilities
from cove.protocol.mls.proposals import GroupContextExtensions
from cove.protocol.policy import authorize_commit

from .people import World, refused

LINK = LinkEntry(b"L" * 10, LinkMode.APPROVAL, b"v" * 32, b"g" * 32, max_uses=5)


def settings_gce(w: World, settings: JoinSettings | bytes | None) -> GroupContextExtensions:
    exts = [e for e in w.extensions if e.extension_type != JOIN_SETTINGS_EXTENSION]
    if settings is not None:
        data = settings if isinstance(settings, bytes) else settings.to_bytes()
        exts.append(Extension(JOIN_SETTINGS_EXTENSION, data))
    return GroupContextExtensions(tuple(exts))


def with_settings(w: World, settings: JoinSettings) -> World:
    return dataclasses.replace(w, extensions=settings_gce(w, settings).extensions)


def test_moderators_manage_links_history_and_rules() -> None:
    w = World.make()
    s = JoinSettings()
    for change in (
        s.with_link(LINK),
        dataclasses.replace(s, history=HistoryLevel.FULL),
        s.with_rules(b"h" * 32),
    ):
        decision = authorize_commit(w.state, w.commit("mona", settings_gce(w, change)))
        assert decision.allowed, decision.explain()


def test_members_may_not_change_join_settings() -> None:
    w = World.make()
    change = settings_gce(w, JoinSettings().with_link(LINK))
    decision = authorize_commit(w.state, w.commit("ana", change))
    text = refused(decision, "policy.join.settings.not_allowed")
    assert text == (
        "ana tried to change how people join the group — refused: "
        "only moderators may change links, rules and history"
    )


def test_only_owners_switch_open_links() -> None:
    w = World.make()
    on = settings_gce(w, dataclasses.replace(JoinSettings(), open_links=True))
    refused(authorize_commit(w.state, w.commit("mona", on)), "policy.join.settings.owner_only")
    assert authorize_commit(w.state, w.commit("olga", on)).allowed


def test_settings_cannot_be_removed_or_garbled() -> None:
    w = World.make()
    refused(
        authorize_commit(w.state, w.commit("olga", settings_gce(w, None))),
        "policy.join.settings.removed",
    )
    refused(
        authorize_commit(w.state, w.commit("olga", settings_gce(w, b"\x07garbage"))),
        "policy.join.settings.malformed",
    )


def test_rules_need_the_next_version() -> None:
    w = World.make()
    skipped = dataclasses.replace(JoinSettings(), rules_version=2, rules_hash=b"h" * 32)
    refused(
        authorize_commit(w.state, w.commit("mona", settings_gce(w, skipped))),
        "policy.join.settings.rules_version",
    )


def test_use_counts_never_shrink_and_link_keys_never_change() -> None:
    w = with_settings(World.make(), JoinSettings().with_link(dataclasses.replace(LINK, used=2)))
    base = JoinSettings().with_link(dataclasses.replace(LINK, used=2))
    shrunk = base.with_link(dataclasses.replace(LINK, used=1))
    rekeyed = base.with_link(dataclasses.replace(LINK, used=2, verify_key=b"w" * 32))
    fresh_used = base.with_link(dataclasses.replace(LINK, link_id=b"M" * 10, used=1))
    for bad in (shrunk, rekeyed, fresh_used):
        refused(
            authorize_commit(w.state, w.commit("mona", settings_gce(w, bad))),
            "policy.join.settings.count_wrong",
        )


def test_join_settings_stay_required_once_required() -> None:
    w = World.make()
    dropped = RequiredCapabilities((0xF0C0, 0xF0C1))  # without 0xF0C2
    exts = tuple(
        Extension(ExtensionType.REQUIRED_CAPABILITIES, dropped.to_bytes())
        if e.extension_type == ExtensionType.REQUIRED_CAPABILITIES
        else e
        for e in w.extensions
    )
    refused(
        authorize_commit(w.state, w.commit("olga", GroupContextExtensions(exts))),
        "policy.extension.not_required",
    )
