"""The model registry: every trained model, its evaluation, and which one is live.

Model files live in a content-addressed store in the database (huimin/ops/model_store.py),
shared by the trainer host that trains and every web host that serves them to Rasa. The live
model is the one named by the newest row of ``ops_deployments``; activating or rolling back
appends a row, so the history is kept and every change is in the audit log. Rasa
replicas pull the live model from the web app (see webapp/ops/model_server.py) and swap it in
without a restart.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huimin.ops import model_store
from huimin.ops.gate import GateConfig, Verdict, judge
from huimin.ops.models import Deployment, ModelRecord
from huimin.platform.db import utcnow
from huimin.platform.settings import OpsSettings
from huimin.privacy import audit

TRAINED, INSTALLED = "training", "installed"
ACTIVATE, ROLLBACK, BOOTSTRAP = "activate", "rollback", "bootstrap"


# ---- the model file -------------------------------------------------------------------------


def rasa_model_id(path: Path) -> str | None:
    """The ``model_id`` in the model archive's metadata.json (None if it has none)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.name in {"metadata.json", "./metadata.json"}:
                    handle = archive.extractfile(member)
                    return json.load(handle).get("model_id") if handle else None
    except (OSError, tarfile.TarError, ValueError):
        return None
    return None


# ---- evaluation comparison ----------------------------------------------------------------------


def compare(candidate: dict[str, Any] | None, active: dict[str, Any] | None) -> dict[str, Any]:
    """Changes of ``candidate`` against ``active``: macro-F1, accuracy, per intent (worst first)."""
    if not candidate or not active:
        return {}
    before, after = active.get("per_intent_f1") or {}, candidate.get("per_intent_f1") or {}
    per_intent = [
        {
            "intent": intent,
            "before": before.get(intent),
            "after": after.get(intent),
            "delta": round(float(after.get(intent, 0.0)) - float(before.get(intent, 0.0)), 4),
        }
        for intent in sorted(set(before) | set(after))
    ]
    per_intent.sort(key=lambda row: (row["delta"], row["intent"]))
    return {
        "macro_f1": round(float(candidate["macro_f1"]) - float(active["macro_f1"]), 4),
        "accuracy": round(float(candidate["accuracy"]) - float(active["accuracy"]), 4),
        "per_intent": per_intent,
    }


# ---- queries ------------------------------------------------------------------------------------


def active_deployment(session: Session) -> Deployment | None:
    return session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(1)).first()


def active_model(session: Session) -> ModelRecord | None:
    deployment = active_deployment(session)
    return session.get(ModelRecord, deployment.model_id) if deployment else None


def list_models(session: Session) -> list[ModelRecord]:
    return list(session.scalars(select(ModelRecord).order_by(ModelRecord.id.desc())))


def deployed_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Deployment.model_id)))


def history(session: Session, limit: int = 50) -> list[Deployment]:
    return list(session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(limit)))


# ---- registering --------------------------------------------------------------------------------


def register(
    session: Session,
    source: Path,
    *,
    name: str,
    origin: str,
    started_by: str,
    started_by_name: str | None = None,
    started_at: datetime | None = None,
    data_fingerprint: str | None = None,
    evaluation: dict[str, Any] | None = None,
    training_run_id: int | None = None,
    annotation_count: int = 0,
) -> ModelRecord:
    """Store the file and add it to the registry (the same file twice: the existing row)."""
    sha, size = model_store.put(session, source)
    existing = session.scalar(select(ModelRecord).where(ModelRecord.sha256 == sha))
    if existing is not None:
        return existing
    live = active_model(session)
    record = ModelRecord(
        name=name, sha256=sha, size=size, rasa_model_id=rasa_model_id(source),
        data_fingerprint=data_fingerprint, source=origin, started_by=started_by,
        started_by_name=started_by_name, started_at=started_at or utcnow(),
        training_run_id=training_run_id, annotation_count=annotation_count,
        evaluation=evaluation,
        baseline=({"model_id": live.id, **compare(evaluation, live.evaluation)}
                  if live is not None and evaluation and live.evaluation else None),
    )
    session.add(record)
    session.flush()
    return record


# ---- activation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # Chinese, for the console
    verdict: Verdict | None = None
    deployment: Deployment | None = None


def gate_verdict(session: Session, record: ModelRecord, config: GateConfig) -> Verdict:
    live = active_model(session)
    baseline = live.evaluation if live is not None and live.id != record.id else None
    return judge(record.evaluation, baseline, config)


