"""A Redis tracker store that reads the current session and writes only the new events.

Rasa's `RedisTrackerStore` keeps a conversation as one JSON value. Per message it reads and
rebuilds the whole conversation three times (the processor's `retrieve`; `stream_events`,
which reads it again to find the events to publish; `save`, which reads it a third time to
merge, replaying it in `travel_back_in_time`) and writes it whole once: about a fifth of
Rasa's CPU per message under the realistic mix (py-spy, README), growing with the
conversation. Here a conversation is a Redis list of its events (one JSON object each, as
Rasa's `Event.as_dict` gives them) and a small hash holding where its latest session starts:

- `retrieve` reads the latest session only (one Lua call: LRANGE from the stored index) and
  rebuilds the tracker exactly as `RedisTrackerStore.retrieve` does (the whole conversation
  when it has a single session, `DialogueStateTracker.from_events` of the last one otherwise);
- `save` appends the events the tracker gained since it was read (the tracker remembers how
  many it was read with and the last of them, by identity) in one Lua call that checks the
  list's length first, and hands the same new events to the event broker, with no second read;
- any other tracker (a new one, one built by the HTTP API, a list changed meanwhile) goes the
  stock way: the stored conversation is read whole and merged with Rasa's own
  `_merge_trackers`, the broker gets Rasa's own event difference, and the list is rewritten.

A conversation stored by the stock store (a string key) is read as before and moved to the
list on its next save. Loaded by the Rasa server (``tracker_store`` in bot/endpoints.yml), in
the Rasa environment. One conversation is handled by one worker at a time (the lock store),
and the length check turns a write by anyone else meanwhile into the stock merge.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.events import ActionExecuted, Event, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker, TrackerEventDiffEngine

# Set on a tracker this store read or wrote: (events in the list, events of the tracker that
# are in the list, the last of those).
_STORED = "_huimin_stored"

# KEYS: events list, meta hash. Returns {exists, list length, session start, events...}.
_READ_SESSION = """
local s = redis.call('HGET', KEYS[2], 'session')
local n = redis.call('LLEN', KEYS[1])
if not s and n == 0 then return {0, 0, 0, {}} end
s = tonumber(s or '0')
return {1, n, s, redis.call('LRANGE', KEYS[1], s, -1)}
"""

# KEYS: events list, meta hash. ARGV: expected length, ttl (0: none), new session start (-1:
# unchanged), events... Returns the new length, or -1 when the list is not the one read.
_APPEND = """
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return -1 end
for i = 4, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if tonumber(ARGV[3]) >= 0 then redis.call('HSET', KEYS[2], 'session', ARGV[3]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return redis.call('LLEN', KEYS[1])
"""


def _is_session_start(event: Event) -> bool:
    """Where `get_trackers_for_conversation_sessions` splits a conversation."""
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME


def _last_session_start(events: Iterable[Event], offset: int = 0) -> int:
    """Index (counted from `offset`) of the last session start in `events`, or -1."""
    found = -1
    for i, event in enumerate(events):
        if _is_session_start(event):
            found = offset + i
    return found


class SessionRedisTrackerStore(RedisTrackerStore):
    """``tracker_store: {type: huimin.ops.rasa_tracker.SessionRedisTrackerStore, url, ...}``:
    the settings of Rasa's `RedisTrackerStore` (port, db, password, key_prefix, record_exp)."""

    def __init__(self, domain: Any = None, host: str = "localhost", **kwargs: Any) -> None:
        super().__init__(domain=domain, host=host, **kwargs)
        # Rasa ignores a prefix that is not alphanumeric ("huimin-tracker") for its own key;
        # the lists use it as given.
        prefix = kwargs.get("key_prefix") or "tracker"
        self.events_prefix = f"{prefix}:events:"
        self.meta_prefix = f"{prefix}:meta:"
        self._read_session = self.red.register_script(_READ_SESSION)
        self._append = self.red.register_script(_APPEND)

    def _keys(self, sender_id: str) -> list[str]:
        return [self.events_prefix + sender_id, self.meta_prefix + sender_id]

    @staticmethod
    def _mark(tracker: DialogueStateTracker, stored: int) -> None:
        events = tracker.events
        setattr(tracker, _STORED, (stored, len(events), events[-1] if events else None))

    def _from_session(self, sender_id: str, events: list[Event], whole: bool
                      ) -> DialogueStateTracker:
        """The tracker `RedisTrackerStore.retrieve` builds: the whole conversation replayed
        into a new tracker, or the last session's events applied one by one."""
        if whole:
            tracker = self.init_tracker(sender_id)
            tracker.recreate_from_dialogue(Dialogue(sender_id, events))
            return tracker
        return DialogueStateTracker.from_events(
            sender_id, events, self.domain.slots, max_event_history=self.max_event_history)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's latest session, or None if it was never saved."""
        exists, length, start, raw = self._read_session(keys=self._keys(sender_id))
        if not exists:
            return await super().retrieve(sender_id)  # stored by the stock store, or None
        events = deserialise_events([json.loads(e) for e in raw])
        tracker = self._from_session(sender_id, events, whole=int(start) == 0)
        self._mark(tracker, int(length))
        return tracker

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        """Every session of the conversation (Rasa's API and exports)."""
        events = self._read_all(sender_id)
        if events is None:
            return await super().retrieve_full_tracker(sender_id)
        tracker = self._from_session(sender_id, events, whole=True)
        self._mark(tracker, len(events))
        return tracker

    def _read_all(self, sender_id: str) -> list[Event] | None:
        events_key, meta_key = self._keys(sender_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.exists(meta_key)
            pipe.lrange(events_key, 0, -1)
            exists, raw = pipe.execute()
        if not exists and not raw:
            return None
        return deserialise_events([json.loads(e) for e in raw])

    async def exists(self, conversation_id: str) -> bool:
        return bool(self.red.exists(*self._keys(conversation_id),
                                    self.key_prefix + conversation_id))

    async def keys(self) -> Iterable[str]:
        """The conversation IDs (including any still in the stock store's format)."""
        found = {k.removeprefix(self.meta_prefix)
                 for k in self.red.scan_iter(match=self.meta_prefix + "*", count=1000)}
        found |= {k.removeprefix(self.key_prefix)
                  for k in self.red.scan_iter(match=self.key_prefix + "*", count=1000)}
        return sorted(found)

    async def save(self, tracker: DialogueStateTracker, timeout: float | None = None) -> None:
        """Append the tracker's new events; anything else is merged as Rasa merges it."""
        ttl = int(timeout or self.record_exp or 0)
        stored = getattr(tracker, _STORED, None)
        if stored is not None:
            length, known, last = stored
            events = tracker.events
            if len(events) >= known and (known == 0 or events[known - 1] is last):
                new = list(itertools.islice(events, known, None))
                if await self._append_new(tracker, new, length, ttl):
                    return
        await self._save_merged(tracker, ttl)

    async def _append_new(self, tracker: DialogueStateTracker, new: list[Event], length: int,
                          ttl: int) -> bool:
        """Append `new` and publish it; False (nothing written) if the list changed since
        the tracker was read."""
        sender_id = tracker.sender_id
        dicts = [e.as_dict() for e in new]
        start = _last_session_start(new, offset=length)
        result = self._append(keys=self._keys(sender_id), args=[
            length, ttl, start, *(json.dumps(d, ensure_ascii=False) for d in dicts),
        ])
        if int(result) < 0:
            return False
        self._mark(tracker, int(result))
        if self.event_broker is not None:  # the same bodies as `_stream_new_events`
            bodies = [{"sender_id": sender_id, **d} for d in dicts]
            publish_many = getattr(self.event_broker, "publish_many", None)
            if publish_many is not None:  # one round trip (huimin/ops/rasa_events.py)
                publish_many(bodies)
            else:
                for body in bodies:
                    self.event_broker.publish(body)
        return True

    async def _save_merged(self, tracker: DialogueStateTracker, ttl: int) -> None:
        """Rasa's `RedisTrackerStore.save`, written to the list: publish the difference with
        the stored latest session, merge with the stored conversation, rewrite it."""
        sender_id = tracker.sender_id
        if self.event_broker is not None:
            old = await self.retrieve(sender_id)
            new = TrackerEventDiffEngine.event_difference(old, tracker)
            await self._stream_new_events(self.event_broker, new, sender_id)
        prior = self._read_all(sender_id)
        if prior is None:
            stock = await super().retrieve_full_tracker(sender_id)  # not yet moved
            prior = list(stock.events) if stock is not None else None
        merged = tracker
        if prior is not None:
            merged = self._merge_trackers(self._from_session(sender_id, prior, whole=True),
                                          tracker)
        events = list(merged.events)
        events_key, meta_key = self._keys(sender_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.delete(events_key, meta_key, self.key_prefix + sender_id)
            if events:
                pipe.rpush(events_key, *(json.dumps(e.as_dict(), ensure_ascii=False)
                                         for e in events))
            pipe.hset(meta_key, "session", max(0, _last_session_start(events)))
            if ttl:
                pipe.expire(events_key, ttl)
                pipe.expire(meta_key, ttl)
            pipe.execute()
        if merged is tracker:
            self._mark(tracker, len(events))
        else:  # the tracker holds the latest session only; its events end the list
            setattr(tracker, _STORED, None)
            if len(tracker.events) and events and events[-1] is tracker.events[-1]:
                self._mark(tracker, len(events))
