"""Known answers for docs/protocol/invites.md, from a deterministic RNG.

The values are recomputed here and must appear, line for line, in the page's
"Test vectors" section; a few are also rebuilt from the page's formulas with
``cryptography``'s primitives directly. To print the block after a deliberate
format change: ``.venv/bin/python -m tests.unit.protocol.invites.test_vectors``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.identity import CoveIdentity
from cove.protocol.invites import (
    ExternalJoin,
    HistoryBundle,
    HistoryItem,
    HistoryLevel,
    JoinSettings,
    LinkEntry,
    LinkMode,
    LinkPreview,
    check_external_join,
    derive_intake_key,
    make_join_request,
    make_link_join_proof,
    new_invite_link,
    open_join_request,
    open_preview,
    parse_invite_link,
    rules_hash,
    seal_preview,
    sign_acceptance,
)
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

DOC = Path(__file__).resolve().parents[4] / "docs" / "protocol" / "invites.md"
ED = suite_for(1)
ANA_PRIVATE = bytes([1]) * 32
NIA_PRIVATE = bytes([2]) * 32
GROUP_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
NOW = 1_767_225_600


def vectors() -> list[tuple[str, str]]:
    rng = SeededRandom("cove invites vectors")
    ana_key = ED.signature_public_key(ANA_PRIVATE)
    nia_key = ED.signature_public_key(NIA_PRIVATE)
    link = new_invite_link("https://relay.example.org", "ana", ana_key, rng)
    keys = link.keys()
    salt = bytes(range(16))
    r_hash = rules_hash(GROUP_ID, 1, salt, "Be kind.")
    intake = derive_intake_key(bytes(32), 1)
    preview = LinkPreview(
        group_id=GROUP_ID,
        link_id=link.link_id,
        mode=LinkMode.APPROVAL,
        group_name="Lupus circle",
        description="",
        rules_version=1,
        rules_salt=salt,
        rules_text="Be kind.",
        questions=("Who told you about us?",),
        history=HistoryLevel.TITLES,
        welcome_message="Welcome!",
        inviter_handle="ana",
        inviter_identity_key=ana_key,
        intake=intake.public,
        max_uses=10,
        expires_at=NOW + 604800,
        created_at=NOW,
    )
    sealed_preview = seal_preview(preview, link, ANA_PRIVATE, rng)
    assert open_preview(sealed_preview, link) == preview
    entry = LinkEntry(
        link.link_id, LinkMode.APPROVAL, keys.signing_public, keys.groupinfo_public, 10
    )
    settings = JoinSettings(HistoryLevel.TITLES, False, 1, r_hash, intake.public, (entry,))
    nia_device_private, nia_device = ED.generate_signature_key_pair(rng)
    nia = CoveIdentity.create("nia", NIA_PRIVATE, nia_device)
    bundle = KeyPackageBundle.create(
        1, nia.credential(), rng, now=NOW, signature_private=nia_device_private
    )
    pending = make_join_request(
        preview,
        link,
        handle="nia",
        identity_private=NIA_PRIVATE,
        key_package=bundle.key_package_bytes(),
        answers=("My doctor.",),
        now=NOW,
        rng=rng,
    )
    assert (
        open_join_request(
            pending.sealed,
            {1: intake},
            group_id=GROUP_ID,
            settings=settings,
            questions=preview.questions,
        )
        == pending.request
    )
    open_settings = JoinSettings(
        HistoryLevel.NOTHING,
        True,
        1,
        r_hash,
        None,
        (LinkEntry(link.link_id, LinkMode.OPEN, keys.signing_public, keys.groupinfo_public, 10),),
    )
    proof = make_link_join_proof(
        keys,
        group_id=GROUP_ID,
        epoch=5,
        joiner_signature_key=nia_device,
        identity_private=NIA_PRIVATE,
        rules=(1, r_hash),
    )
    assert (
        check_external_join(
            open_settings,
            ExternalJoin(GROUP_ID, 5, nia_device, nia_key, proof),
            members=frozenset(),
            banned=frozenset(),
            pending_link_join=None,
        )
        == link.link_id
    )
    history = HistoryBundle(
        GROUP_ID,
        nia_key,
        HistoryLevel.FULL,
        9,
        (HistoryItem(9, NOW, ana_key, "ana", b"\x00" * 512),),
    )
    return [
        ("link_url", link.url),
        ("secret", link.secret.hex()),
        ("inviter_pin", link.pin.hex()),
        ("link_id", keys.link_id.hex()),
        ("preview_key", keys.preview_key.hex()),
        ("capability", keys.capability.hex()),
        ("capability_verifier", keys.capability_verifier.hex()),
        ("groupinfo_public", keys.groupinfo_public.hex()),
        ("signing_public", keys.signing_public.hex()),
        ("rules_hash", r_hash.hex()),
        ("acceptance", sign_acceptance(NIA_PRIVATE, GROUP_ID, 1, r_hash).hex()),
        ("intake_public", intake.public_key.hex()),
        ("join_settings", settings.to_bytes().hex()),
        ("preview_length", str(len(preview.to_bytes()))),
        ("preview_sha256", hashlib.sha256(preview.to_bytes()).hexdigest()),
        ("sealed_preview_length", str(len(sealed_preview))),
        ("sealed_preview_sha256", hashlib.sha256(sealed_preview).hexdigest()),
        ("join_request_length", str(len(pending.request.to_bytes()))),
        ("join_request_sha256", hashlib.sha256(pending.request.to_bytes()).hexdigest()),
        ("sealed_request_length", str(len(pending.sealed))),
        ("sealed_request_sha256", hashlib.sha256(pending.sealed).hexdigest()),
        ("link_join_proof", proof.hex()),
        ("history_bundle", history.to_bytes()[:80].hex() + "…"),
        ("history_bundle_sha256", hashlib.sha256(history.to_bytes()).hexdigest()),
    ]


def test_doc_quotes_every_vector() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name, value in vectors() if f"{name} = {value}" not in text]
    assert not missing, f"docs/protocol/invites.md lacks or disagrees on: {missing}"


def test_link_keys_from_the_page_formulas() -> None:
    values = dict(vectors())
    link = parse_invite_link(values["link_url"])
    ikm = bytes.fromhex(values["secret"]) + bytes.fromhex(values["inviter_pin"])
    prk = hmac.digest(b"cove invite link v1", ikm, "sha256")

    def k(label: str, n: int) -> bytes:
        return HKDFExpand(hashes.SHA256(), n, b"cove link " + label.encode()).derive(prk)

    assert k("id", 10) == link.link_id
    assert k("preview key", 32).hex() == values["preview_key"]
    assert k("capability", 32).hex() == values["capability"]
    verifier = hashlib.sha256(b"cove link capability verifier v1" + k("capability", 32)).hexdigest()
    assert verifier == values["capability_verifier"]
    signing = (
        Ed25519PrivateKey.from_private_bytes(k("signing key", 32)).public_key().public_bytes_raw()
    )
    assert signing.hex() == values["signing_public"]
    pin = hashlib.sha256(
        b"cove fingerprint v1" + b"\x03ana\x20" + ED.signature_public_key(ANA_PRIVATE)
    ).digest()
    assert pin[:10].hex() == values["inviter_pin"]


def test_doc_lists_every_rule_with_its_reason() -> None:
    from cove.protocol.invites import RULES

    text = DOC.read_text(encoding="utf-8")
    for rule_id, reason in RULES.items():
        row = f"| `{rule_id}` | {reason} |"
        assert row in text, rule_id


def test_every_rule_is_asserted_by_a_test() -> None:
    from cove.protocol.invites import RULES

    here = Path(__file__).parent
    tests = "".join(
        p.read_text(encoding="utf-8")
        for p in here.glob("test_*.py")
        if p.name != Path(__file__).name
    )
    missing = [rule_id for rule_id in RULES if f'"{rule_id}"' not in tests]
    assert not missing, missing


if __name__ == "__main__":  # pragma: no cover - prints the block for the doc
    for name, value in vectors():
        print(f"{name} = {value}")
