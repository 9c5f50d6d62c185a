"""Rule ids, refusals and decisions.

Every rule of the policy has an id (``policy.<area>.<what>``) and a reason in
plain language. A decision is a value: :data:`ALLOWED` or a :class:`Refusal`
naming the rule that refused, who tried and what. Callers that prefer an
exception use :meth:`Decision.raise_if_refused`, which raises
:class:`PolicyRefused` (a :class:`~cove.protocol.errors.ValidationError`
carrying the decision).

The explanation a client shows members is built locally from the refusal
(handles come from the member's own roster); it is never sent anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import UsageError, ValidationError


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the policy: its id and why it refuses, for members to read."""

    id: str
    reason: str


#: Every rule id of the policy, in the order they are defined.
RULES: Final[dict[str, Rule]] = {}


def rule(rule_id: str, reason: str) -> Rule:
    """Define (register) a rule. Feature modules call this for their own rules."""
    if not rule_id.startswith("policy.") or rule_id in RULES:
        raise UsageError(f"rule id {rule_id!r} is malformed or already defined")
    r = Rule(rule_id, reason)
    RULES[rule_id] = r
    return r


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why something was refused.

    ``actor`` is the handle of who tried (``None`` if not a member), ``action``
    what they tried, in words ("remove ana", "rename the group").
    """

    rule: Rule
    actor: str | None = None
    action: str = ""

    @property
    def rule_id(self) -> str:
        return self.rule.id

    def explain(self) -> str:
        """E.g. ``"cara tried to remove ana — refused: only moderators can remove members"``."""
        who = self.actor if self.actor is not None else "someone outside the group"
        what = f"{who} tried to {self.action}" if self.action else f"{who} was refused"
        return f"{what} — refused: {self.rule.reason}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a policy check: allowed (``refusal is None``) or refused."""

    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def rule_id(self) -> str | None:
        return self.refusal.rule.id if self.refusal is not None else None

    def explain(self) -> str:
        return "allowed" if self.refusal is None else self.refusal.explain()

    def raise_if_refused(self) -> None:
        if self.refusal is not None:
            raise PolicyRefused(self)

    def __bool__(self) -> bool:  # guards against `if decision:` mistakes
        raise UsageError("use decision.allowed, not the decision itself, as a truth value")


ALLOWED: Final = Decision()


def refuse(r: Rule, actor: str | None = None, action: str = "") -> Decision:
    return Decision(Refusal(r, actor, action))


class PolicyRefused(ValidationError):
    """Raised by :meth:`Decision.raise_if_refused`; ``.decision`` holds the refusal."""

    def __init__(self, decision: Decision) -> None:
        assert decision.refusal is not None
        self.decision = decision
        super().__init__(decision.refusal.rule.id, decision.refusal.explain())


__all__ = [
    "ALLOWED",
    "RULES",
    "Decision",
    "PolicyRefused",
    "Refusal",
    "Rule",
    "refuse",
    "rule",
]
