"""Helpers for the ops console tests: Rasa-shaped conversation events published through the
real event broker (huimin.ops.rasa_events) into a real Redis stream, then ingested."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huimin.ops import model_store, registry
from huimin.ops.gate import load_gate_config
from huimin.ops.rasa_events import RedisStreamEventBroker
from huimin.platform.db import Database
from huimin.platform.settings import OpsSettings


def broker_for(redis_url: str) -> RedisStreamEventBroker:
    url = urlparse(redis_url)
    return RedisStreamEventBroker(
        host=url.hostname or "127.0.0.1", port=url.port or 6379,
        db=int((url.path or "/0").lstrip("/") or 0),
    )


class Conversation:
    """Publishes what the Rasa server publishes for one conversation."""

    def __init__(self, broker: RedisStreamEventBroker, sender: str | None = None,
                 start: float | None = None, model_id: str = "model-a") -> None:
        self.broker = broker
        self.sender = sender or f"u{uuid.uuid4().hex[:12]}"
        self.clock = start if start is not None else time.time() - 3600
        self.model_id = model_id

    def _event(self, kind: str, step: float, **fields: Any) -> None:
        self.clock += step
        self.broker.publish({
            "event": kind, "sender_id": self.sender, "timestamp": self.clock,
            "metadata": {"model_id": self.model_id}, **fields,
        })

    def user(self, text: str, intent: str, confidence: float,
             ranking: list[tuple[str, float]] | None = None,
             entities: list[dict[str, Any]] | None = None, step: float = 10.0) -> None:
        ranking = ranking or [(intent, confidence)]
        self._event("user", step, text=text, input_channel="rest", parse_data={
            "text": text, "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
            "entities": entities or [],
        })

    def action(self, name: str) -> None:
        self._event("action", 0.01, name=name)

    def bot(self, text: str) -> None:
        self._event("bot", 0.01, text=text)

    def turn(self, text: str, intent: str, confidence: float, answer: str = "好的。",
             action: str | None = None, **kwargs: Any) -> None:
        self.user(text, intent, confidence, **kwargs)
        self.action(action or f"utter_{intent}")
        self.bot(answer)


def fake_model(path: Path, model_id: str | None = None) -> Path:
    """A small .tar.gz shaped like a Rasa model archive (metadata.json with a model_id)."""
    model_id = model_id or uuid.uuid4().hex
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = json.dumps({"model_id": model_id, "assistant_id": "huimin"}).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def evaluation(macro: float, per_intent: dict[str, float] | None = None,
               heldout_sha: str = "h1", answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model's evaluation as the training job records it (intent F1 and, by default, an
    end-to-end answer evaluation that passes the shipped gate)."""
    per_intent = per_intent or {}
    return {"accuracy": macro, "macro_f1": macro, "weighted_f1": macro,
            "per_intent_f1": per_intent, "support": {k: 10 for k in per_intent},
            "examples": 10 * len(per_intent), "heldout_sha": heldout_sha,
            "answers": answers or answer_figures()}


def answer_figures(direct_right: float = 0.95, wrong: float = 0.0,
                   eval_sha: str = "e1") -> dict[str, Any]:
    return {"cases": 400, "direct_right": direct_right, "wrong": wrong, "menu": 0.02,
            "eval_sha": eval_sha}


def repack(source: Path, target: Path) -> str:
    """The same network under a new model id: a different archive for the registry."""
    model_id = uuid.uuid4().hex
    with (tarfile.open(source, "r:gz") as src, gzip.open(target, "wb", compresslevel=1) as gz,
          tarfile.open(fileobj=gz, mode="w") as dst):
        for member in src:
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "metadata.json" and data is not None:
                raw = json.dumps({**json.load(data), "model_id": model_id}).encode()
                member.size = len(raw)
                dst.addfile(member, io.BytesIO(raw))
            else:
                dst.addfile(member, data)
    return model_id


def candidate_model(db: Database, workdir: Path, name: str = "huimin-scaleout-b"
                    ) -> tuple[int, str]:
    """Model B, registered beside the live model A; both carry an evaluation that passes the
    gate (the gate is tested elsewhere; here it must let B through)."""
    gate = load_gate_config(OpsSettings().gate_file)
    scores = evaluation(0.95, {intent: 0.99 for intent in gate.floors})
    with db.session() as s:
        live = registry.active_model(s)
        live.evaluation, sha = scores, live.sha256
    source = model_store.export(db, sha, workdir / "model-a.tar.gz")
    b_rasa = repack(source, workdir / "model-b.tar.gz")
    with db.session() as s:
        b_id = registry.register(s, workdir / "model-b.tar.gz", name=name,
                                 origin=registry.TRAINED, started_by="test",
                                 evaluation=scores).id
    return b_id, b_rasa
