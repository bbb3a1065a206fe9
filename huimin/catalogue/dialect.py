"""Regional and colloquial words read as plain Mandarin before the resolver looks at a question.

Citizens ask "社保卡在哪哈儿补办" or "要带啥子"; the aspect vocabulary and the catalogue's text
are plain Mandarin. `policies/_dialect.yml` (data ops staff edit) maps each regional word to
its plain form, so one plain phrasing covers its dialect variants instead of every variant being
listed per aspect. Policy names are matched on the citizen's own words first; this reading is
for the aspect asked and for retrieval.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from huimin.catalogue.data_file import load_checked

DIALECT_FILE: Final[Path] = Path(__file__).resolve().parents[2] / "policies" / "_dialect.yml"

_Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8)]
_Char = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1)]


class _DialectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: dict[_Word, _Word]
    characters: dict[_Char, _Char] = {}

    @field_validator("characters")
    @classmethod
    def _simplified_are_simplified(cls, value: dict[str, str]) -> dict[str, str]:
        # A simplified character that is itself listed would be converted twice, or not.
        for traditional, simple in value.items():
            if simple in value or traditional == simple:
                raise ValueError(f"'{traditional}' -> '{simple}': '{simple}' is itself listed")
            if not all("\u4e00" <= ch <= "\u9fff" for ch in traditional + simple):
                raise ValueError(f"'{traditional}' -> '{simple}': not Chinese characters")
        return value

    @field_validator("words")
    @classmethod
    def _plain_words_are_plain(cls, value: dict[str, str]) -> dict[str, str]:
        # A plain word that is itself rewritten would make the reading depend on the order.
        for regional, plain in value.items():
            if plain in value:
                raise ValueError(f"'{regional}' -> '{plain}': '{plain}' is itself listed")
            if regional == plain:
                raise ValueError(f"'{regional}' maps to itself")
        return value


def load_dialect(path: Path = DIALECT_FILE) -> dict[str, str]:
    """The regional word -> plain word table; raises ValueError naming the file and field."""
    return dict(load_checked(path, _DialectFile, "dialect words").words)


def load_traditional(path: Path = DIALECT_FILE) -> dict[str, str]:
    """The traditional -> simplified character table; raises ValueError naming the file."""
    return dict(load_checked(path, _DialectFile, "dialect words").characters)


@lru_cache(maxsize=4)
def _simplifier(path: Path) -> dict[int, str]:
    return str.maketrans(load_traditional(path))


def simplified(text: str, path: Path = DIALECT_FILE) -> str:
    """`text` with its traditional characters written simplified ("創業補貼" -> "创业补贴"):
    names, regional words and departments' matters are all listed simplified."""
    return text.translate(_simplifier(path))


@lru_cache(maxsize=4)
def _pattern(path: Path) -> tuple[re.Pattern[str], dict[str, str]]:
    table = load_dialect(path)
    words = sorted(table, key=len, reverse=True)  # longest first: 咋个整 before 咋个 before 咋
    return re.compile("|".join(map(re.escape, words))), table


def plain(text: str, path: Path = DIALECT_FILE) -> str:
    """`text` with each regional word replaced by its plain Mandarin form."""
    pattern, table = _pattern(path)
    return pattern.sub(lambda m: table[m.group(0)], simplified(text, path))
