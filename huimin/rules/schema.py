"""The rule language, as data: pydantic v2 models, loading from `rules/*.yml`, plain errors.

A condition is a mapping with exactly one operator (plus an optional Chinese `label`):

    all: [c, ...]            every part holds          any: [c, ...]   some part holds
    not: c                   the part does not hold
    fact: F, is: true|false  a yes/no fact
    fact: F, eq|ne|gte|gt|lte|lt: V,  or  fact: F, in: [V, ...]   compare a fact
    age_at_least: N          age on D >= N (from birth_date)      age_below: N
    within_last: {fact: F, years: N | months: N}      D - N <= F <= D
    at_least_before: {fact: F, years: N | months: N}  F <= D - N

An amount or duration is a fixed `value`, or a table of `bands` keyed `by` age or by a
whole-number fact. Nothing here is executed as code: the data is only ever interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from huimin.platform.settings import ROOT
from huimin.residents.facts import FACTS, FactSpec

DEFAULT_RULES_DIR = ROOT / "rules"

CompareOp = Literal["is", "eq", "ne", "gte", "gt", "lte", "lt", "in"]
COMPARE_OPS: tuple[str, ...] = ("is", "eq", "ne", "gte", "gt", "lte", "lt", "in")
_ORDER_OPS = {"gte", "gt", "lte", "lt"}
_OPERATORS = (
    "all",
    "any",
    "not",
    "fact",
    "age_at_least",
    "age_below",
    "within_last",
    "at_least_before",
)
_MAX_AGE = 150


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Node(_Model):
    KIND: ClassVar[str]  # the operator key that selects this node type
    # Optional Chinese wording used in reasons instead of the generated one.
    label: str | None = Field(default=None, min_length=1)


class AllOf(_Node):
    KIND = "all"
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Node):
    KIND = "any"
    any: list[Condition] = Field(min_length=1)


class Not(_Node):
    KIND = "not"
    not_: Condition = Field(alias="not")


class Compare(_Node):
    """A test of one fact. Written `{fact: F, <op>: V}`; stored as fact, op, value."""

    KIND = "fact"

    fact: str
    op: CompareOp
    value: Any

    @model_validator(mode="before")
    @classmethod
    def _from_written_form(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        extra = [k for k in data if k not in ("fact", "label", *COMPARE_OPS)]
        if extra:
            raise ValueError(
                f"unexpected key '{extra[0]}' in a fact test; "
                f"use fact plus one of: {', '.join(COMPARE_OPS)}"
            )
        ops = [k for k in COMPARE_OPS if k in data]
        if len(ops) != 1:
            raise ValueError(
                f"a fact test needs exactly one of: {', '.join(COMPARE_OPS)}"
                + (f" (found {', '.join(ops)})" if ops else "")
            )
        fact = data.get("fact")
        spec = FACTS.get(fact) if isinstance(fact, str) else None
        if spec is None:
            raise ValueError(f"unknown fact '{fact}'; known facts: {', '.join(FACTS)}")
        op = ops[0]
        out = {"fact": fact, "op": op, "value": _check_value(spec, op, data[op])}
        if "label" in data:
            out["label"] = data["label"]
        return out


class AgeAtLeast(_Node):
    KIND = "age_at_least"
    age_at_least: int = Field(ge=0, le=_MAX_AGE)


class AgeBelow(_Node):
    KIND = "age_below"
    age_below: int = Field(ge=0, le=_MAX_AGE)


class Span(_Model):
    """A date fact and a period of whole years or months."""

    fact: str
    years: int | None = Field(default=None, ge=0, le=_MAX_AGE)
    months: int | None = Field(default=None, ge=0, le=_MAX_AGE * 12)

    @field_validator("fact")
    @classmethod
    def _date_fact(cls, v: str) -> str:
        spec = FACTS.get(v)
        if spec is None:
            raise ValueError(f"unknown fact '{v}'; known facts: {', '.join(FACTS)}")
        if spec.kind != "date":
            raise ValueError(f"'{v}' is not a date fact")
        return v

    @model_validator(mode="after")
    def _one_period(self) -> Span:
        if (self.years is None) == (self.months is None):
            raise ValueError("give exactly one of years or months")
        return self


class WithinLast(_Node):
    KIND = "within_last"
    within_last: Span


class AtLeastBefore(_Node):
    KIND = "at_least_before"
    at_least_before: Span


def _condition_kind(v: Any) -> str | None:
    """The union tag for a condition: `<key>` of its operator key."""
    if isinstance(v, Mapping):
        key = next((k for k in _OPERATORS if k in v), None)
        return f"<{key}>" if key else None
    return f"<{v.KIND}>" if isinstance(v, _Node) else None


Condition = Annotated[
    Annotated[AllOf, Tag("<all>")]
    | Annotated[AnyOf, Tag("<any>")]
    | Annotated[Not, Tag("<not>")]
    | Annotated[Compare, Tag("<fact>")]
    | Annotated[AgeAtLeast, Tag("<age_at_least>")]
    | Annotated[AgeBelow, Tag("<age_below>")]
    | Annotated[WithinLast, Tag("<within_last>")]
    | Annotated[AtLeastBefore, Tag("<at_least_before>")],
    Discriminator(
        _condition_kind,
        custom_error_type="unknown_condition",
        custom_error_message=f"a condition needs one of: {', '.join(_OPERATORS)}",
    ),
]

for _cls in (AllOf, AnyOf, Not):
    _cls.model_rebuild()


def _check_value(spec: FactSpec, op: str, raw: Any) -> Any:
    """Check a comparison value against the fact's type; plain-English errors."""
    if spec.kind == "bool":
        if op != "is":
            raise ValueError(
                f"'{spec.name}' is a yes/no fact; test it with 'is: true' or 'is: false'"
            )
        if not isinstance(raw, bool):
            raise ValueError(f"'is' needs true or false for '{spec.name}'")
        return raw
    if op == "is":
        raise ValueError(f"'is' is only for yes/no facts; '{spec.name}' needs eq, ne, in, ...")
    if spec.kind == "enum" and op in _ORDER_OPS:
        raise ValueError(f"'{spec.name}' is a choice; use eq, ne or in, not {op}")
    if op == "in":
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"'in' needs a non-empty list of values for '{spec.name}'")
        return tuple(_scalar(spec, v) for v in raw)
    return _scalar(spec, raw)


