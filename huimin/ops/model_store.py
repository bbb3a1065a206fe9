"""The model store: trained model archives in the database, content-addressed and chunked.

Every web host (the model server Rasa replicas poll), worker and trainer host reaches the
database, so the store needs no shared disk. An archive is addressed by its SHA-256 and kept as
1 MiB rows of ``ops_model_blobs`` under one ``ops_model_files`` row; it is written and read one
chunk at a time, so a model of hundreds of megabytes never sits whole in a process's memory.
The header row and its chunks are written in one transaction: a reader sees a whole archive or
none, and two hosts storing the same archive at once collide on the header's key instead of
interleaving chunks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from huimin.ops.models import ModelBlob, ModelFile
from huimin.platform.db import Database

CHUNK = 1 << 20  # bytes per row: large enough to stream quickly, small enough for any driver


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stored(session: Session, sha256: str) -> ModelFile | None:
    """The archive's header row (None while it is not stored)."""
    return session.get(ModelFile, sha256)


def put(session: Session, source: Path) -> tuple[str, int]:
    """Store a file (once per content) in the caller's transaction; returns (sha256, size)."""
    sha = file_sha256(source)
    existing = stored(session, sha)
    if existing is not None:
        return sha, existing.size
    size, chunks = source.stat().st_size, 0
    session.add(ModelFile(sha256=sha, size=size, chunks=-1))
    session.flush()  # claims the key first: a concurrent writer of the same file waits here
    digest = hashlib.sha256()
    with source.open("rb") as f:
        for data in iter(lambda: f.read(CHUNK), b""):
            digest.update(data)
            session.execute(insert(ModelBlob), [{"sha256": sha, "seq": chunks, "data": data}])
            chunks += 1
    if digest.hexdigest() != sha:  # the file changed while it was read: store nothing
        raise ValueError(f"{source}: file changed while it was being stored")
    header = stored(session, sha)
    header.chunks, header.size = chunks, size
    session.flush()
    return sha, size


def read_chunks(db: Database, sha256: str) -> Iterator[bytes]:
    """The archive's bytes, chunk by chunk, one short query each (a stream of any length
    holds no connection between chunks). Raises KeyError if the archive is not stored."""
    with db.session() as session:
        header = stored(session, sha256)
        if header is None or header.chunks < 0:
            raise KeyError(sha256)
        count = header.chunks
    for seq in range(count):
        with db.session() as session:
            data = session.scalar(
                select(ModelBlob.data).where(ModelBlob.sha256 == sha256, ModelBlob.seq == seq)
            )
        if data is None:
            raise KeyError(f"{sha256} chunk {seq}")
        yield bytes(data)


def export(db: Database, sha256: str, target: Path) -> Path:
    """Write the archive to ``target`` (atomically), checking its digest on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            for data in read_chunks(db, sha256):
                digest.update(data)
                f.write(data)
        if digest.hexdigest() != sha256:
            raise ValueError(f"model {sha256[:12]}: stored bytes do not match their address")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove(session: Session, sha256: str) -> None:
    """Drop an archive (its registry row, if any, then names a missing file)."""
    session.execute(delete(ModelBlob).where(ModelBlob.sha256 == sha256))
    session.execute(delete(ModelFile).where(ModelFile.sha256 == sha256))