def _deploy(
    session: Session, record: ModelRecord, action: str, actor: str, actor_name: str | None
) -> Deployment:
    live = active_model(session)
    deployment = Deployment(
        model_id=record.id, previous_model_id=live.id if live else None, action=action,
        actor=actor, actor_name=actor_name,
    )
    session.add(deployment)
    session.flush()
    return deployment


def activate(
    session: Session,
    model_id: int,
    config: GateConfig,
    actor: str,
    actor_name: str | None = None,
    ip: str | None = None,
) -> Outcome:
    """Make ``model_id`` live if it passes the gate; refusals are audited too."""
    record = session.get(ModelRecord, model_id)
    target = f"model:{model_id}"
    if record is None:
        return Outcome(False, "找不到该模型。")
    live = active_model(session)
    if live is not None and live.id == record.id:
        return Outcome(False, "该模型已经在使用中。")
    verdict = gate_verdict(session, record, config)
    if not verdict.ok:
        audit.record(session, actor, "ops.model.activate", target, audit.DENIED, ip,
                     {"reasons": verdict.reasons})
        return Outcome(False, "未通过上线检查：" + "；".join(verdict.reasons), verdict)
    deployment = _deploy(session, record, ACTIVATE, actor, actor_name)
    audit.record(session, actor, "ops.model.activate", target, audit.OK, ip, {
        "previous": deployment.previous_model_id, "sha256": record.sha256,
        "macro_f1": (record.evaluation or {}).get("macro_f1"),
    })
    message = f"模型 #{record.id} 已上线，各助手服务将在几秒内切换。"
    return Outcome(True, message, verdict, deployment)


def rollback(
    session: Session,
    actor: str,
    model_id: int | None = None,
    actor_name: str | None = None,
    ip: str | None = None,
) -> Outcome:
    """Go back to a model that was live before (default: the one before the current one).

    No gate: the model answered citizens already. Only previously deployed models qualify.
    """
    live = active_model(session)
    if model_id is None:
        previous = next(
            (d.model_id for d in history(session, 1000) if live is None or d.model_id != live.id),
            None,
        )
        if previous is None:
            return Outcome(False, "没有可以回滚到的历史模型。")
        model_id = previous
    record = session.get(ModelRecord, model_id)
    target = f"model:{model_id}"
    if record is None:
        return Outcome(False, "找不到该模型。")
    if live is not None and live.id == record.id:
        return Outcome(False, "该模型已经在使用中。")
    if record.id not in deployed_ids(session):
        audit.record(session, actor, "ops.model.rollback", target, audit.DENIED, ip,
                     {"reason": "never deployed"})
        return Outcome(False, "只能回滚到曾经上线过的模型；新模型请用“上线”（需通过检查）。")
    deployment = _deploy(session, record, ROLLBACK, actor, actor_name)
    audit.record(session, actor, "ops.model.rollback", target, audit.OK, ip,
                 {"previous": deployment.previous_model_id, "sha256": record.sha256})
    return Outcome(True, f"已回滚到模型 #{record.id}，各助手服务将在几秒内切换。", None, deployment)


def installed_model_file(settings: OpsSettings) -> Path | None:
    """The model `make train` installed (models/*.tar.gz, newest first)."""
    files = sorted(settings.installed_models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def install_built(session: Session, settings: OpsSettings, actor: str) -> ModelRecord | None:
    """Register the model `make train` built; make it live only when no model is live yet.

    Once a model is live, a newly built one (the repository's data changed) stays a candidate
    for the gate: ops staff activate it in the console (上线, gated) like any trained model, so
    a build never bypasses the gate, and an activation or rollback survives restarts.
    """
    path = installed_model_file(settings)
    if path is None:
        return None
    sha = model_store.file_sha256(path)
    record = session.scalar(select(ModelRecord).where(ModelRecord.sha256 == sha))
    if record is None:
        record = register(
            session, path, name=path.name.removesuffix(".tar.gz"), origin=INSTALLED,
            started_by=actor, data_fingerprint=path.name.removesuffix(".tar.gz").split("-")[-1],
            started_at=datetime.fromtimestamp(path.stat().st_mtime).astimezone(),
        )
    if active_model(session) is None:
        _deploy(session, record, BOOTSTRAP, actor, None)
        audit.record(session, actor, "ops.model.bootstrap", f"model:{record.id}", audit.OK,
                     None, {"file": path.name, "sha256": record.sha256})
    return record


def ensure_active(session: Session, settings: OpsSettings) -> ModelRecord | None:
    """The live model; on a fresh database, the installed one is registered and made live."""
    live = active_model(session)
    if live is not None:
        return live
    try:
        with session.begin_nested():
            install_built(session, settings, "system")
    except IntegrityError:  # another replica bootstrapped at the same moment
        pass
    return active_model(session)
