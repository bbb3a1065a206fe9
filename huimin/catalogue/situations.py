"""Everyday situations citizens describe instead of naming a policy ("干活的时候手被机器压了
单位不管" is 工伤认定, "没工作了能领钱吗" is 失业保险金).

No alias can hold every way of telling what happened, and retrieval over the catalogue's text
finds too little in such words to answer (or finds the previous turn's policy). The situations
are data (`policies/_situations.yml`): word groups that must all be present, read here; the
resolver asks `policy_for` only when the question names no policy and no other department's
matter. A follow-up that tells a new situation is thereby a new topic, never the previous one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from huimin.catalogue.data_file import PolicyKey, load_checked

SITUATIONS_FILE: Final[Path] = (
    Path(__file__).resolve().parents[2] / "policies" / "_situations.yml"
)

_Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12,
                                         pattern=r"^[^\s…]+(…[^\s…]+)?$")]
# "老伴…走了": the two parts in this order, at most this many characters between them.
NEAR: Final[int] = 8


@lru_cache(maxsize=4096)
def _pattern(word: str) -> re.Pattern[str]:
    return re.compile(f".{{0,{NEAR}}}".join(re.escape(part) for part in word.split("…")))


def said(word: str, text: str) -> bool:
    """`word` is in `text`; a word "A…B" is A followed closely by B, for a phrase that a story
    splits ("老伴上个月走了" is a death, "小刘调走了" is not: bare 走了 is too loose)."""
    return word in text if "…" not in word else _pattern(word).search(text) is not None
_Group = Annotated[list[_Word], Field(min_length=1)]


class Situation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: PolicyKey
    all: Annotated[list[_Group], Field(min_length=1)]

    def holds(self, text: str) -> bool:
        return all(any(said(word, text) for word in group) for group in self.all)

    def words_found(self, text: str) -> list[str]:
        """The words of its groups that `text` holds."""
        return [word for group in self.all for word in group if said(word, text)]

    def reads_as_its_own(self, words: list[str], text: str, asked: str | None = None) -> bool:
        """Every one of another department's matter `words` that `asked` (by default the
        whole `text`) holds lies inside a word this situation found in `text`: the situation
        tells them as part of a 人社 matter (丧事 in "办丧事的钱" is the funeral grant's)."""
        found = self.words_found(text)
        held = [w for w in words if w in (text if asked is None else asked)]
        return bool(held) and all(any(w in f for f in found) for w in held)


class Situations(BaseModel):
    """policies/_situations.yml: every field required, no unknown field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    situations: Annotated[list[Situation], Field(min_length=1)]

    def told(self, text: str) -> Situation | None:
        """The first situation `text` tells, else None."""
        return next((s for s in self.situations if s.holds(text)), None)

    def policy_for(self, text: str) -> str | None:
        """The policy key of the first situation `text` tells, else None."""
        told = self.told(text)
        return told.policy if told is not None else None

    def policy_keys(self) -> list[tuple[str, str]]:
        """(field, key) for every policy key the file names, for the catalogue's check."""
        return [(f"situations[{i}].policy", s.policy) for i, s in enumerate(self.situations)]


@lru_cache(maxsize=4)
def load_situations(path: Path = SITUATIONS_FILE) -> Situations:
    """The situation rules; raises ValueError naming the file and field when wrong."""
    return load_checked(path, Situations, "situations")
