"""Questions that name one policy but ask about its neighbour ("工伤认定下来以后能赔多少").

Neighbouring policies follow one another in a citizen's life: 工伤认定 comes before 工伤保险待遇,
失业登记 before 失业保险金, 劳动争议调解 before 劳动人事争议仲裁. A citizen names the step they
have taken and asks about the next ("…认定下来以后能赔多少": the compensation), so the name
alone would answer the wrong step. Which words ask about the neighbour is data
(`policies/_handovers.yml`), read here; the resolver asks `handed_to` only when the question
names exactly one policy.

Only the part that asks is read: the words after the last name said, up to and including the
first clause that asks an aspect. The story before the name ("想拿工伤赔偿 先得…工伤认定在哪
申请") and a remark after the question ("工伤认定要多久 认定完才能赔吧") keep the name.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from huimin.catalogue.data_file import PolicyKey, Word, Words, load_checked
from huimin.catalogue.schema import Policy
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import asking_part

HANDOVERS_FILE: Final[Path] = Path(__file__).resolve().parents[2] / "policies" / "_handovers.yml"


class Handover(BaseModel):
    """From the policy named to its neighbour when the part that asks holds one of `words`
    and none of `unless` (words that keep the question on the policy named)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: PolicyKey = Field(alias="from")
    to: PolicyKey
    words: Words
    unless: list[Word] = []

    @model_validator(mode="after")
    def _to_another(self) -> Handover:
        if self.to == self.from_:
            raise ValueError(f"'to' repeats 'from' ({self.to}): a hand-over goes to another policy")
        return self


class Handovers(BaseModel):
    """policies/_handovers.yml: every field checked, no unknown field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handovers: list[Handover]

    def handed_to(self, policy: Policy, text: str) -> str | None:
        """The key of the neighbour `text` asks about although it names `policy`, else None."""
        rules = [r for r in self.handovers if r.from_ == policy.key]
        if not rules:
            return None
        part = asking_part(text, after=[normalise(n) for n in policy.names])
        if not part:
            return None
        for rule in rules:
            if any(normalise(w) in part for w in rule.words) and not any(
                normalise(w) in part for w in rule.unless
            ):
                return rule.to
        return None

    def policy_keys(self) -> list[tuple[str, str]]:
        """(field, key) for every policy key the file names, for the catalogue's check."""
        named: list[tuple[str, str]] = []
        for i, rule in enumerate(self.handovers):
            named += [(f"handovers[{i}].from", rule.from_), (f"handovers[{i}].to", rule.to)]
        return named


@lru_cache(maxsize=4)
def load_handovers(path: Path = HANDOVERS_FILE) -> Handovers:
    """The hand-over rules; raises ValueError naming the file and field when wrong."""
    return load_checked(path, Handovers, "hand-over rules")
