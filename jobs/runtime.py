"""How a job gets its runtime: ``@with_runtime`` opens one per run and passes it first.

RQ imports a job by its dotted name; ``functools.wraps`` keeps that name, so the decorated
function is what the worker runs, and callers (and tests) call it without the runtime.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from huimin.platform.runtime import Runtime, open_runtime

P = ParamSpec("P")
R = TypeVar("R")


def with_runtime(func: Callable[Concatenate[Runtime, P], R]) -> Callable[P, R]:
    """Run ``func(rt, *args)`` with a runtime opened for this run and closed after it."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with open_runtime() as rt:
            return func(rt, *args, **kwargs)

    return run
