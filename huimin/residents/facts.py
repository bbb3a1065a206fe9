"""The resident facts contract: names, types, Chinese labels, and a validated parser.

The data integration, the mini-program and the rules all use these names, so they are
defined once here. Any fact may be unknown (None); unknown is not the same as false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

FactKind = Literal["date", "bool", "int", "enum"]


@dataclass(frozen=True)
class FactSpec:
    """How one fact is typed and how it is shown to citizens."""

    name: str
    kind: FactKind
    label: str  # plain-Chinese question label, e.g. "是否本市户籍"
    # For bool facts: the statement when true and when false, used in reasons.
    yes: str = ""
    no: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # enum value -> Chinese label
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""  # Chinese unit for whole numbers, e.g. "个月"


GENDERS = (("male", "男"), ("female", "女"))
EMPLOYMENT_STATUSES = (
    ("employed", "单位就业"),
    ("unemployed", "失业"),
    ("flexible", "灵活就业"),
    ("self_employed", "个体经营"),
    ("student", "在校学生"),
    ("retired", "已退休"),
)

_SPECS = (
    FactSpec("birth_date", "date", "出生日期"),
    FactSpec("gender", "enum", "性别", choices=GENDERS),
    FactSpec("local_hukou", "bool", "是否本市户籍", "本市户籍", "非本市户籍"),
    FactSpec("employment_status", "enum", "就业状态", choices=EMPLOYMENT_STATUSES),
    FactSpec(
        "registered_unemployed", "bool", "是否已办理失业登记", "已办理失业登记", "未办理失业登记"
    ),
    FactSpec(
        "involuntary_separation",
        "bool",
        "是否非本人意愿中断就业",
        "非本人意愿中断就业",
        "不属于非本人意愿中断就业",
    ),
    FactSpec(
        "unemployment_insurance_months",
        "int",
        "失业保险累计缴费月数",
        minimum=0,
        maximum=1200,
        unit="个月",
    ),
    FactSpec(
        "hard_to_employ", "bool", "是否就业困难人员", "属于就业困难人员", "不属于就业困难人员"
    ),
    FactSpec(
        "flexible_employment_registered",
        "bool",
        "是否已办理灵活就业登记",
        "已办理灵活就业登记",
        "未办理灵活就业登记",
    ),
    FactSpec(
        "paying_pension_insurance",
        "bool",
        "是否正在缴纳养老保险",
        "正在缴纳养老保险",
        "未缴纳养老保险",
    ),
    FactSpec("receiving_pension", "bool", "是否正在领取养老金", "正在领取养老金", "未领取养老金"),
    FactSpec(
        "resident_pension_insured",
        "bool",
        "是否参加城乡居民养老保险",
        "已参加城乡居民养老保险",
        "未参加城乡居民养老保险",
    ),
    FactSpec(
        "pension_contribution_years",
        "int",
        "养老保险累计缴费年数",
        minimum=0,
        maximum=100,
        unit="年",
    ),
    FactSpec("graduation_date", "date", "毕业日期"),
    FactSpec(
        "final_year_student",
        "bool",
        "是否高校毕业年度学生",
        "属于高校毕业年度学生",
        "不属于高校毕业年度学生",
    ),
    FactSpec(
        "low_income_household",
        "bool",
        "是否低保或低收入家庭成员",
        "属于低保或低收入家庭",
        "不属于低保或低收入家庭",
    ),
    FactSpec("disabled", "bool", "是否残疾人", "属于残疾人", "不属于残疾人"),
    FactSpec("business_registered_date", "date", "营业执照登记日期"),
    FactSpec(
        "startup_subsidy_received",
        "bool",
        "是否领取过一次性创业补贴",
        "已领取过一次性创业补贴",
        "未领取过一次性创业补贴",
    ),
    FactSpec(
        "returned_migrant_worker", "bool", "是否返乡农民工", "属于返乡农民工", "不属于返乡农民工"
    ),
    FactSpec(
        "certificate_level",
        "int",
        "职业技能等级证书等级",
        minimum=1,
        maximum=5,
        unit="级",
    ),
    FactSpec("certificate_date", "date", "职业技能等级证书取得日期"),
)

FACTS: dict[str, FactSpec] = {s.name: s for s in _SPECS}
FACT_NAMES: tuple[str, ...] = tuple(FACTS)
LABELS: dict[str, str] = {s.name: s.label for s in _SPECS}


@dataclass(frozen=True, slots=True)
class Facts:
    """One resident's profile; every fact may be unknown (None)."""

    birth_date: date | None = None
    gender: str | None = None
    local_hukou: bool | None = None
    employment_status: str | None = None
    registered_unemployed: bool | None = None
    involuntary_separation: bool | None = None
    unemployment_insurance_months: int | None = None
    hard_to_employ: bool | None = None
    flexible_employment_registered: bool | None = None
    paying_pension_insurance: bool | None = None
    receiving_pension: bool | None = None
    resident_pension_insured: bool | None = None
    pension_contribution_years: int | None = None
    graduation_date: date | None = None
    final_year_student: bool | None = None
    low_income_household: bool | None = None
    disabled: bool | None = None
    business_registered_date: date | None = None
    startup_subsidy_received: bool | None = None
    returned_migrant_worker: bool | None = None
    certificate_level: int | None = None
    certificate_date: date | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Facts:
        """Build from an already-typed source (a database row); no validation."""
        return cls(**{name: row[name] for name in FACT_NAMES})

    def known(self) -> dict[str, Any]:
        """The facts that are known, as Python values."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        """All facts as JSON-ready values (dates as ISO strings, unknown as null)."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FactProblem:
    """One bad input value: which field, and what is wrong for operators and citizens."""

    field: str
    message: str  # plain English, for operators and API clients
    message_zh: str  # plain Chinese, for citizens


