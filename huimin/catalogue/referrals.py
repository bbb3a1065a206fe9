"""Referrals: matters citizens bring to the 人社 assistant that another department handles.

`referrals/<key>.yml`, one file per department, is data ops staff edit (see
referrals/README.md). A referral is never a 人社 policy: its reply names the department and
how to reach it, nothing more.

    table = load_referrals("referrals")
    found = table.match("低保怎么申请")   # -> Match(department=..., matter=...)
    found.reply                           # "这件事由惠民市民政局负责：..."
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from huimin.catalogue.situations import said
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import DOMAIN_WORDS, asking_part

# Department key -> the short name every reply for it must contain (the citizen recognises
# the department by it).
SHORT_NAMES: Final[dict[str, str]] = {
    "civil_affairs": "民政",
    "medical_insurance": "医保",
    "housing_fund": "公积金",
    "tax": "税务",
    "public_security": "公安",
    "disabled_federation": "残联",
    "health": "卫健",
    "education": "教育",
    "market_regulation": "市场监管",
    "housing": "住建",
    "hotline_12345": "12345",
}
# Every referral reply says so; the conversation log counts referrals by it.
REFERRAL_MARK: Final[str] = "不属于人社部门的业务"
DepartmentKey = Literal[
    "civil_affairs", "medical_insurance", "housing_fund", "tax", "public_security",
    "disabled_federation", "health", "education", "market_regulation", "housing",
    "hotline_12345",
]  # fmt: skip

_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
# A word, or a phrase "A…B" (A followed closely by B) that a question splits.
_Word = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=12, pattern=r"^[^\s…]+(…[^\s…]+)?$"
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matter(_Strict):
    """One matter of a department. `unless`: words that tell a 人社 matter in which this
    matter's words are only part of the story ("工伤" beside 医院: a work injury treated in
    hospital is 人社's 工伤, not 卫健's); a question holding one is not this matter.
    `names_department`: the words only name the department ("民政局", "卫健委"); a situation
    told outweighs them, as it outweighs the 12345 catch-all ("下岗了是去民政局还是人社局登记")."""

    topic: _Line
    words: list[_Word] = Field(min_length=1)
    answer: _Line
    unless: list[_Word] = Field(default_factory=list)  # words or phrases "A…B"
    names_department: bool = False


class Department(_Strict):
    key: DepartmentKey
    department: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=30)
    ]
    contact: _Line
    matters: list[Matter] = Field(min_length=1)

    @field_validator("department")
    @classmethod
    def _names_the_department(cls, value: str, info: ValidationInfo) -> str:
        short = SHORT_NAMES.get(info.data.get("key", ""), "")
        if short not in value:
            raise ValueError(f"must contain '{short}' so citizens recognise the department")
        return value


@dataclass(frozen=True)
class Match:
    department: Department
    matter: Matter

    @property
    def reply(self) -> str:
        """One short reply: who handles it and how to reach them; never a 人社 policy."""
        return (
            f"这件事由{self.department.department}负责，{REFERRAL_MARK}。\n"
            f"{self.matter.answer}\n联系方式：{self.department.contact}"
        )

    @property
    def yields_to_situation(self) -> bool:
        """A situation told outweighs this match: the 12345 catch-all is for what no
        department, 人社 included, handles, and a department's name alone says no matter."""
        return self.department.key == "hotline_12345" or self.matter.names_department


# Words a question puts inside a matter's name ("户口怎么注销" for 户口注销, "医保要去报销"
# for 医保报销, "户口想迁到" for 户口迁): a referral word also matches the question read
# without them.
_DOMAIN_TERMS: Final[tuple[str, ...]] = tuple(w for w in DOMAIN_WORDS if len(w) >= 2)
_QUESTION_WORDS = re.compile("怎么|如何|怎样|咋个|咋|啷个|要|去|该|能|可以|想|的")