def _scalar(spec: FactSpec, raw: Any) -> Any:
    if spec.kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"'{spec.name}' is a whole number; got {raw!r}")
        return raw
    if spec.kind == "date":
        if type(raw) is date:
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        raise ValueError(f"'{spec.name}' is a date; write it as YYYY-MM-DD, got {raw!r}")
    allowed = [value for value, _ in spec.choices]
    if raw not in allowed:
        raise ValueError(f"'{spec.name}' must be one of: {', '.join(allowed)}; got {raw!r}")
    return raw


class Band(_Model):
    """One row of an amount table: key from `min` to `max` inclusive (no max: and above)."""

    min: int = Field(ge=0)
    max: int | None = Field(default=None, ge=0)
    value: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Quantity(_Model):
    """An amount or duration: a fixed value, or a table of bands keyed by age or a fact."""

    unit: str = Field(min_length=1)
    value: int | None = Field(default=None, ge=0)
    by: str | None = None
    bands: list[Band] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> Quantity:
        if self.value is not None:
            if self.by is not None or self.bands is not None:
                raise ValueError("give either value, or by and bands, not both")
            return self
        if self.by is None or self.bands is None:
            raise ValueError("give either value, or by and bands")
        if self.by != "age":
            spec = FACTS.get(self.by)
            if spec is None or spec.kind != "int":
                raise ValueError(f"by must be 'age' or a whole-number fact, got '{self.by}'")
        ordered = sorted(self.bands, key=lambda b: b.min)
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            if lower.max is None or lower.max >= upper.min:
                raise ValueError(f"bands overlap at {upper.min}")
        return self


class VersionSpec(_Model):
    version: int = Field(ge=1)
    effective_from: date
    effective_to: date | None = None  # last day in force, inclusive; none = open-ended
    condition: Condition
    amount: Quantity | None = None
    duration: Quantity | None = None

    @model_validator(mode="after")
    def _period(self) -> VersionSpec:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


