"""Rasa's Redis lock store, made safe for several Rasa worker processes.

Rasa keeps a conversation's ticket queue as one JSON value in Redis and changes it by read,
change, write (`LockStore.issue_ticket`, `finish_serving`, `cleanup`). Within one process that
is atomic (the Redis calls do not yield to the event loop); with two Sanic workers it is not:
two messages of a new conversation, taken by both workers at once, both read "no lock", both
write a queue holding only their own ticket 1, and both process at once (seen in
`tests/e2e/test_rasa_workers.py`: the second message started a second session). Here each
change is one optimistic transaction (WATCH the key, re-read, MULTI/EXEC, again on a
conflict), so tickets are issued and removed in one order for every worker.

Loaded by the Rasa server (``lock_store`` in bot/endpoints.yml), in the Rasa environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket-queue changes are atomic across processes."""

    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # loaded by module path: Rasa passes its endpoint
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply `change` to the stored lock in one transaction; (None, _) deletes it."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(current)
                    pipe.multi()
                    if new is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another worker changed the queue meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as exc:  # as Rasa's: the caller handles LockError only
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock with it when no one else waits: one step, so a
        ticket issued meanwhile by another worker is never deleted with the lock."""
        def clean(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, clean)
