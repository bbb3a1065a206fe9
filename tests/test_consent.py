"""Consent records on SQLite and PostgreSQL: grant, expiry, grantee, key scopes, withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huimin.identity.models import StaffAccount
from huimin.platform.db import Database, utcnow
from huimin.privacy import consent
from huimin.residents.models import Resident


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def ids(db: Database) -> dict[str, int]:
    with db.session() as s:
        resident = Resident(external_id="R1", grid_id="G1")
        other = Resident(external_id="R2", grid_id="G1")
        worker = StaffAccount(username="w", password_hash="x", roles="grid_worker")
        colleague = StaffAccount(username="c", password_hash="x", roles="grid_worker")
        s.add_all([resident, other, worker, colleague])
        s.flush()
        return {"resident": resident.id, "other": other.id, "worker": worker.id,
                "colleague": colleague.id}


def test_grant_then_withdraw_takes_effect_immediately(db, ids):
    with db.session() as s:
        consent.grant(s, ids["resident"], consent.BENEFIT_PUSH, "miniapp")
    with db.session() as s:
        assert consent.has_consent(s, ids["resident"], consent.BENEFIT_PUSH)
        assert not consent.has_consent(s, ids["other"], consent.BENEFIT_PUSH)
        assert not consent.has_consent(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS)
    with db.session() as s:
        withdrawn = consent.withdraw(s, ids["resident"], consent.BENEFIT_PUSH)
        assert len(withdrawn) == 1
    with db.session() as s:
        assert not consent.has_consent(s, ids["resident"], consent.BENEFIT_PUSH)
        # The record stays (evidence of what was agreed and when it ended).
        (record,) = consent.history(s, ids["resident"])
        assert record.withdrawn_at is not None and record.granted_at <= record.withdrawn_at


def test_consent_is_checked_at_a_moment(db, ids):
    with db.session() as s:
        consent.grant(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS, "counter",
                      expires_at=utcnow() + timedelta(days=10))
    now = utcnow()
    with db.session() as s:
        assert consent.has_consent(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS, at=now)
        assert consent.has_consent(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS,
                                   at=now + timedelta(days=9))
        assert not consent.has_consent(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS,
                                       at=now + timedelta(days=10, seconds=1))
        assert not consent.has_consent(s, ids["resident"], consent.SHARE_WITH_EMPLOYERS,
                                       at=now - timedelta(days=1))


def test_granting_again_extends_instead_of_duplicating(db, ids):
    now = utcnow()
    with db.session() as s:
        first = consent.grant(s, ids["resident"], consent.BENEFIT_PUSH, "miniapp",
                              expires_at=now + timedelta(days=1))
        second = consent.grant(s, ids["resident"], consent.BENEFIT_PUSH, "miniapp",
                               expires_at=now + timedelta(days=30))
        assert first.id == second.id
    with db.session() as s:
        assert consent.has_consent(s, ids["resident"], consent.BENEFIT_PUSH,
                                   at=now + timedelta(days=20))
        assert len(consent.history(s, ids["resident"])) == 1


def test_grantee_and_key_scope(db, ids):
    with db.session() as s:
        # Given in person to one grid worker, confirmed by a colleague, with a photo.
        consent.grant(s, ids["resident"], consent.GRID_WORKER_ASSIST, "grid_worker",
                      granted_to=ids["worker"], confirmed_by=ids["colleague"],
                      evidence="evidence/2024/abc.jpg")
        consent.grant(s, ids["other"], consent.GUIDE, "miniapp")
    with db.session() as s:
        # The key scope covers the three grid scopes, for that worker only.
        for scope in consent.GRID_SCOPES:
            assert consent.has_consent(s, ids["resident"], scope, grantee=ids["worker"])
            assert not consent.has_consent(s, ids["resident"], scope, grantee=ids["colleague"])
            assert not consent.has_consent(s, ids["resident"], scope)
        # A consent not tied to a person counts for every worker, for that scope only.
        assert consent.has_consent(s, ids["other"], consent.GUIDE, grantee=ids["colleague"])
        assert not consent.has_consent(s, ids["other"], consent.APPLY_ON_BEHALF,
                                       grantee=ids["colleague"])
        assert not consent.has_consent(s, ids["other"], consent.GRID_WORKER_ASSIST)
    with db.session() as s:
        # Withdrawing the key scope ends the scopes it covers too.
        consent.grant(s, ids["resident"], consent.VIEW_BENEFITS, "miniapp")
        ended = consent.withdraw(s, ids["resident"], consent.GRID_WORKER_ASSIST)
        assert {c.scope for c in ended} == {consent.GRID_WORKER_ASSIST, consent.VIEW_BENEFITS}
    with db.session() as s:
        assert not consent.has_consent(s, ids["resident"], consent.VIEW_BENEFITS,
                                       grantee=ids["worker"])


def test_withdraw_for_one_grantee_only(db, ids):
    with db.session() as s:
        consent.grant(s, ids["resident"], consent.GUIDE, "miniapp", granted_to=ids["worker"])
        consent.grant(s, ids["resident"], consent.GUIDE, "miniapp", granted_to=ids["colleague"])
    with db.session() as s:
        consent.withdraw(s, ids["resident"], consent.GUIDE, granted_to=ids["worker"])
    with db.session() as s:
        assert not consent.has_consent(s, ids["resident"], consent.GUIDE, grantee=ids["worker"])
        assert consent.has_consent(s, ids["resident"], consent.GUIDE, grantee=ids["colleague"])


def test_withdraw_all(db, ids):
    with db.session() as s:
        for scope in (consent.REAL_NAME, consent.BENEFIT_PUSH, consent.GUIDE):
            consent.grant(s, ids["resident"], scope, "miniapp")
    with db.session() as s:
        assert len(consent.withdraw_all(s, ids["resident"])) == 3
    with db.session() as s:
        assert consent.active_consents(s, ids["resident"]) == []


@pytest.mark.parametrize(
    ("scope", "channel", "expires_days", "message"),
    [("everything", "miniapp", None, "unknown consent scope"),
     ("benefit_push", "fax", None, "unknown channel"),
     ("benefit_push", "miniapp", -1, "future")],
)
def test_invalid_consents_are_refused(db, ids, scope, channel, expires_days, message):
    expires = utcnow() + timedelta(days=expires_days) if expires_days is not None else None
    with db.session() as s, pytest.raises(consent.ConsentError, match=message):
        consent.grant(s, ids["resident"], scope, channel, expires_at=expires)
    with db.session() as s, pytest.raises(consent.ConsentError):
        consent.has_consent(s, ids["resident"], "everything")
