"""Real MLS groups with open links, for the link-join policy tests: an owner (olga),
a moderator (mona), a member (ana), open and approval links in the join settings,
and newcomers who join by external commit (``Group.join_external``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.identity import CoveCredentialValidator
from cove.protocol.invites import (
    InviteLink,
    JoinSettings,
    LinkEntry,
    LinkMode,
    make_link_join_proof,
    new_invite_link,
    with_join_settings,
)
from cove.protocol.invites.join_settings import JOIN_SETTINGS_EXTENSION
from cove.protocol.mls.group import Group
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal
from cove.protocol.mls.ratchet_tree import RatchetTree
from cove.protocol.policy import (
    Decision,
    PolicyRefused,
    Role,
    group_state,
    initial_extensions,
    set_role_proposals,
)

from .people import CAPS, METADATA, P

NOW = 1_800_000_000
VALIDATOR = CoveCredentialValidator()
RELAY = "https://relay.example.org"


def bundle(name: str, rng: SeededRandom) -> KeyPackageBundle:
    p = P(name)
    return KeyPackageBundle.create(
        1,
        p.identity().credential(),
        rng,
        now=NOW,
        signature_private=p.device_private,
        capabilities=CAPS,
    )


def entry(link: InviteLink, mode: LinkMode, max_uses: int) -> LinkEntry:
    keys = link.keys()
    return LinkEntry(keys.link_id, mode, keys.signing_public, keys.groupinfo_public, max_uses)


@dataclass
class Scene:
    """One group as each member holds it, and its links."""

    rng: SeededRandom
    groups: dict[str, Group]
    open_link: InviteLink
    approval_link: InviteLink
    joined: dict[str, Group] = field(default_factory=dict)

    @property
    def members(self) -> list[Group]:
        return [g for g in self.groups.values() if g.active]

    def g(self, name: str) -> Group:
        return self.groups[name]

    def settings(self, name: str = "olga") -> JoinSettings:
        s = JoinSettings.from_extensions(self.g(name).extensions)
        assert s is not None
        return s

    def used(self, name: str = "olga") -> int:
        e = self.settings(name).link(self.open_link.link_id)
        assert e is not None
        return e.used

    def deliver(self, sender: str, commit: bytes) -> None:
        """``sender``'s commit was accepted by the relay: everyone else processes it."""
        self.g(sender).apply_pending_commit()
        for name, g in self.groups.items():
            if name != sender and g.active:
                g.process(commit)

    def deliver_external(self, commit: bytes) -> None:
        for g in self.members:
            g.process(commit)

    def refused_by_all(self, commit: bytes, skip: str | None = None) -> list[Decision]:
        """Every member refuses ``commit`` and stays exactly where she was."""
        out = []
        for name, g in self.groups.items():
            if name == skip or not g.active:
                continue
            before = g.epoch_state()
            with pytest.raises(PolicyRefused) as caught:
                g.process(commit)
            assert g.epoch_state() == before
            out.append(caught.value.decision)
        assert len({d.rule_id for d in out}) == 1, [d.explain() for d in out]
        return out

    def commit_settings(self, sender: str, settings: JoinSettings) -> None:
        g = self.g(sender)
        exts = with_join_settings(g.extensions, settings)
        out = g.commit([Proposal(GroupContextExtensions(exts))])
        self.deliver(sender, out.commit)

    def proof(
        self,
        name: str,
        *,
        link: InviteLink | None = None,
        host: str = "olga",
        epoch: int | None = None,
        rules: tuple[int, bytes] | None = None,
        no_rules: bool = False,
    ) -> bytes:
        """``name``'s link proof for ``host``'s current epoch (or ``epoch``), accepting
        the current rules (or ``rules``; none with ``no_rules``)."""
        h = self.g(host)
        person = P(name)
        return make_link_join_proof(
            (link or self.open_link).keys(),
            group_id=h.group_id,
            epoch=h.epoch if epoch is None else epoch,
            joiner_signature_key=person.device_key,
            identity_private=person.identity_private,
            rules=None if no_rules else rules or self.settings(host).rules,
        )

    def join(
        self,
        name: str,
        *,
        link: InviteLink | None = None,
        host: str = "olga",
        proof: bytes | None = None,
        remove_leaf: int | None = None,
        rules: tuple[int, bytes] | None = None,
        epoch: int | None = None,
    ) -> tuple[Group, bytes]:
        """``name`` joins from ``host``'s current GroupInfo with a proof for ``link``
        (the open link by default); ``proof`` replaces the proof."""
        h = self.g(host)
        person = P(name)
        if proof is None:
            proof = self.proof(name, link=link, host=host, epoch=epoch, rules=rules)
        group, commit = Group.join_external(
            h.group_info_bytes(),
            person.identity().credential(),
            self.rng,
            signature_private=person.device_private,
            remove_leaf=remove_leaf,
            capabilities=CAPS,
            credential_validator=VALIDATOR,
            authenticated_data=proof,
        )
        return group, commit


def make_scene(*, open_links: bool = True, max_uses: int = 2, with_settings: bool = True) -> Scene:
    """olga (owner) with mona (moderator) and ana (member); an open link with
    ``max_uses`` and an approval link in the join settings, open links ``open_links``."""
    rng = SeededRandom(b"link joins")
    exts = initial_extensions(P("olga").identity_key, METADATA)
    if not with_settings:
        exts = tuple(e for e in exts if e.extension_type != JOIN_SETTINGS_EXTENSION)
    olga = Group.create(
        1,
        b"j" * 16,
        P("olga").identity().credential(),
        rng,
        signature_private=P("olga").device_private,
        extensions=exts,
        capabilities=CAPS,
        credential_validator=VALIDATOR,
        now=NOW,
    )
    bundles = {n: bundle(n, rng) for n in ("mona", "ana")}
    out = olga.add([b.key_package_bytes() for b in bundles.values()], now=NOW)
    olga.apply_pending_commit()
    assert out.welcome is not None
    groups = {"olga": olga}
    for n, b in bundles.items():
        groups[n] = Group.join(out.welcome, b, rng, credential_validator=VALIDATOR)
    open_link = new_invite_link(RELAY, "olga", P("olga").identity_key, rng)
    approval_link = new_invite_link(RELAY, "olga", P("olga").identity_key, rng)
    scene = Scene(rng, groups, open_link, approval_link)
    state = group_state(RatchetTree.from_bytes(olga.suite, olga.ratchet_tree()), olga.extensions)
    promote = set_role_proposals(state, P("mona").identity_key, Role.MODERATOR)
    scene.deliver("olga", olga.commit([Proposal(b) for b in promote]).commit)
    if with_settings:
        settings = dataclasses.replace(
            JoinSettings()
            .with_link(entry(open_link, LinkMode.OPEN, max_uses))
            .with_link(entry(approval_link, LinkMode.APPROVAL, 5)),
            open_links=open_links,
        )
        scene.commit_settings("olga", settings)
    return scene
