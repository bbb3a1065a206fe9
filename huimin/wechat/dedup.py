"""Seen before? Callback nonces (replayed requests) and messages (WeChat's retries).

WeChat delivers a message up to three times when it gets no answer within 5 s. The first
delivery claims the message and processes it; later deliveries wait for that same answer. The
ledger records, atomically, whether the answer went out passively ("answered") or was left to
the customer-service API ("deferred"), so exactly one answer reaches the citizen.

A claim is a short lease, renewed by the claiming request while it waits for the answer. A
message still "processing" whose lease ran out was claimed by a host that died (a web host
killed mid-request behind a load balancer): a delivery waiting for it, or the next one, on any
host, takes it over and processes it instead of waiting for an answer that will never come.

A deferred message is owed: the host that replied "success" will push the answer later from
its background thread. If that host dies, nobody else knows the citizen is waiting, so at the
moment of deferral the question is recorded with the ledger entry ("owed"), under a lease the
host's heartbeat renews (OwedHeartbeat in huimin.wechat.channel). The host clears it in the
same transaction that hands its answer to the outbox; a periodic job hands an owed question
whose lease ran out to the outbox as a question for the worker to answer
(huimin.wechat.delivery.reclaim_owed) and marks the entry "reclaimed". Whoever clears it
first answers; the host, finding it reclaimed, does not.

When Redis is down nothing is remembered: every delivery is processed (no de-duplication),
which keeps the channel answering.
"""

from __future__ import annotations

from typing import Literal

from huimin.wechat.safe_redis import SafeRedis

NONCE_TTL = 600  # longer than the +-300 s timestamp window: an older replay fails on time
MESSAGE_TTL = 3600
# Seconds a claim lasts unless renewed; the claimant renews it every LEASE_SECONDS / 4, so only
# a host that died (or stalled that long) loses it.
LEASE_SECONDS = 2.0

# Seconds an owed question's lease lasts unless renewed (every OWED_LEASE_SECONDS / 12): longer
# than a Redis stall or failover, so a living host is not overtaken (nor, if it answered
# another way during the outage, answered for twice); a dead host's citizen waits about a
# minute more. An outage longer than this may answer a question twice, never lose it.
OWED_LEASE_SECONDS = 60.0
OWED_TTL = 3 * 24 * 3600  # outlives WeChat's 48-hour window, even if the periodic job is down
OWED_INDEX = "huimin:wechat:owed"  # message keys by lease expiry (ms, Redis's clock)

ANSWERED: Literal["answered"] = "answered"
DEFERRED: Literal["deferred"] = "deferred"
PROCESSING: Literal["processing"] = "processing"
State = Literal["answered", "deferred", "processing"]

# The clock is Redis's own (TIME), so hosts with skewed clocks agree on a lease's age.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HSETNX', KEYS[1], 'state', 'processing') == 1 then
  redis.call('HSET', KEYS[1], 'leased', now)
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return false
end
local state = redis.call('HGET', KEYS[1], 'state')
local leased = tonumber(redis.call('HGET', KEYS[1], 'leased') or '0')
if state == 'processing' and now - leased > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'leased', now)
  return false
end
return state
"""

_RENEW = """
if redis.call('HGET', KEYS[1], 'state') ~= 'processing' then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'leased', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1
"""

_FINISH = """
if redis.call('HGET', KEYS[1], 'state') == 'deferred' then return 'deferred' end
redis.call('HSET', KEYS[1], 'state', 'answered', 'reply', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 'answered'
"""

_DEFER = """
if redis.call('HGET', KEYS[1], 'state') == 'answered' then
  return {'answered', redis.call('HGET', KEYS[1], 'reply')}
end
redis.call('HSET', KEYS[1], 'state', 'deferred')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {'deferred', ''}
"""

# KEYS: the ledger entry, the owed index. ARGV: ttl, owed question, lease ms, message key.
_DEFER_OWING = """
if redis.call('HGET', KEYS[1], 'state') == 'answered' then return 0 end
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'state', 'deferred', 'owed', ARGV[2], 'owed_until', until_ms)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], until_ms, ARGV[4])
return 1
"""

# KEYS: the owed index. ARGV: lease ms, then message keys. Only questions still owed.
_RENEW_OWED = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  local key = 'huimin:wechat:msg:' .. ARGV[i]
  if redis.call('HEXISTS', key, 'owed') == 1 then
    redis.call('HSET', key, 'owed_until', until_ms)
    redis.call('ZADD', KEYS[1], until_ms, ARGV[i])
  end
end
return 1
"""


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def ledger_key(message_key: str) -> str:
    """The Redis hash holding a message's state (and, while owed, its question)."""
    return f"huimin:wechat:msg:{message_key}"


