"""Schema of a step-by-step guide (one YAML file per guide under `guides/`).

Ops staff edit these files, so every rule that keeps a guide usable for an older
person is checked here: short one-line steps, answers that lead somewhere real,
no step nobody can reach, and no loop that can never reach the end.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Reserved goto / next target: the guide is over.
END = "end"
# A step is one short instruction that fits a phone screen.
MAX_STEP_CHARS = 60
MAX_LABEL_CHARS = 12
MAX_PREPARE_CHARS = 30
MAX_TITLE_CHARS = 20

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a valid id; use lowercase letters, digits and _ "
            "(start with a letter, at most 40 characters)"
        )
    return value


def _short(limit: int):
    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty")
        if "\n" in value:
            raise ValueError("must be a single line")
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long; the limit is {limit}")
        return value

    return check


def _label(value: str) -> str:
    if value.strip().isdigit():
        raise ValueError(f"'{value}' is only a number; residents reply with numbers, use words")
    return value


def _image(value: str) -> str:
    value = value.strip()
    if value.startswith(("http://", "https://")):
        return value
    if not value or value.startswith("/") or ".." in value.split("/") or "\\" in value:
        raise ValueError(
            f"'{value}' must be an http(s) URL or a path relative to the guides folder"
        )
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
StepText = Annotated[str, AfterValidator(_short(MAX_STEP_CHARS))]
Label = Annotated[str, AfterValidator(_short(MAX_LABEL_CHARS)), AfterValidator(_label)]
PrepareItem = Annotated[str, AfterValidator(_short(MAX_PREPARE_CHARS))]
Title = Annotated[str, AfterValidator(_short(MAX_TITLE_CHARS))]
ImageRef = Annotated[str, AfterValidator(_image)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CheckOption(_Model):
    """One numbered answer to a check question; `goto` is a step id or `end`."""

    label: Label
    goto: str
    # Other words residents say (or voice recognition produces) for this answer.
    aliases: tuple[Label, ...] = ()


class Check(_Model):
    """A question that confirms the resident is where the step says they are."""

    question: StepText
    care_question: StepText | None = None
    options: tuple[CheckOption, ...] = Field(min_length=2, max_length=4)


class Step(_Model):
    """One instruction. Help steps sit off the main path and are reached by a check answer."""

    id: Identifier
    text: StepText
    care_text: StepText | None = None
    image: ImageRef | None = None
    check: Check | None = None
    help: bool = False
    # Where 下一步 leads; default: the next non-help step in the file, or the end.
    next: str | None = None


class GuideGraphError(ValueError):
    """Cross-step problems, kept as (field, message) pairs so each can be reported."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems))
        self.problems = problems


class Guide(_Model):
    key: Identifier
    title: Title
    for_whom: StepText
    prepare: tuple[PrepareItem, ...] = Field(min_length=1, max_length=8)
    steps: tuple[Step, ...] = Field(min_length=1, max_length=30)
    # Shown when the main path is completed.
    done: StepText | None = None

    @model_validator(mode="after")
    def _check_graph(self) -> Guide:
        problems = _graph_problems(self)
        if problems:
            raise GuideGraphError(problems)
        return self

    @cached_property
    def _by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    @cached_property
    def _position(self) -> dict[str, int]:
        return {s.id: i for i, s in enumerate(self.steps)}

    @cached_property
    def _main_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps if not s.help)

    def has_step(self, step_id: str) -> bool:
        return step_id in self._by_id

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    @property
    def first_step(self) -> Step:
        return self.steps[0]

    @property
    def main_count(self) -> int:
        return len(self._main_ids)

    def main_number(self, step_id: str) -> int | None:
        """1-based position among the main (non-help) steps; None for a help step."""
        try:
            return self._main_ids.index(step_id) + 1
        except ValueError:
            return None

    def next_of(self, step: Step) -> str:
        """Where 下一步 leads from a step without a check question."""
        return step.next or _default_next(self.steps, self._position[step.id])


def _default_next(steps: tuple[Step, ...], index: int) -> str:
    for later in steps[index + 1 :]:
        if not later.help:
            return later.id
    return END


def _field(index: int, step: Step, rest: str = "") -> str:
    return f"steps[{index}]{rest} (step '{step.id}')"


def _graph_problems(guide: Guide) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    steps = guide.steps
    ids: set[str] = set()
    for i, step in enumerate(steps):
        if step.id == END:
            problems.append((_field(i, step, ".id"), f"'{END}' is reserved; use another id"))
        elif step.id in ids:
            problems.append((_field(i, step, ".id"), "is used by more than one step"))
        ids.add(step.id)
    if steps[0].help:
        problems.append((_field(0, steps[0], ".help"), "the first step can't be a help step"))

    edges: dict[str, list[str]] = {}
    for i, step in enumerate(steps):
        targets: list[tuple[str, str]] = []
        if step.check and step.next:
            problems.append(
                (
                    _field(i, step, ".next"),
                    "a step with a check question goes where the answer's goto says; remove next",
                )
            )
        if step.check:
            labels: set[str] = set()
            for j, option in enumerate(step.check.options):
                targets.append((f".check.options[{j}].goto", option.goto))
                for word in (option.label, *option.aliases):
                    if word in labels:
                        problems.append(
                            (
                                _field(i, step, f".check.options[{j}]"),
                                f"the word '{word}' is used by two answers",
                            )
                        )
                    labels.add(word)
        elif step.next:
            targets.append((".next", step.next))
        for where, target in targets:
            if target == step.id:
                problems.append((_field(i, step, where), "points to the step itself"))
            elif target != END and target not in ids:
                problems.append(
                    (_field(i, step, where), f"'{target}' is not the id of any step in this guide")
                )
        if step.check:
            edges[step.id] = [target for _, target in targets]
        else:
            edges[step.id] = [step.next or _default_next(steps, i)]
    if problems:
        return problems

    reachable = _reach(steps[0].id, edges)
    for i, step in enumerate(steps):
        if step.id not in reachable:
            problems.append(
                (
                    _field(i, step),
                    "no step leads here, so nobody can reach it; "
                    "point a goto or next at it, or remove it",
                )
            )
    reverse: dict[str, list[str]] = {}
    for source, targets_ in edges.items():
        for target in targets_:
            reverse.setdefault(target, []).append(source)
    finishing = _reach(END, reverse)
    for i, step in enumerate(steps):
        if step.id in reachable and step.id not in finishing:
            problems.append(
                (_field(i, step), "from here the guide loops and can never reach the end")
            )
    return problems


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
