"""Recorded trackers: JSON as the Rasa server posts it to the action server
(tests/actions/data/<name>.json), loaded with ``Tracker.from_dict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker

DATA = Path(__file__).parent / "data"


def recorded(name: str, *, text: str | None = None, **changes: Any) -> Tracker:
    """The tracker recorded in ``<name>.json``; a multi-turn test carries its conversation state
    over it (top-level fields such as sender_id, slots, events, active_loop; ``text`` replaces
    the latest message's text)."""
    state = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    if text is not None:
        state["latest_message"] = {**state["latest_message"], "text": text}
    return Tracker.from_dict({**state, **changes})