class NonceGuard:
    def __init__(self, redis: SafeRedis) -> None:
        self.redis = redis

    def fresh(self, nonce: str) -> bool:
        """True the first time a nonce is seen (and whenever Redis cannot tell)."""
        key = f"huimin:wechat:nonce:{nonce}"
        return bool(self.redis.get(lambda c: c.set(key, 1, nx=True, ex=NONCE_TTL), True))


class Ledger:
    """Per-message state in Redis: processing -> answered | deferred."""

    def __init__(self, redis: SafeRedis, lease_seconds: float = LEASE_SECONDS,
                 owed_lease_seconds: float = OWED_LEASE_SECONDS) -> None:
        self.redis = redis
        self.lease_seconds = lease_seconds
        self.owed_lease_seconds = owed_lease_seconds
        self.lease_ms = int(lease_seconds * 1000)
        self._claim = redis.conn.register_script(_CLAIM)
        self._renew = redis.conn.register_script(_RENEW)
        self._finish = redis.conn.register_script(_FINISH)
        self._defer = redis.conn.register_script(_DEFER)
        self._defer_owing = redis.conn.register_script(_DEFER_OWING)
        self._renew_owed = redis.conn.register_script(_RENEW_OWED)

    @staticmethod
    def _key(message_key: str) -> str:
        return ledger_key(message_key)

    def claim(self, message_key: str) -> State | None:
        """None when this delivery is to process the message (the first, or one taking over a
        claim whose lease ran out); else the message's state."""
        key = self._key(message_key)
        state = self.redis.get(
            lambda c: self._claim([key], [MESSAGE_TTL, self.lease_ms], client=c), None
        )
        return _text(state) or None  # type: ignore[return-value]

    def renew(self, message_key: str) -> None:
        """The claimant is alive and still processing: extend its lease."""
        key = self._key(message_key)
        self.redis.get(lambda c: self._renew([key], client=c), 0)

    def finish(self, message_key: str, reply: str) -> State:
        """The answer is ready: ANSWERED (reply passively) unless a waiter already DEFERRED."""
        key = self._key(message_key)
        result = self.redis.get(
            lambda c: self._finish([key], [reply, MESSAGE_TTL], client=c), ANSWERED
        )
        return DEFERRED if _text(result) == DEFERRED else ANSWERED

    def defer(self, message_key: str) -> tuple[State, str]:
        """Out of time: mark DEFERRED, unless the answer was stored meanwhile (then use it)."""
        key = self._key(message_key)
        result = self.redis.get(lambda c: self._defer([key], [MESSAGE_TTL], client=c), None)
        if result and _text(result[0]) == ANSWERED:
            return ANSWERED, _text(result[1])
        return DEFERRED, ""

    def defer_owing(self, message_key: str, question: str) -> bool:
        """Mark DEFERRED and record `question` (a delivery Item, serialised) as owed, under a
        lease; True when recorded (False: Redis unavailable, or already answered)."""
        key = self._key(message_key)
        return bool(self.redis.get(lambda c: self._defer_owing(
            [key, OWED_INDEX], [OWED_TTL, question, int(self.owed_lease_seconds * 1000),
                                message_key], client=c), 0))

    def renew_owed(self, message_keys: list[str]) -> bool:
        """This host is alive and still owes these answers: extend their leases."""
        if not message_keys:
            return True
        return bool(self.redis.get(lambda c: self._renew_owed(
            [OWED_INDEX], [int(self.owed_lease_seconds * 1000), *message_keys], client=c), 0))

    def settle(self, message_key: str) -> bool:
        """Forget an owed question whose answer went out another way (Redis was down when it
        was handed over); True when done."""
        def clear(c) -> bool:
            with c.pipeline() as pipe:
                pipe.hdel(self._key(message_key), "owed", "owed_until")
                pipe.zrem(OWED_INDEX, message_key)
                pipe.execute()
            return True
        return self.redis.get(clear, False)

    def peek(self, message_key: str) -> tuple[State | None, str]:
        key = self._key(message_key)
        state, reply = self.redis.get(lambda c: c.hmget(key, "state", "reply"), [None, None])
        return (_text(state) or None), _text(reply)  # type: ignore[return-value]
