"""The action server's handles pointed at a test's own database, Redis, emulator or catalogue
folder, through ``bot.actions.context.serving`` (handles are cached per settings, so nothing
is cleared)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace

import pytest

from bot.actions import context
from huimin.platform.runtime import Runtime
from huimin.platform.settings import load_settings


@pytest.fixture
def serve() -> Iterator[Callable[..., Runtime]]:
    """``serve(database_url=..., redis_url=...)``: serve the actions with the process's settings
    changed so, until the test ends; returns the runtime they use."""
    with ExitStack() as stack:
        yield lambda **changes: stack.enter_context(
            context.serving(replace(load_settings(), **changes)))
