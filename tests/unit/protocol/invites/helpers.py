"""Shared builders for the invites tests: people, a group's join settings, links."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.identity import CoveIdentity
from cove.protocol.invites import (
    HistoryLevel,
    IntakeKeyPair,
    InviteLink,
    JoinSettings,
    LinkEntry,
    LinkMode,
    LinkPreview,
    derive_intake_key,
    new_invite_link,
    rules_hash,
)
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

ED = suite_for(1)
NOW = 1_767_225_600  # 2026-01-01
RELAY = "https://relay.example.org"
GROUP_ID = bytes(range(32))
RULES_SALT = bytes(range(100, 116))
RULES_TEXT = "Be kind. What is shared here stays here."


@dataclass(frozen=True)
class Person:
    handle: str
    identity_private: bytes
    identity_key: bytes
    bundle: KeyPackageBundle

    @property
    def key_package(self) -> bytes:
        return self.bundle.key_package_bytes()

    @property
    def signature_key(self) -> bytes:
        return self.bundle.key_package.leaf_node.signature_key


def person(handle: str, seed: int) -> Person:
    rng = SeededRandom(f"person {handle} {seed}")
    identity_private, identity_key = ED.generate_signature_key_pair(rng)
    device_private, device_key = ED.generate_signature_key_pair(rng)
    ident = CoveIdentity.create(handle, identity_private, device_key)
    bundle = KeyPackageBundle.create(
        1, ident.credential(), rng, now=NOW, signature_private=device_private
    )
    return Person(handle, identity_private, identity_key, bundle)


def intake(generation: int = 1) -> IntakeKeyPair:
    return derive_intake_key(
        ED.hash(b"moderators' group exporter" + bytes([generation])), generation
    )


def current_rules() -> tuple[int, bytes]:
    return 1, rules_hash(GROUP_ID, 1, RULES_SALT, RULES_TEXT)


def link_for(inviter: Person, seed: int = 7) -> InviteLink:
    return new_invite_link(
        RELAY, inviter.handle, inviter.identity_key, SeededRandom(f"link {seed}")
    )


def entry_for(link: InviteLink, mode: LinkMode, max_uses: int = 3, used: int = 0) -> LinkEntry:
    keys = link.keys()
    return LinkEntry(link.link_id, mode, keys.signing_public, keys.groupinfo_public, max_uses, used)


def settings_with(*entries: LinkEntry, open_links: bool = True, rules: bool = True) -> JoinSettings:
    version, hash_ = current_rules() if rules else (0, b"")
    return JoinSettings(
        history=HistoryLevel.TITLES,
        open_links=open_links,
        rules_version=version,
        rules_hash=hash_,
        intake=intake().public,
        links=entries,
    )


def preview_for(
    link: InviteLink, inviter: Person, mode: LinkMode = LinkMode.APPROVAL
) -> LinkPreview:
    return LinkPreview(
        group_id=GROUP_ID,
        link_id=link.link_id,
        mode=mode,
        group_name="Living with lupus",
        description="A place to share what helps.",
        rules_version=1,
        rules_salt=RULES_SALT,
        rules_text=RULES_TEXT,
        questions=("How did you hear about us?", "What would you like from the group?")
        if mode == LinkMode.APPROVAL
        else (),
        history=HistoryLevel.TITLES,
        welcome_message="Welcome! Say hello in the introductions thread.",
        inviter_handle=inviter.handle,
        inviter_identity_key=inviter.identity_key,
        intake=intake().public if mode == LinkMode.APPROVAL else None,
        max_uses=3,
        expires_at=NOW + 7 * 86400,
        created_at=NOW,
    )


__all__ = [
    "ED",
    "GROUP_ID",
    "NOW",
    "RELAY",
    "RULES_SALT",
    "RULES_TEXT",
    "Person",
    "current_rules",
    "entry_for",
    "intake",
    "link_for",
    "person",
    "preview_for",
    "replace",
    "settings_with",
]
