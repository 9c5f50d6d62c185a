"""Runners for the passive-client files (RFC 9420 §12.1–§12.4, §8.4, §8.7).

Format, shared by passive-client-welcome.json, passive-client-handling-commit.json
and passive-client-random.json: per case ``cipher_suite``, ``key_package``
(MLSMessage), ``signature_priv``, ``encryption_priv``, ``init_priv`` (our
private keys for that KeyPackage), ``welcome`` (MLSMessage), ``ratchet_tree``
(the extension payload, or ``null`` when the tree is in the Welcome),
``external_psks`` (list of {``psk_id``, ``psk``}), ``initial_epoch_authenticator``
and ``epochs``: a list of {``proposals`` (MLSMessages), ``commit`` (MLSMessage),
``epoch_authenticator``}.

We join from the Welcome as a passive member (we never send), compare the
epoch authenticator, then for each epoch process the proposals and the commit
and compare the new epoch authenticator. KeyPackage lifetimes are not checked
(the passive-client-welcome KeyPackages expired in 2024).
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.group import AppliedCommit, Group, ProposalMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from tests.support.vectors import cases, h, private_key


def run_passive_client(case: dict[str, Any]) -> int:
    kp = MLSMessage.from_bytes(h(case["key_package"])).body
    assert isinstance(kp, KeyPackage)
    bundle = KeyPackageBundle.from_private_keys(
        kp,
        private_key(case["cipher_suite"], case["init_priv"]),
        private_key(case["cipher_suite"], case["encryption_priv"]),
        private_key(case["cipher_suite"], case["signature_priv"]),
    )
    psks = {h(p["psk_id"]): h(p["psk"]) for p in case["external_psks"]}
    tree = h(case["ratchet_tree"]) if case["ratchet_tree"] is not None else None
    group = Group.join(
        h(case["welcome"]),
        bundle,
        SeededRandom(b"passive"),
        ratchet_tree=tree,
        external_psks=psks,
    )
    assert group.epoch_authenticator.hex() == case["initial_epoch_authenticator"]
    for epoch in case["epochs"]:
        for proposal in epoch["proposals"]:
            assert isinstance(group.process(h(proposal)), ProposalMessage)
        result = group.process(h(epoch["commit"]))
        assert isinstance(result, AppliedCommit) and not result.removed_me
        assert group.epoch_authenticator.hex() == epoch["epoch_authenticator"]
    return len(case["epochs"])


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("passive-client-welcome.json"))
def test_passive_client_welcome(case: dict[str, Any]) -> None:
    run_passive_client(case)


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("passive-client-handling-commit.json"))
def test_passive_client_handling_commit(case: dict[str, Any]) -> None:
    assert run_passive_client(case) == len(case["epochs"]) > 0


@pytest.mark.vectors
@pytest.mark.slow
@pytest.mark.parametrize("case", cases("passive-client-random.json"))
def test_passive_client_random(case: dict[str, Any]) -> None:
    assert run_passive_client(case) == 200
