"""Resident identity card numbers (GB 11643-1999): validation, birth date, gender, fakes.

Layout of the 18 characters: 6-digit region code (GB/T 2260), 8-digit birth date YYYYMMDD,
3-digit sequence (odd = male), 1 check character (ISO 7064 MOD 11-2, ``X`` stands for 10).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

# Province-level codes of GB/T 2260 (71 Taiwan, 81 Hong Kong, 82 Macao).
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37}
    | {41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
EARLIEST_BIRTH = date(1900, 1, 1)

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True)
class IdProblem:
    """Why a number was rejected: a stable code, a message for citizens, one for operators."""

    code: str
    citizen_message: str
    operator_message: str


@dataclass(frozen=True)
class IdCheck:
    """Result of ``validate_id_number``; ``number`` is the normalised form to store."""

    number: str
    problem: IdProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def birth_date(self) -> date:
        return birth_date_of(self.number)

    @property
    def gender(self) -> Gender:
        return gender_of(self.number)


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(value: str) -> str:
    """Full-width characters to ASCII, spaces and dashes removed, ``x`` upper-cased."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()


def _problem(code: str, citizen: str, operator: str) -> IdProblem:
    return IdProblem(code=code, citizen_message=citizen, operator_message=operator)


def _parse_birth(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def _find_problem(number: str, today: date) -> IdProblem | None:
    if not number:
        return _problem("empty", "请输入身份证号", "ID number is empty")
    if len(number) != 18:
        if len(number) == 15 and number.isdigit():
            return _problem(
                "old_15_digit",
                "请输入18位的新身份证号（15位的旧号码已停用）",
                "ID number has 15 digits (pre-1999 format); an 18-character number is required",
            )
        return _problem(
            "wrong_length",
            f"身份证号应为18位，您输入了{len(number)}位，请检查",
            f"ID number must be 18 characters, got {len(number)}",
        )
    if not _SHAPE.fullmatch(number):
        return _problem(
            "bad_characters",
            "身份证号只能是数字，最后一位可以是X，请检查",
            "ID number must be 17 digits followed by a digit or X",
        )
    if int(number[:2]) not in PROVINCE_CODES:  # also rejects a 000000 region code
        return _problem(
            "bad_region",
            "身份证号前两位的地区代码不对，请检查",
            f"ID number region code starts with {number[:2]!r}, not a province-level code",
        )
    birth = _parse_birth(number)
    if birth is None:
        return _problem(
            "bad_birth_date",
            "身份证号中的出生日期不对，请检查第7到14位",
            f"ID number birth date {number[6:14]} is not a real calendar date",
        )
    if birth > today:
        return _problem(
            "future_birth_date",
            "身份证号中的出生日期晚于今天，请检查第7到14位",
            f"ID number birth date {birth.isoformat()} is in the future",
        )
    if birth < EARLIEST_BIRTH:
        return _problem(
            "birth_date_too_early",
            "身份证号中的出生日期太早，请检查第7到14位",
            f"ID number birth date {birth.isoformat()} is before {EARLIEST_BIRTH.isoformat()}",
        )
    if check_character(number[:17]) != number[17]:
        return _problem(
            "bad_check_digit",
            "身份证号最后一位校验码不对，请检查",
            "ID number check character does not match (ISO 7064 MOD 11-2)",
        )
    return None


def validate_id_number(value: str, *, today: date | None = None) -> IdCheck:
    """Validate a resident ID number; operator messages never repeat the full number."""
    number = normalise_id_number(value)
    return IdCheck(number=number, problem=_find_problem(number, today or date.today()))


def birth_date_of(number: str) -> date:
    """Birth date encoded in a valid 18-character number."""
    birth = _parse_birth(number)
    if len(number) != 18 or birth is None:
        raise ValueError("not a valid 18-character ID number")
    return birth


def gender_of(number: str) -> Gender:
    """The 17th digit is odd for men and even for women."""
    if len(number) != 18 or not number[16].isdigit():
        raise ValueError("not a valid 18-character ID number")
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE


# A few real county-level region codes, so fakes look plausible in demos.
FAKE_REGIONS = ("110101", "310104", "320102", "340104", "340202", "420106", "440305", "510107")


def fake_id_number(
    rng: random.Random | None = None,
    *,
    birth: date | None = None,
    gender: Gender | None = None,
    region: str | None = None,
) -> str:
    """A valid-looking fake ID number for tests and demos (pass ``rng`` for repeatability)."""
    rng = rng or random.Random()
    region = region or rng.choice(FAKE_REGIONS)
    if birth is None:
        start = date(1940, 1, 1)
        birth = start + timedelta(days=rng.randrange((date(2006, 12, 31) - start).days))
    sequence = rng.randrange(0, 1000)
    if gender is not None and (sequence % 2 == 1) != (gender is Gender.MALE):
        sequence = (sequence + 1) % 1000
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
