"""Runner for key-schedule.json (RFC 9420 §8, §8.1, §8.3, §8.5, §8.7).

Format: per case ``cipher_suite``, ``group_id``, ``initial_init_secret`` and
``epochs`` (five). Each epoch gives the inputs ``tree_hash``,
``commit_secret``, ``psk_secret``, ``confirmed_transcript_hash`` and the
expected ``group_context`` (encoded, no extensions), ``joiner_secret``,
``welcome_secret``, ``init_secret``, ``sender_data_secret``,
``encryption_secret``, ``exporter_secret``, ``epoch_authenticator``,
``external_secret``, ``confirmation_key``, ``membership_key``,
``resumption_psk``, ``external_pub`` and an ``exporter`` check {``label``,
``context``, ``length``, ``secret``}. Epoch i has epoch number i and starts
from the previous epoch's ``init_secret``.

Note: the exporter ``label`` is used as the ASCII text of the JSON string (the
hex digits themselves), not as the bytes the hex would decode to; ``context``
is hex-decoded. That is how the vectors were generated (the upstream
implementations take the label as a string), and the vector wins.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import suite_for
from cove.protocol.mls.group_context import GroupContext
from cove.protocol.mls.key_schedule import epoch_secrets
from tests.support.vectors import cases, h

SECRETS = (
    "joiner_secret",
    "welcome_secret",
    "init_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "epoch_authenticator",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
)


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("key-schedule.json"))
def test_key_schedule(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    init_secret = h(case["initial_init_secret"])
    for epoch, e in enumerate(case["epochs"]):
        ctx = GroupContext(
            cipher_suite=case["cipher_suite"],
            group_id=h(case["group_id"]),
            epoch=epoch,
            tree_hash=h(e["tree_hash"]),
            confirmed_transcript_hash=h(e["confirmed_transcript_hash"]),
        ).to_bytes()
        assert ctx.hex() == e["group_context"]
        assert GroupContext.from_bytes(ctx).to_bytes() == ctx
        s = epoch_secrets(suite, init_secret, h(e["commit_secret"]), h(e["psk_secret"]), ctx)
        for name in SECRETS:
            assert getattr(s, name).hex() == e[name], name
        assert s.external_pub.hex() == e["external_pub"]
        ex = e["exporter"]
        assert (
            s.exporter(ex["label"].encode(), h(ex["context"]), ex["length"]).hex() == ex["secret"]
        )
        assert "redacted" in repr(s) and e["init_secret"] not in repr(s)
        init_secret = s.init_secret
