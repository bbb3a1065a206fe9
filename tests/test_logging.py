"""Logs are JSON lines and never carry ID or phone numbers."""

from __future__ import annotations

import json

import structlog

from huimin.platform.logs import configure_logging


def test_log_lines_are_json_and_masked(capsys):
    structlog.reset_defaults()
    configure_logging()
    said = "我的电话13812345678，身份证11010519491231002X"
    structlog.get_logger("t").info("citizen_said", text=said)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event"] == "citizen_said" and event["level"] == "info"
    assert "13812345678" not in line and "11010519491231002X" not in line
    assert "138****5678" in event["text"]


def test_request_log_line(capsys, client):
    client.get("/healthz?phone=13812345678")
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    assert any(e.get("event") == "request" and e.get("status") == 200 for e in lines)
