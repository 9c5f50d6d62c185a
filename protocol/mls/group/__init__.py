"""The MLS group: one object that follows a group from epoch to epoch (RFC 9420 §8, §11–§14).

::

    Group.create / Group.join (Welcome) / Group.join_external (GroupInfo)
        |
        v
    Group --encrypt(data)--------------------------> PrivateMessage bytes
          --add/remove/update/commit--> CommitOutput (commit, welcome, group_info)
          |      the group is unchanged until apply_pending_commit(); the relay decides
          |      whether this commit is the epoch's (discard_pending_commit() if not)
          --process(message)--> ApplicationMessage | ProposalMessage | AppliedCommit
          --epoch_state() / message_state() / Group.from_state()  (persistence in
          |      two parts: per epoch, and per message; state_serial says when the
          |      epoch part changed)
          --to_bytes() / Group.from_bytes()  (both parts in one blob)

An operation that raises leaves the group exactly as it was, byte for byte
(``to_bytes()`` is unchanged): secret-tree keys used while processing a refused
message are given back (see :meth:`Group._atomic`). Randomness comes from the ``rng`` the
group was given, time from the ``now`` arguments.

Forward secrecy: each epoch's secret tree deletes keys as they are used; the
secrets of an old epoch are kept for at most ``GroupConfig.max_past_epochs``
epochs (for late application messages), then dropped.

Modules: ``config`` (GroupConfig), ``results`` (what the API returns), ``epoch``
(per-epoch state), ``group`` (the Group object), ``building`` (commits we make),
``processing`` (messages we receive), ``joining`` (create, Welcome, external
commit), ``snapshot`` (persistence).
"""

from .config import GroupConfig
from .epoch import EpochKeys, proposal_ref
from .group import Group
from .results import (
    ApplicationMessage,
    AppliedCommit,
    CommitOutput,
    Member,
    ProcessedMessage,
    ProposalMessage,
)

__all__ = [
    "ApplicationMessage",
    "AppliedCommit",
    "CommitOutput",
    "EpochKeys",
    "Group",
    "GroupConfig",
    "Member",
    "ProcessedMessage",
    "ProposalMessage",
    "proposal_ref",
]
