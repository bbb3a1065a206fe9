"""huimin/ops/rasa_server.py's faster action-response check, run in the Rasa environment
against Rasa's own: the same responses pass, the same ones fail with the same message."""

from __future__ import annotations

import json
import subprocess

from huimin.platform.settings import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import json, sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from huimin.ops import rasa_server

stock = RemoteAction._validate_action_result
action = RemoteAction("action_x", None)
out = []
for case in json.loads(sys.stdin.read()):
    verdicts = []
    for check in (stock, rasa_server.validate_action_result):
        try:
            verdicts.append(check(action, case))
        except ValidationError as exc:
            verdicts.append(exc.message.split(". Failed")[0])
    out.append(verdicts)
print(json.dumps(out))
"""

CASES = [
    {"events": [{"event": "slot", "name": "policy", "value": "x"}],
     "responses": [{"text": "你好", "buttons": [{"title": "1", "payload": "/a"}]}]},
    {"events": [], "responses": []},
    {"events": [{"event": 3}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [], "responses": "not a list"},
]


def test_validation_matches_rasa() -> None:
    done = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT], input=json.dumps(CASES),
                          capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    verdicts = json.loads(done.stdout.strip().splitlines()[-1])
    assert [stock == ours for stock, ours in verdicts] == [True] * len(CASES)
    assert [v[0] is True for v in verdicts] == [True, True, False, False, False]


EVENT_TYPES_SCRIPT = r"""
import json
import rasa.shared.utils.common
from rasa.shared.core.events import Event, UserUttered
from huimin.ops import rasa_server

names = sorted({cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)})
out = {"names": len(names), "differ": []}
for name, default in [(n, None) for n in names] + [("topic", None), ("nope", UserUttered)]:
    stock = Event.resolve_by_type(name, default)
    ours = rasa_server.resolve_by_type(name, default)
    if stock is not ours:
        out["differ"].append([name, str(stock), str(ours)])
for check in (Event.resolve_by_type, rasa_server.resolve_by_type):
    try:
        check("nope")
        out.setdefault("raised", []).append(None)
    except ValueError as exc:
        out.setdefault("raised", []).append(str(exc))
print(json.dumps(out))
"""


def test_event_type_table_matches_rasa() -> None:
    """Every event name, ``topic`` and an unknown name with a default resolve to Rasa's own
    class; an unknown name without a default raises Rasa's error."""
    done = subprocess.run([str(RASA_PYTHON), "-c", EVENT_TYPES_SCRIPT], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["names"] > 20
    assert out["differ"] == []
    assert out["raised"] == ["Unknown event name 'nope'."] * 2
