"""The policy file schema (pydantic v2). Ops staff edit `policies/<key>.yml`; this decides
what a valid file is, and its messages are what they see when a file is wrong."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import ASPECT_LABELS, ASPECTS

Category = Literal["就业创业", "社会保险", "职业培训", "劳动关系", "养老服务", "人才服务"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# Citizen text must fit a phone screen: the limits keep each piece short.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=30)]
Alias = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20, pattern=r"^\S+$")
]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=90)]
Paragraph = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9][0-9 \-]{4,19}$")]

_LEGAL_TITLE = re.compile(r"《[^《》]+》")


class _Strict(BaseModel):
    """Unknown fields are errors: a misspelt field name must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    office: Line
    address: Line
    hours: Line
    phone: Phone | None = None
    note: Line | None = None


class Process(_Strict):
    online: list[Line] = Field(default_factory=list)
    offline: list[Line] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_steps(self) -> Process:
        if not self.online and not self.offline:
            raise ValueError("give at least one step under 'online' or 'offline'")
        return self


class AmountRow(_Strict):
    condition: Line
    amount: Line


class Policy(_Strict):
    key: Key
    title: Title
    category: Category
    summary: Summary
    eligibility: list[Line] = Field(min_length=1)
    amount: Paragraph
    amount_table: list[AmountRow] | None = None
    materials: list[Line] = Field(min_length=1)
    process: Process
    where: Where
    time_limit: Paragraph
    # Whether it costs the citizen money, plain words ("免费，不收任何费用。").
    fee: Line
    legal_basis: list[Line] = Field(min_length=1)
    hotline: Phone
    effective_from: date
    effective_to: date | None = None
    aliases: list[Alias] = Field(min_length=3)
    # Eligibility rule (issue 6) in the declarative rule language; validated by the rules engine.
    rule: dict[str, Any] | None = None
    rule_version: Annotated[int, Field(ge=1)] | None = None

    @field_validator("legal_basis")
    @classmethod
    def _names_a_document(cls, items: list[str]) -> list[str]:
        for item in items:
            if not _LEGAL_TITLE.search(item):
                raise ValueError(f"'{item}' must name a document in 《》")
        return items

    @field_validator("effective_to")
    @classmethod
    def _after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"{value} is before effective_from {start}")
        return value

    @field_validator("aliases")
    @classmethod
    def _distinct_aliases(cls, items: list[str], info: ValidationInfo) -> list[str]:
        seen = {normalise(info.data.get("title", ""))}
        for item in items:
            if normalise(item) in seen:
                raise ValueError(f"'{item}' repeats the title or another alias")
            seen.add(normalise(item))
        return items

    @property
    def names(self) -> tuple[str, ...]:
        """The title first, then the aliases: every name the policy is known by."""
        return (self.title, *self.aliases)

    def is_effective(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def aspect_text(self, aspect: str) -> str:
        """The catalogue's own text for one aspect (never composed facts), lists numbered.

        `deadline` is the `time_limit` field; a fee that refers to “标准和金额” comes with
        it. Raises ValueError for an unknown aspect.
        """
        if aspect == "eligibility":
            return _numbered(self.eligibility)
        if aspect == "amount":
            rows = [f"· {row.condition}：{row.amount}" for row in self.amount_table or ()]
            return "\n".join([self.amount, *rows])
        if aspect == "materials":
            return _numbered(self.materials)
        if aspect == "process":
            parts = []
            if self.process.online:
                parts.append("网上办：\n" + _numbered(self.process.online))
            if self.process.offline:
                parts.append("窗口办：\n" + _numbered(self.process.offline))
            return "\n".join(parts)
        if aspect == "where":
            lines = [self.where.office, f"地址：{self.where.address}", f"时间：{self.where.hours}"]
            if self.where.phone:
                lines.append(f"电话：{self.where.phone}")
            if self.where.note:
                lines.append(self.where.note)
            return "\n".join(lines)
        if aspect == "deadline":
            return self.time_limit
        if aspect == "fee":
            # "保险费按自己选的档次每年交，见“标准和金额”": the citizen asked what it costs, so
            # the figures it points to come with it, not one more turn away.
            if f"“{ASPECT_LABELS['amount']}”" in self.fee:
                return f"{self.fee}\n{self.aspect_text('amount')}"
            return self.fee
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {', '.join(ASPECTS)}")


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


__all__ = ["ASPECT_LABELS", "CATEGORIES", "AmountRow", "Category", "Policy", "Process", "Where"]
