"""Rasa's Redis lock store, made safe for several Rasa worker processes, in one round trip
per change.

Rasa keeps a conversation's ticket queue as one JSON value in Redis and changes it by read,
change, write (`LockStore.issue_ticket`, `update_lock`, `finish_serving`, `cleanup`). Within one
process that is atomic (the Redis calls do not yield to the event loop); with two Sanic workers
it is not: two messages of a new conversation, taken by both workers at once, both read "no
lock", both write a queue holding only their own ticket 1, and both process at once (seen in
`tests/e2e/test_rasa_workers.py`: the second message started a second session).

Each change is one Lua script run by Redis (atomic, and one round trip where a WATCH/GET/MULTI
transaction took three, and stock Rasa's cleanup four): a message's lock costs three round
trips in all (issue, read, clean up). The scripts keep Rasa's stored format (a JSON object
whose `tickets` are JSON strings `{"number", "expires"}`) and its rules: expired tickets are
dropped before any change (expiry judged by this process's clock, as Rasa's `Ticket` does), a
new ticket is the last one's number + 1, and cleaning up deletes the lock when no ticket is
left, in the same step, so a ticket issued meanwhile by another worker is never lost with it.

Loaded by the Rasa server (``lock_store`` in bot/endpoints.yml), in the Rasa environment.
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

# KEYS[1] the lock; ARGV: now, then per script below. Returns the tickets kept (raw strings).
_LIVE_TICKETS = """
local function live_tickets(raw, now)
  local kept = {}
  if raw then
    for _, t in ipairs(cjson.decode(raw)['tickets'] or {}) do
      if tonumber(cjson.decode(t)['expires']) >= now then table.insert(kept, t) end
    end
  end
  return kept
end
local function save(key, conversation, tickets)
  -- cjson writes an empty table as {}: Rasa reads a list, so an empty queue is spelled out
  local list = '[]'
  if #tickets > 0 then list = cjson.encode(tickets) end
  redis.call('SET', key, '{"conversation_id": ' .. cjson.encode(conversation) ..
             ', "tickets": ' .. list .. '}')
end
local now = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local tickets = live_tickets(raw, now)
"""

# ARGV: now, lifetime, conversation id. Returns the new ticket's number.
_ISSUE = _LIVE_TICKETS + """
local number = 0
if #tickets > 0 then number = cjson.decode(tickets[#tickets])['number'] + 1 end
table.insert(tickets, cjson.encode({number = number, expires = now + tonumber(ARGV[2])}))
save(KEYS[1], ARGV[3], tickets)
return number
"""

# ARGV: now, conversation id, ticket to remove ('' for none), delete when empty ('1'/'0').
_REMOVE = _LIVE_TICKETS + """
if not raw then return 0 end
local kept = {}
for _, t in ipairs(tickets) do
  if ARGV[3] == '' or cjson.decode(t)['number'] ~= tonumber(ARGV[3]) then
    table.insert(kept, t)
  end
end
if #kept == 0 and ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
else
  save(KEYS[1], ARGV[2], kept)
end
return #kept
"""


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket-queue changes are atomic across processes."""

    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # loaded by module path: Rasa passes its endpoint
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**kwargs)
        self._issue = self.red.register_script(_ISSUE)
        self._remove = self.red.register_script(_REMOVE)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=[self.key_prefix + conversation_id],
                                   args=[time.time(), lock_lifetime, conversation_id]))
        except Exception as exc:  # as Rasa's: the caller handles LockError only
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def _drop(self, conversation_id: str, ticket: int | None, *, delete_empty: bool) -> None:
        self._remove(keys=[self.key_prefix + conversation_id],
                     args=[time.time(), conversation_id, "" if ticket is None else ticket,
                           "1" if delete_empty else "0"])

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (Rasa's is a read and a write another worker could undo)."""
        self._drop(conversation_id, None, delete_empty=False)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._drop(conversation_id, ticket_number, delete_empty=False)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock with it when no one else waits: one step, so a
        ticket issued meanwhile by another worker is never deleted with the lock."""
        self._drop(conversation_id, ticket_number, delete_empty=True)
