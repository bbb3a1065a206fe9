"""When to re-match: a policy whose rule in force changed (a new version, or an edit of the
data), noticed by comparing fingerprints with the last ones seen.

The fingerprint of a policy is its version in force plus a hash of the rule's content, so
both a new version (written by ops staff, or coming into force on its start date) and an
edit in place are seen. What was seen lives in Redis; losing it only costs one extra
matching run, which is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

import redis

from huimin.rules import Rule, RuleBook

SEEN_KEY = "huimin:benefits:rules-seen"


def fingerprint(rule: Rule) -> str:
    content = {
        "condition": rule.condition.model_dump(mode="json", by_alias=True, exclude_none=True),
        "amount": rule.amount.model_dump(mode="json") if rule.amount else None,
        "duration": rule.duration.model_dump(mode="json") if rule.duration else None,
        "from": rule.effective_from.isoformat(),
        "to": rule.effective_to.isoformat() if rule.effective_to else None,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"v{rule.version}-{digest[:12]}"


def fingerprints(book: RuleBook, as_of: date) -> dict[str, str]:
    """Policy -> fingerprint of its rule in force on `as_of`."""
    return {rule.policy: fingerprint(rule) for rule in book.in_force(as_of)}


def changed_policies(conn: redis.Redis, book: RuleBook, as_of: date) -> dict[str, str]:
    """Policies whose rule in force differs from the one last recorded by `mark_seen`."""
    seen = {k.decode(): v.decode() for k, v in conn.hgetall(SEEN_KEY).items()}
    return {p: fp for p, fp in fingerprints(book, as_of).items() if seen.get(p) != fp}


def mark_seen(conn: redis.Redis, changes: dict[str, str]) -> None:
    if changes:
        conn.hset(SEEN_KEY, mapping=changes)
