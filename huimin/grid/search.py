"""Finding a resident in my grids by name or the last characters of the ID number.

Names and ID numbers are encrypted at rest, so they cannot be matched in SQL; the search
decrypts the residents of the worker's own grids only (a grid holds hundreds to a few
thousand people) and never looks beyond them.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.privacy.pii import ID_NUMBER, NAME, PiiCipher
from huimin.residents.models import Resident

MAX_QUERY = 20
MAX_HITS = 50
_ID_TAIL = re.compile(r"[0-9]{3}[0-9Xx]|[0-9]{4}")


def _plain(cipher: PiiCipher, value: bytes | str | None, field: str) -> str:
    if value is None:
        return ""
    return cipher.decrypt(value.decode() if isinstance(value, bytes) else value, field=field)


def find(
    session: Session, grid_ids: Collection[str], text: str, cipher: PiiCipher
) -> tuple[int, ...]:
    """Ids of residents in ``grid_ids`` whose name contains ``text``, or whose ID number ends
    with it (4 characters, as shown on a masked ID: 3401**********123X)."""
    query = text.strip()[:MAX_QUERY]
    if not query or not grid_ids:
        return ()
    id_tail = query.upper() if _ID_TAIL.fullmatch(query) else None
    hits: list[int] = []
    rows = session.execute(select(Resident.id, Resident.name_enc, Resident.id_number_enc)
                           .where(Resident.grid_id.in_(sorted(grid_ids))).order_by(Resident.id))
    for rid, name_enc, id_enc in rows:
        if id_tail is not None:
            found = _plain(cipher, id_enc, ID_NUMBER).upper().endswith(id_tail)
        else:
            found = query in _plain(cipher, name_enc, NAME)
        if found:
            hits.append(rid)
            if len(hits) >= MAX_HITS:
                break
    return tuple(hits)
