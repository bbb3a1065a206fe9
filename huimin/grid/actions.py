"""What an action taken for a resident leaves behind: an audit entry (the record the
resident's history is read from) and, maybe, a message to tell the resident about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from huimin.privacy import audit


@dataclass(frozen=True)
class Done:
    resident_id: int
    # Unique per action (the audit entry's seq): the notification job's idempotency key.
    key: str
    # Short Chinese text for the resident's WeChat; None when there is nothing to tell.
    notify: str | None = None


def record(
    session: Session,
    actor: str,
    action: str,
    resident_id: int,
    detail: dict[str, Any] | None = None,
    *,
    ip: str | None = None,
    notify: str | None = None,
) -> Done:
    entry = audit.record(session, actor, action, f"resident:{resident_id}", audit.OK, ip, detail)
    return Done(resident_id, f"audit-{entry.seq}", notify)
