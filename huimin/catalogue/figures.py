"""Figures in policy text come from the policy's rule (`rules/<key>.yml`), so each amount is
stated once: a policy file writes a placeholder where the rule's figure goes, and the
catalogue fills it in when it loads the file.

    {amount}        the rule's fixed amount (`amount: {unit: 元, value: 10000}`)
    {amount:N}      the value of row N (from 1, in file order) of the rule's amount bands
    {duration}, {duration:N}   the same for the rule's `duration`

The rule version used is the one in force on the day the catalogue loads. A placeholder
the rule cannot fill is a problem naming the file and field, like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from huimin.rules import RuleBook, RuleFileError, load_rules
from huimin.rules.schema import Quantity, Rule

PLACEHOLDER = re.compile(r"\{(amount|duration)(?::(\d+))?\}")


class FigureError(ValueError):
    """A placeholder the rule cannot fill; the message says which and why."""


class RuleFigures:
    """Fills placeholders from the rules in ``rules_dir`` (read on first need, once)."""

    def __init__(self, rules_dir: Path | None = None, as_of: date | None = None) -> None:
        self.rules_dir = rules_dir
        self.as_of = as_of or date.today()
        self._book: RuleBook | None = None

    def fill(self, policy: str, data: Any) -> tuple[Any, list[str]]:
        """``data`` (a policy file's fields) with every placeholder filled, and the problems
        as (field path, message) strings ready to prefix with the file's name."""
        problems: list[str] = []

        def one(text: str, where: str) -> str:
            if not PLACEHOLDER.search(text):
                return text
            try:
                return PLACEHOLDER.sub(lambda m: self._figure(policy, m), text)
            except FigureError as exc:
                problems.append(f"field '{where}': {exc}")
                return text

        return _walk(data, "", one), problems

    def _figure(self, policy: str, match: re.Match[str]) -> str:
        kind, row = match.group(1), match.group(2)
        try:
            rule = self._rule(policy)
        except FigureError as exc:
            raise FigureError(f"{match.group(0)}: {exc}") from None
        quantity: Quantity | None = getattr(rule, kind)
        if quantity is None:
            raise FigureError(f"{match.group(0)}: rules/{policy}.yml states no {kind}")
        if row is None:
            if quantity.value is None:
                raise FigureError(
                    f"{match.group(0)}: the rule's {kind} is a table; name a row, e.g. "
                    f"{{{kind}:1}}"
                )
            return str(quantity.value)
        bands, n = quantity.bands or [], int(row)
        if not bands:
            raise FigureError(f"{match.group(0)}: the rule's {kind} is a fixed value; write "
                              f"{{{kind}}}")
        if not 1 <= n <= len(bands):
            raise FigureError(f"{match.group(0)}: the rule's {kind} has rows 1-{len(bands)}")
        return str(bands[n - 1].value)

    def _rule(self, policy: str) -> Rule:
        if self._book is None:
            try:
                self._book = load_rules(self.rules_dir)
            except RuleFileError as exc:
                raise FigureError(f"the rules cannot be read: {'; '.join(exc.problems)}") from None
        rule = self._book.get(policy, self.as_of)
        if rule is None:
            raise FigureError(f"no rule for '{policy}' in force on {self.as_of}")
        return rule


def _walk(data: Any, where: str, one: Callable[[str, str], str]) -> Any:
    """Apply ``one`` to every string in nested dicts and lists, with its field path."""
    if isinstance(data, str):
        return one(data, where)
    if isinstance(data, dict):
        return {k: _walk(v, f"{where}.{k}" if where else str(k), one) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, f"{where}[{i}]", one) for i, v in enumerate(data)]
    return data