def _stands_alone(word: str, text: str) -> bool:
    """`word` occurs in `text` and not only across the edge of a domain word: "领养" (adoption)
    in "领养老金" is 领 + 养老金."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if not any(_straddles(start, end, text, term) for term in _DOMAIN_TERMS):
            return True
        start = text.find(word, start + 1)
    return False


def _straddles(start: int, end: int, text: str, term: str) -> bool:
    """An occurrence of `term` overlaps [start, end) in part, neither holding the other."""
    at = text.find(term, max(0, start - len(term) + 1))
    while 0 <= at < end:
        if at + len(term) > start:
            inside = start <= at and at + len(term) <= end
            holds = at <= start and end <= at + len(term)
            if not inside and not holds:
                return True
        at = text.find(term, at + 1)
    return False


def _plain_word(word: str) -> str:
    """A referral word as questions are compared: normalised, a phrase "A…B" kept split."""
    return "…".join(normalise(part) for part in word.split("…"))


def _length(word: str) -> int:
    """How much of a question a word covers: "身份证…到期" counts as 身份证到期."""
    return len(word) - word.count("…")


def _found(word: str, plain: str, bare: str) -> bool:
    """`word` is in the question (normalised `plain`, or `bare` without question words); a
    phrase "A…B" is A followed closely by B ("身份证还有一个月到期": 身份证…到期), as in the
    situations file."""
    if "…" in word:
        return said(word, plain) or said(word, bare)
    return _stands_alone(word, plain) or _stands_alone(word, bare)


class ReferralTable:
    """Every referral word, longest first, so the most specific matter wins."""

    def __init__(self, departments: list[Department]) -> None:
        self.departments = {d.key: d for d in departments}
        pairs = [(_plain_word(w), d, m) for d in departments for m in d.matters for w in m.words]
        self._words = sorted(pairs, key=lambda p: -_length(p[0]))

    def __len__(self) -> int:
        return len(self.departments)

    def words(self) -> list[str]:
        return [word for word, _, _ in self._words]

    def match(self, text: str) -> Match | None:
        """The matter of the longest word found; between words of equal length, the
        department more of whose words the text holds ("看病押金医保能垫付吗": 医保 and 垫付
        beat 看病). A named department beats the 12345 catch-all ("养老院找哪个部门")."""
        plain = normalise(text)
        bare = _QUESTION_WORDS.sub("", plain)
        found = [
            (word, Match(d, m)) for word, d, m in self._words
            if word and _found(word, plain, bare)
            and not any(said(_plain_word(w), plain) for w in m.unless)
        ]  # fmt: skip
        if not found:
            return None
        named = [f for f in found if f[1].department.key != "hotline_12345"] or found
        covered: dict[str, int] = {}
        for word, match in named:
            key = match.department.key
            covered[key] = covered.get(key, 0) + _length(word)
        # Then a word of the part that asks: older citizens tell their story before they ask
        # ("门诊看病开药花钱太多了…办个慢病卡能多报点": 看病 is the story, 慢病 the 医保 matter).
        # `named` is longest word first and stable, so max() keeps the earlier on a full tie.
        part = normalise(asking_part(text))
        bare_part = _QUESTION_WORDS.sub("", part)
        best = max(named, key=lambda f: (
            _length(f[0]), covered[f[1].department.key], _found(f[0], part, bare_part),
        ))  # fmt: skip
        return best[1]

    def words_said(self, text: str, match: Match) -> list[str]:
        """The words of `match`'s matter that `text` says, as `match` finds them: what made
        the text another department's matter (a follow-up may say them of the policy being
        discussed, "要带营业执照吗" after 一次性创业补贴)."""
        plain = normalise(text)
        bare = _QUESTION_WORDS.sub("", plain)
        return [word for word, _, m in self._words
                if m is match.matter and word and _found(word, plain, bare)]

    def general(self) -> Department | None:
        """The catch-all (the 12345 hotline), for questions no department claims."""
        return self.departments.get("hotline_12345")


class ReferralError(ValueError):
    """Invalid referral files; `problems` has one line per problem naming file and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid referrals:\n" + "\n".join(problems))


def load_referrals(directory: str | Path) -> ReferralTable:
    """Read and check every `referrals/*.yml`; raise ReferralError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReferralError([f"{directory}: referral folder not found"])
    problems: list[str] = []
    departments: list[Department] = []
    owner: dict[str, str] = {}
    for path in sorted(directory.glob("*.yml")):
        label = f"{directory.name}/{path.name}"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            department = Department.model_validate(data)
        except yaml.YAMLError as exc:
            problems.append(f"{label}: not valid YAML: {getattr(exc, 'problem', exc)}")
            continue
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(whole file)"
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{label}: field '{field}': {msg}")
            continue
        if department.key != path.stem:
            problems.append(f"{label}: field 'key': '{department.key}' must match the file name")
            continue
        for matter in department.matters:
            for word in matter.words:
                norm = _plain_word(word)
                if owner.setdefault(norm, label) != label:
                    problems.append(f"{label}: field 'words': '{word}' is also in {owner[norm]}")
        departments.append(department)
    if not departments and not problems:
        problems.append(f"{directory.name}: no referral files (*.yml) found")
    if problems:
        raise ReferralError(problems)
    return ReferralTable(departments)


class ReferralStore:
    """Keeps the referral table live while ops staff edit it; a bad edit keeps the last good
    table serving (like CatalogueStore). The first load must succeed."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self.table = load_referrals(self.directory)
        self._signature = self._scan()
        self.last_errors: list[str] = []

    def reload_if_changed(self) -> list[str]:
        signature = self._scan()
        if signature == self._signature:
            return []
        try:
            fresh = load_referrals(self.directory)
        except ReferralError as exc:
            with self._lock:
                self._signature, self.last_errors = signature, list(exc.problems)
            return list(exc.problems)
        with self._lock:
            self.table, self._signature, self.last_errors = fresh, signature, []
        return []

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        if not self.directory.is_dir():
            return ()
        return tuple(
            sorted(
                (f.name, st.st_size, st.st_mtime_ns)  # one stat per file, per message
                for f in self.directory.glob("*.yml")
                for st in (f.stat(),)
            )
        )
