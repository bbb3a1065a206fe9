"""Loading guide files and keeping a good set in memory.

Problems are reported per file and field in plain English, because the people who
fix them are ops staff editing YAML, not developers reading tracebacks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from huimin.guides.schema import Guide, GuideGraphError

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"{self.file}: {self.field}: {self.message}"
        return f"{self.file}: {self.message}"


class GuideValidationError(Exception):
    """One or more guide files are invalid; `problems` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the guide files:\n{lines}")


def load_guides(directory: Path | str) -> dict[str, Guide]:
    """Load and validate every guide file in `directory`; raise if any file is bad."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GuideValidationError([Problem(str(directory), "", "is not a folder")])
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise GuideValidationError(
            [Problem(str(directory), "", "contains no guide files (*.yaml)")]
        )
    guides: dict[str, Guide] = {}
    problems: list[Problem] = []
    for path in files:
        guide, file_problems = _load_file(path)
        problems.extend(file_problems)
        if guide is None:
            continue
        if guide.key in guides:
            problems.append(
                Problem(path.name, "key", f"'{guide.key}' is already used by another file")
            )
        guides[guide.key] = guide
    if problems:
        raise GuideValidationError(problems)
    return guides


def _load_file(path: Path) -> tuple[Guide | None, list[Problem]]:
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None, [Problem(name, "", "is not UTF-8 text; save it as UTF-8")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(name, "", f"is not valid YAML{where}: {reason}")]
    if not isinstance(data, dict):
        return None, [
            Problem(name, "", "must be a mapping with key, title, for_whom, prepare and steps")
        ]
    try:
        guide = Guide.model_validate(data)
    except ValidationError as exc:
        return None, _problems_from(name, exc, data)
    if guide.key != path.stem:
        return None, [
            Problem(name, "key", f"is '{guide.key}' but the file is '{name}'; make them match")
        ]
    missing = [
        Problem(name, f"steps[{i}].image (step '{step.id}')", f"'{step.image}' is not a file")
        for i, step in enumerate(guide.steps)
        if step.image
        and not step.image.startswith(("http://", "https://"))
        and not (path.parent / step.image).is_file()
    ]
    return (None, missing) if missing else (guide, [])


def _problems_from(name: str, exc: ValidationError, data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, GuideGraphError):
            problems.extend(Problem(name, field, msg) for field, msg in cause.problems)
            continue
        problems.append(Problem(name, _field_name(error["loc"], data), _message(error)))
    return problems


def _field_name(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps")
        if isinstance(steps, list) and loc[1] < len(steps) and isinstance(steps[loc[1]], dict):
            step_id = steps[loc[1]].get("id")
            if step_id:
                text += f" (step '{step_id}')"
    return text or "(whole file)"


_PLAIN = {
    "missing": "is missing; it is required",
    "extra_forbidden": "is not a known field; check the spelling",
    "string_type": "should be text; put it in quotes if it looks like a number or yes/no",
    "bool_type": "should be true or false",
    "model_type": "should be a set of fields (name: value lines)",
    "list_type": "should be a list (lines starting with '- ')",
    "tuple_type": "should be a list (lines starting with '- ')",
}


def _message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item(s); found {ctx['actual_length']}"
    if kind == "too_long":
        return f"has {ctx['actual_length']} items; the most allowed is {ctx['max_length']}"
    return str(error["msg"]).removeprefix("Value error, ")


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:
        return ()


class GuideStore:
    """The guides a process serves. A bad reload keeps the previous good set.

    The constructor loads strictly (a bad set at start-up must stop the deploy);
    `reload` never raises, so a running service survives an ops typo.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._signature = _signature(self.directory)
        self._guides: Mapping[str, Guide] = MappingProxyType(load_guides(self.directory))
        self.problems: list[Problem] = []

    @property
    def guides(self) -> Mapping[str, Guide]:
        return self._guides

    def get(self, key: str) -> Guide | None:
        return self._guides.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._guides

    def reload(self) -> list[Problem]:
        """Reload from disk; return the problems (empty when the new set is in use)."""
        with self._lock:
            signature = _signature(self.directory)
            try:
                guides = load_guides(self.directory)
            except GuideValidationError as exc:
                self.problems = exc.problems
            else:
                self._guides = MappingProxyType(guides)
                self.problems = []
            # Remember even a bad version so it is not re-parsed until it changes again.
            self._signature = signature
            return self.problems

    def reload_if_changed(self) -> list[Problem]:
        """Cheap check for edited files (name, mtime, size) before reloading."""
        if _signature(self.directory) == self._signature:
            return self.problems
        return self.reload()