class RuleFileSpec(_Model):
    policy: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    versions: list[VersionSpec] = Field(min_length=1)

    @field_validator("versions")
    @classmethod
    def _one_in_force(cls, versions: list[VersionSpec]) -> list[VersionSpec]:
        numbers = [v.version for v in versions]
        if len(set(numbers)) != len(numbers):
            raise ValueError("version numbers must be unique")
        ordered = sorted(versions, key=lambda v: v.effective_from)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.effective_to is None or a.effective_to >= b.effective_from:
                raise ValueError(
                    f"versions {a.version} and {b.version} are both in force on "
                    f"{b.effective_from}; end the earlier one with effective_to"
                )
        return versions


@dataclass(eq=False)
class Rule:
    """One version of one policy's eligibility rule, ready to evaluate."""

    policy: str
    version: int
    effective_from: date
    effective_to: date | None
    condition: Condition
    amount: Quantity | None = None
    duration: Quantity | None = None
    # Per-as_of prepared evaluators (huimin.rules.evaluate); rebuilt on demand.
    prepared: dict[date, Any] = field(default_factory=dict, repr=False)

    def in_force(self, as_of: date) -> bool:
        return self.effective_from <= as_of and (
            self.effective_to is None or as_of <= self.effective_to
        )


class RuleFileError(ValueError):
    """Rule data failed validation; each problem names the file and the field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _path(loc: tuple[int | str, ...]) -> str:
    """`('versions', 0, 'condition', '<all>', 'all', 1)` -> `versions[0].condition.all[1]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith("<"):  # "<all>" etc. are union tags, not fields
            out += f".{part}" if out else part
    return out or "(top level)"


def _problems(source: str, err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unexpected key"
        elif e["type"] == "missing":
            msg = "required field is missing"
        out.append(f"{source}: {_path(tuple(e['loc']))}: {msg}")
    return out


def parse_rule_file(data: Any, source: str = "<rule>") -> list[Rule]:
    """Validate one policy's rule document (already parsed from YAML/JSON)."""
    try:
        spec = RuleFileSpec.model_validate(data)
    except ValidationError as err:
        raise RuleFileError(_problems(source, err)) from None
    return [
        Rule(
            policy=spec.policy,
            version=v.version,
            effective_from=v.effective_from,
            effective_to=v.effective_to,
            condition=v.condition,
            amount=v.amount,
            duration=v.duration,
        )
        for v in spec.versions
    ]


def parse_condition(data: Any) -> Condition:
    """Validate a bare condition (used by tools and tests that build rules in memory)."""
    try:
        spec = VersionSpec.model_validate(
            {"version": 1, "effective_from": date.min, "condition": data}
        )
    except ValidationError as err:
        raise RuleFileError(_problems("<condition>", err)) from None
    return spec.condition


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as text, so a bad date is reported with its field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class RuleBook:
    """All loaded rules; picks the version in force on a date for each policy."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.policy, r.effective_from))

    @property
    def policies(self) -> list[str]:
        return sorted({r.policy for r in self.rules})

    def in_force(self, as_of: date, policy: str | None = None) -> list[Rule]:
        return [
            r for r in self.rules if r.in_force(as_of) and (policy is None or r.policy == policy)
        ]

    def get(self, policy: str, as_of: date) -> Rule | None:
        found = self.in_force(as_of, policy)
        return found[0] if found else None


def load_rules(directory: Path | None = None) -> RuleBook:
    """Load and validate every `<policy>.yml` in the rules folder; report all problems."""
    directory = directory or DEFAULT_RULES_DIR
    rules: list[Rule] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.yml")):
        source = f"{directory.name}/{path.name}"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as err:
            problems.append(f"{source}: not valid YAML: {err}")
            continue
        try:
            found = parse_rule_file(data, source)
        except RuleFileError as err:
            problems.extend(err.problems)
            continue
        if found[0].policy != path.stem:
            problems.append(
                f"{source}: policy: '{found[0].policy}' does not match the file name '{path.stem}'"
            )
            continue
        rules.extend(found)
    if problems:
        raise RuleFileError(problems)
    return RuleBook(rules)
