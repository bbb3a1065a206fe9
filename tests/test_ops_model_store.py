"""The model store in the database: content-addressed, chunked, streamed, shared by hosts
that share no disk, and the upgrade that copies the old folder store in."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from huimin.ops import model_store, registry
from huimin.ops.models import ModelBlob
from huimin.platform.db import Database
from huimin.platform.settings import ROOT
from tests.services import temporary_postgres


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


def archive(path: Path, size: int) -> Path:
    """A file of ``size`` pseudo-random bytes (not compressible, so chunks are real)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 1 << 16))
            f.write(block)
            remaining -= len(block)
    return path


def test_a_model_is_stored_once_in_chunks_and_read_back_whole(db, tmp_path):
    source = archive(tmp_path / "m.tar.gz", 2 * model_store.CHUNK + 12345)
    with db.session() as s:
        sha, size = model_store.put(s, source)
        assert (sha, size) == (model_store.file_sha256(source), source.stat().st_size)
        assert model_store.put(s, source) == (sha, size)  # the same content: stored once
    with db.session() as s:
        assert model_store.stored(s, sha).chunks == 3
        assert s.scalar(select(func.count()).select_from(ModelBlob)) == 3
    chunks = list(model_store.read_chunks(db, sha))
    assert [len(c) for c in chunks] == [model_store.CHUNK, model_store.CHUNK, 12345]
    assert b"".join(chunks) == source.read_bytes()
    copy = model_store.export(db, sha, tmp_path / "out" / "copy.tar.gz")
    assert copy.read_bytes() == source.read_bytes()
    with pytest.raises(KeyError):
        list(model_store.read_chunks(db, "0" * 64))
    with db.session() as s:
        model_store.remove(s, sha)
    with pytest.raises(KeyError):
        model_store.export(db, sha, tmp_path / "gone.tar.gz")
    assert not (tmp_path / "gone.tar.gz").exists() and not list(tmp_path.glob("*.part"))


def test_a_damaged_store_is_not_exported_under_its_address(db, tmp_path):
    source = archive(tmp_path / "m.tar.gz", model_store.CHUNK + 10)
    with db.session() as s:
        sha, _ = model_store.put(s, source)
        s.execute(ModelBlob.__table__.update().where(ModelBlob.seq == 1).values(data=b"x" * 10))
    with pytest.raises(ValueError, match="do not match"):
        model_store.export(db, sha, tmp_path / "out.tar.gz")
    assert not (tmp_path / "out.tar.gz").exists()


def test_a_reader_never_sees_half_a_model_while_it_is_written(postgresql_url, tmp_path):
    """Two hosts: one stores a model (uncommitted), the other polls and sees none until commit."""
    writer, reader = Database(postgresql_url), Database(postgresql_url)
    source = archive(tmp_path / "m.tar.gz", 3 * model_store.CHUNK)
    sha = model_store.file_sha256(source)
    stored, proceed = threading.Event(), threading.Event()

    def write() -> None:
        with writer.session() as s:
            model_store.put(s, source)
            stored.set()
            proceed.wait(10)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert stored.wait(20)
        with pytest.raises(KeyError):
            list(model_store.read_chunks(reader, sha))
    finally:
        proceed.set()
        thread.join()
    assert hashlib.sha256(b"".join(model_store.read_chunks(reader, sha))).hexdigest() == sha
    writer.engine.dispose()
    reader.engine.dispose()


def test_two_web_hosts_serve_the_model_one_registered_without_a_shared_disk(
    postgresql_url, redis_url, tmp_path, monkeypatch
):
    """The trainer registers a model from its own disk; a web host with none serves it."""
    from tests.ops_fixtures import fake_model
    from webapp import create_app

    monkeypatch.setenv("INSTALLED_MODELS_DIR", str(tmp_path / "web-host-has-no-models"))
    trainer_disk = tmp_path / "trainer"
    source = fake_model(trainer_disk / "huimin-big.tar.gz", model_id="big")
    with source.open("ab") as f:  # beyond one chunk (gzip ignores trailing bytes for tar)
        f.write(os.urandom(model_store.CHUNK + 777))
    db = Database(postgresql_url)
    with db.session() as s:
        record = registry.register(s, source, name="huimin-big", origin=registry.INSTALLED,
                                   started_by="trainer")
        s.flush()
        s.add(registry.Deployment(model_id=record.id, action=registry.BOOTSTRAP,
                                  actor="trainer"))
    expected = source.read_bytes()
    source.unlink()  # the trainer's copy is gone: only the database has it
    for host in ("web-1", "web-2"):
        app = create_app({"database_url": postgresql_url, "redis_url": redis_url})
        token = app.extensions["huimin"].settings.rasa_token
        served = app.test_client().get("/ops/model-server/model", query_string={"token": token})
        assert served.status_code == 200, host
        assert served.data == expected and served.headers["Content-Length"] == str(len(expected))
    db.engine.dispose()


def test_the_upgrade_copies_registered_models_from_the_old_folder_store(tmp_path, monkeypatch):
    """No trained model is lost by moving the store: the migration copies the folder in."""
    folder = tmp_path / "model-store"
    source = archive(tmp_path / "m.tar.gz", model_store.CHUNK + 99)
    sha = model_store.file_sha256(source)
    folder.mkdir()
    (folder / f"{sha}.tar.gz").write_bytes(source.read_bytes())
    (folder / f"{'e' * 64}.tar.gz").write_bytes(b"not registered: not copied")
    monkeypatch.setenv("MODEL_STORE_DIR", str(folder))
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    with temporary_postgres() as url:
        cfg.attributes.update(url=url, skip_logging=True)
        command.upgrade(cfg, "0014_merge")
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO ops_models (name, sha256, size, source, started_by, started_at,"
                " registered_at, annotation_count) VALUES ('m', :sha, 1, 'installed', 'x',"
                " now(), now(), 0)"), {"sha": sha})
        command.upgrade(cfg, "heads")
        assert b"".join(model_store.read_chunks(db, sha)) == source.read_bytes()
        with db.session() as s:
            assert model_store.stored(s, "e" * 64) is None
        db.engine.dispose()