class ProfileError(ValueError):
    """A profile had bad input; `problems` names every bad field."""

    def __init__(self, problems: list[FactProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXT_TRUE = {"true", "yes", "y", "1", "是", "有"}
_TEXT_FALSE = {"false", "no", "n", "0", "否", "无"}


def parse_profile(data: Mapping[str, Any], *, text: bool = False) -> Facts:
    """Validate a profile (JSON-like mapping) into Facts, reporting every bad field.

    Null means unknown. With `text=True` (CSV import) values may also be strings:
    "true"/"false"/"是"/"否" for yes/no facts, digits for whole numbers, "" for unknown.
    """
    if not isinstance(data, Mapping):
        raise ProfileError([FactProblem("profile", "profile must be an object", "资料格式不正确")])
    values: dict[str, Any] = {}
    problems: list[FactProblem] = []
    for key, raw in data.items():
        spec = FACTS.get(key) if isinstance(key, str) else None
        if spec is None:
            problems.append(
                FactProblem(str(key), f"unknown fact '{key}'", f"无法识别的信息项：{key}")
            )
            continue
        if text and isinstance(raw, str):
            raw = raw.strip() or None
        if raw is None:
            continue
        try:
            values[key] = _parse_value(spec, raw, text)
        except _Bad as bad:
            problems.append(FactProblem(key, bad.message, bad.message_zh))
    if problems:
        raise ProfileError(problems)
    return Facts(**values)


class _Bad(Exception):
    def __init__(self, message: str, message_zh: str) -> None:
        self.message, self.message_zh = message, message_zh


def _parse_value(spec: FactSpec, raw: Any, text: bool) -> Any:
    if spec.kind == "bool":
        return _parse_bool(spec, raw, text)
    if spec.kind == "int":
        return _parse_int(spec, raw, text)
    if spec.kind == "date":
        return _parse_date(spec, raw)
    return _parse_enum(spec, raw, text)


def _parse_bool(spec: FactSpec, raw: Any, text: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if text and isinstance(raw, str):
        low = raw.lower()
        if low in _TEXT_TRUE:
            return True
        if low in _TEXT_FALSE:
            return False
    raise _Bad(f"{spec.name} must be true or false", f"“{spec.label}”应填写“是”或“否”")


def _parse_int(spec: FactSpec, raw: Any, text: bool) -> int:
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif text and isinstance(raw, str) and re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    if value is None:
        raise _Bad(f"{spec.name} must be a whole number", f"“{spec.label}”应填写整数")
    lo, hi = spec.minimum, spec.maximum
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _Bad(
            f"{spec.name} must be between {lo} and {hi}, got {value}",
            f"“{spec.label}”应在{lo}至{hi}{spec.unit}之间",
        )
    return value


def _parse_date(spec: FactSpec, raw: Any) -> date:
    if type(raw) is date:
        return raw
    if not isinstance(raw, str) or not _ISO_DATE.match(raw):
        raise _Bad(
            f"{spec.name} must be a date written YYYY-MM-DD",
            f"“{spec.label}”应按“年-月-日”填写，例如 1960-05-01",
        )
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _Bad(
            f"{spec.name}: {raw} is not a real date",
            f"“{spec.label}”不是有效日期：{raw}",
        ) from None


def _parse_enum(spec: FactSpec, raw: Any, text: bool) -> str:
    allowed = [value for value, _ in spec.choices]
    if isinstance(raw, str) and raw in allowed:
        return raw
    if text and isinstance(raw, str):  # CSV files may carry the Chinese label
        for value, zh in spec.choices:
            if raw == zh:
                return value
    names = "、".join(zh for _, zh in spec.choices)
    raise _Bad(
        f"{spec.name} must be one of: {', '.join(allowed)}",
        f"“{spec.label}”应为以下之一：{names}",
    )


def choice_label(fact: str, value: str) -> str:
    """The Chinese label of an enum value, e.g. employment_status 'flexible' → 灵活就业."""
    return dict(FACTS[fact].choices).get(value, value)
