"""pytest plugin: a per-area time summary at the end of the run, so `make test` shows where
its minutes go (and whether a change made an area slower).

An area is a sub-directory of tests/ (actions, e2e, nlu, ...) or, for the files directly in
tests/, the capability a file is named after (test_benefits_matching.py -> benefits). Time is
setup + call + teardown of each test, so a session fixture (the full stack) counts once, in
the area of the first test that used it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

TWO_WORD = ("employment_code", "answer_judge")
"""Capabilities whose name has two words; any other file's area is its first word."""

_seconds: dict[str, float] = defaultdict(float)
_tests: dict[str, set[str]] = defaultdict(set)
_failed: dict[str, int] = defaultdict(int)
_started = time.monotonic()


def area(nodeid: str) -> str:
    path = Path(nodeid.split("::", 1)[0])
    parts = path.parts[1:] if path.parts and path.parts[0] == "tests" else path.parts
    if len(parts) > 1:
        return parts[0]
    stem = path.stem.removeprefix("test_")
    return next((name for name in TWO_WORD if stem.startswith(name)), stem.split("_", 1)[0])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = area(report.nodeid)
    _seconds[name] += report.duration
    _tests[name].add(report.nodeid)
    if report.failed:
        _failed[name] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    if not _seconds:
        return
    tr = terminalreporter
    tr.write_sep("=", "time per area")
    for name, seconds in sorted(_seconds.items(), key=lambda item: -item[1]):
        failed = f"  {_failed[name]} failed" if _failed[name] else ""
        tr.write_line(f"{name:<18} {len(_tests[name]):>5} tests {seconds:>8.1f} s{failed}")
    tr.write_line(f"{'(all)':<18} {sum(len(t) for t in _tests.values()):>5} tests "
                  f"{sum(_seconds.values()):>8.1f} s in tests, "
                  f"{time.monotonic() - _started:.1f} s wall")
