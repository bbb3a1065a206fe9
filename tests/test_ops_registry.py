"""Model registry, activation/rollback (audited), bootstrap, and the model server Rasa polls."""

from __future__ import annotations

from pathlib import Path

import pytest

from huimin.ops import model_store, registry
from huimin.ops.gate import GateConfig
from huimin.platform.db import Database
from huimin.platform.settings import OpsSettings
from huimin.privacy import audit
from tests.ops_fixtures import evaluation, fake_model

CONFIG = GateConfig(macro_f1_tolerance=0.02, floors={"human_handoff": 0.85})


@pytest.fixture
def ops(tmp_path: Path, monkeypatch) -> OpsSettings:
    monkeypatch.setenv("INSTALLED_MODELS_DIR", str(tmp_path / "installed"))
    return OpsSettings()


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


def add(db, ops, tmp_path, name, macro, handoff=0.95):
    path = fake_model(tmp_path / "build" / f"{name}.tar.gz", model_id=f"rasa-{name}")
    with db.session() as s:
        return registry.register(
            s, path, name=name, origin=registry.TRAINED, started_by="staff:1",
            started_by_name="ops1", evaluation=evaluation(macro, {"human_handoff": handoff}),
        ).id


def audit_actions(db) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    with db.session() as s:
        rows = s.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq))
        result = [(e.action, e.target, e.result) for e in rows]
        assert audit.verify_chain(s) == []
        return result


def test_install_built_bootstraps_only_when_nothing_is_live(db, ops, tmp_path):
    with db.session() as s:
        assert registry.install_built(s, ops, "cli:dev") is None  # nothing built yet
    fake_model(ops.installed_models / "huimin-aaaa.tar.gz", model_id="first")
    with db.session() as s:
        first = registry.install_built(s, ops, "cli:dev")
        assert first.source == registry.INSTALLED and first.rasa_model_id == "first"
        assert registry.active_model(s).id == first.id
        assert model_store.stored(s, first.sha256).chunks >= 1
        first_id = first.id
    trained = add(db, ops, tmp_path, "trained", 0.95)
    with db.session() as s:
        assert registry.activate(s, trained, CONFIG, "staff:1").ok
        # Restarting `make run` with the same build does not undo the activation ...
        registry.install_built(s, ops, "cli:dev")
        assert registry.active_model(s).id == trained
    # ... and a new build (the repository's data changed) is registered as a candidate for
    # the gate, not made live behind its back (issue 14).
    (ops.installed_models / "huimin-aaaa.tar.gz").unlink()
    fake_model(ops.installed_models / "huimin-bbbb.tar.gz", model_id="second")
    with db.session() as s:
        second = registry.install_built(s, ops, "cli:dev")
        assert second.id not in (first_id, trained)
        assert second.source == registry.INSTALLED
        assert registry.active_model(s).id == trained
        assert [d.action for d in registry.history(s)] == ["activate", "bootstrap"]  # newest first
        assert registry.install_built(s, ops, "cli:dev").id == second.id  # registered once


def test_ensure_active_registers_the_installed_model_on_a_fresh_database(db, ops):
    fake_model(ops.installed_models / "huimin-cccc.tar.gz")
    with db.session() as s:
        live = registry.ensure_active(s, ops)
        assert live is not None and live.name == "huimin-cccc"
        assert registry.ensure_active(s, ops).id == live.id


def test_activation_is_gated_audited_and_rollback_needs_a_previous_deployment(db, ops, tmp_path):
    base = add(db, ops, tmp_path, "base", 0.95)
    good = add(db, ops, tmp_path, "good", 0.94)
    worse = add(db, ops, tmp_path, "worse", 0.90)
    no_handoff = add(db, ops, tmp_path, "no-handoff", 0.99, handoff=0.6)
    with db.session() as s:
        assert registry.activate(s, base, CONFIG, "staff:1", "ops1", "10.0.0.1").ok
        refused = registry.activate(s, worse, CONFIG, "staff:1")
        assert not refused.ok and "宏平均F1 0.900" in refused.message
        refused = registry.activate(s, no_handoff, CONFIG, "staff:1")
        assert not refused.ok and refused.verdict.reasons == [
            "必需意图 human_handoff 的F1为 0.600，低于下限 0.85。"]
        assert not registry.activate(s, base, CONFIG, "staff:1").ok  # already live
        assert not registry.activate(s, 9999, CONFIG, "staff:1").ok
        never = registry.rollback(s, "staff:1", good)
        assert not never.ok and "曾经上线" in never.message
        outcome = registry.activate(s, good, CONFIG, "staff:1")
        assert outcome.ok and outcome.deployment.previous_model_id == base
        assert registry.active_model(s).id == good
        back = registry.rollback(s, "staff:2", None, "ops2")
        assert back.ok and registry.active_model(s).id == base
        # The default rollback target is the model before the current one, even twice.
        assert registry.rollback(s, "staff:2").deployment.model_id == good
        assert registry.rollback(s, "staff:2", base).deployment.model_id == base
        # Compared with the live model: per-intent changes, worst first.
        diff = registry.compare(s.get(registry.ModelRecord, worse).evaluation,
                                registry.active_model(s).evaluation)
        assert diff["macro_f1"] == pytest.approx(-0.05)
        assert s.get(registry.ModelRecord, good).baseline is None  # nothing was live then
    later = add(db, ops, tmp_path, "later", 0.97)
    with db.session() as s:
        record = s.get(registry.ModelRecord, later)
        assert record.baseline["model_id"] == base
        assert record.baseline["macro_f1"] == pytest.approx(0.02)
    assert audit_actions(db) == [
        ("ops.model.activate", f"model:{base}", "ok"),
        ("ops.model.activate", f"model:{worse}", "denied"),
        ("ops.model.activate", f"model:{no_handoff}", "denied"),
        ("ops.model.rollback", f"model:{good}", "denied"),
        ("ops.model.activate", f"model:{good}", "ok"),
        ("ops.model.rollback", f"model:{base}", "ok"),
        ("ops.model.rollback", f"model:{good}", "ok"),
        ("ops.model.rollback", f"model:{base}", "ok"),
    ]


def test_the_same_file_is_registered_once(db, ops, tmp_path):
    path = fake_model(tmp_path / "m.tar.gz")
    with db.session() as s:
        a = registry.register(s, path, name="m", origin=registry.TRAINED, started_by="x")
        b = registry.register(s, path, name="m2", origin=registry.TRAINED, started_by="x")
        assert a.id == b.id and len(registry.list_models(s)) == 1


# ---- the model server -------------------------------------------------------------------------


def test_model_server_serves_the_live_model_with_etag(app, ops, tmp_path, redis_url):
    from huimin.ops.models import ConversationMessage
    from tests.ops_fixtures import Conversation, broker_for
    from webapp.extensions import services

    client = app.test_client()
    token = app.extensions["huimin"].settings.rasa_token
    url = "/ops/model-server/model"
    assert client.get(url).status_code == 401
    assert client.get(url, query_string={"token": "wrong"}).status_code == 401
    assert client.get(url, query_string={"token": token}).status_code == 404  # nothing built
    fake_model(ops.installed_models / "huimin-dddd.tar.gz", model_id="installed")
    first = client.get(url, query_string={"token": token})
    assert first.status_code == 200
    assert first.headers["filename"] == "huimin-dddd.tar.gz"
    assert first.data == (ops.installed_models / "huimin-dddd.tar.gz").read_bytes()
    etag = first.headers["ETag"]
    # What Rasa sends next time: the ETag it got, verbatim.
    again = client.get(url, query_string={"token": token}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    unquoted = client.get(url, query_string={"token": token},
                          headers={"If-None-Match": etag.strip('"')})
    assert unquoted.status_code == 304
    with app.app_context(), services().db.session() as s:
        new = registry.register(
            s, fake_model(tmp_path / "new.tar.gz", "new"), name="huimin-new",
            origin=registry.TRAINED, started_by="staff:1", evaluation=evaluation(0.9),
        )
        assert registry.activate(s, new.id, GateConfig(macro_f1_tolerance=0.02), "staff:1").ok
    switched = client.get(url, query_string={"token": token}, headers={"If-None-Match": etag})
    assert switched.status_code == 200 and switched.headers["filename"] == "huimin-new.tar.gz"
    assert switched.headers["ETag"] != etag
    # Each poll also brings the conversation log up to date.
    Conversation(broker_for(redis_url)).turn("你好", "greet", 0.99)
    client.get(url, query_string={"token": token}, headers={"If-None-Match": etag})
    with app.app_context(), services().db.session() as s:
        assert s.query(ConversationMessage).count() == 2
