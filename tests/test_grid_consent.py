"""Grid workers act only in their own grids and only under a consent in force: expiry and
withdrawal block them at once; consent by one tap in WeChat, or on paper confirmed by a
second staff member (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from huimin.grid import consents as grid_consents
from huimin.grid import history
from huimin.grid.access import GridDenied, authorize
from huimin.grid.assignment import set_grids
from huimin.grid.models import GridConsentRequest
from huimin.platform.db import Database, utcnow
from huimin.privacy import audit, consent
from huimin.privacy.models import Consent
from huimin.wechat.models import WechatUser
from tests.grid_fixtures import add_resident, add_staff, give_consent


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    yield database
    database.engine.dispose()


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def denied(db: Database, staff_id: int, resident_id: int, scopes=(consent.GUIDE,), at=None):
    with db.session() as s, pytest.raises(GridDenied) as caught:
        authorize(s, staff_id, resident_id, scopes, at=at)
    return caught.value.code


def allowed(db: Database, staff_id: int, resident_id: int, scopes=(consent.GUIDE,)) -> int:
    with db.session() as s:
        auth = authorize(s, staff_id, resident_id, scopes)
        assert auth.consent is not None
        return auth.consent.id


def test_own_grid_and_consent_required(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    mine = add_resident(db, "G1")
    theirs = add_resident(db, "G2")
    assert denied(db, worker, mine) == "consent_required"
    give_consent(db, mine)
    give_consent(db, theirs)
    assert allowed(db, worker, mine) > 0
    # Another grid's resident: refused even though that resident consented.
    assert denied(db, worker, theirs) == "not_your_grid"
    assert denied(db, worker, 999_999) == "not_found"
    # Not a grid worker at all.
    verifier = add_staff(db, "verifier")
    assert denied(db, verifier, mine) == "forbidden"


def test_each_scope_is_separate_and_the_key_scope_covers_all(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    give_consent(db, resident, consent.VIEW_BENEFITS)
    assert allowed(db, worker, resident, (consent.VIEW_BENEFITS,))
    assert denied(db, worker, resident, (consent.APPLY_ON_BEHALF,)) == "consent_required"
    assert denied(db, worker, resident, (consent.GUIDE,)) == "consent_required"
    give_consent(db, resident, consent.GRID_WORKER_ASSIST)
    for scope in consent.GRID_SCOPES:
        assert allowed(db, worker, resident, (scope,))


def test_withdrawal_blocks_immediately(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    give_consent(db, resident)
    assert allowed(db, worker, resident)
    with db.session() as s:
        consent.withdraw(s, resident, consent.GRID_WORKER_ASSIST)
    for scope in consent.GRID_SCOPES:
        assert denied(db, worker, resident, (scope,)) == "consent_required"


def test_expiry_blocks_immediately(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    consent_id = give_consent(db, resident, days=30)
    assert denied(db, worker, resident, at=utcnow() + timedelta(days=30, seconds=1)) == \
        "consent_required"
    # And for real: the consent ran out a second ago.
    with db.session() as s:
        s.get(Consent, consent_id).expires_at = utcnow() - timedelta(seconds=1)
    assert denied(db, worker, resident) == "consent_required"


def test_consent_given_to_one_grid_worker_only(db):
    named = add_staff(db, "grid_worker", ("G1",))
    colleague = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    give_consent(db, resident, granted_to=named)
    assert allowed(db, named, resident)
    assert denied(db, colleague, resident) == "consent_required"


def test_grid_reassignment_applies_at_once(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    give_consent(db, resident)
    assert allowed(db, worker, resident)
    with db.session() as s:
        set_grids(s, worker, ["G2"])
    assert denied(db, worker, resident) == "not_your_grid"


# ---- paper consent -----------------------------------------------------------------------------


def test_paper_consent_is_confirmed_by_a_supervisor_of_the_grid(db):
    recorder = add_staff(db, "grid_worker", ("G1",))
    colleague = add_staff(db, "grid_worker", ("G1",))
    outsider = add_staff(db, "grid_worker", ("G9",))
    verifier = add_staff(db, "verifier")  # an employer's code scanner
    admin = add_staff(db, "admin")
    other_supervisor = add_staff(db, "grid_supervisor", ("G9",))
    # Holding both roles does not let the recorder confirm their own form.
    both = add_staff(db, "grid_supervisor,grid_worker", ("G1",))
    supervisor = add_staff(db, "grid_supervisor", ("G1",))
    resident = add_resident(db, "G1")
    with db.session() as s:
        request, _ = grid_consents.record_paper(
            s, recorder, resident, [consent.GRID_WORKER_ASSIST], "photo/2026/0001.jpg")
        own, _ = grid_consents.record_paper(s, both, resident, [consent.GUIDE], "photo/own.jpg")
        request_id, own_id = request.id, own.id
    # Recorded is not in force.
    assert denied(db, recorder, resident) == "consent_required"
    for who, code in ((recorder, "second_staff_required"), (outsider, "forbidden"),
                      (colleague, "forbidden"), (verifier, "forbidden"), (admin, "forbidden"),
                      (other_supervisor, "forbidden")):
        with db.session() as s, pytest.raises(GridDenied) as caught:
            grid_consents.decide_paper(s, who, request_id, True)
        assert caught.value.code == code
    with db.session() as s, pytest.raises(GridDenied) as caught:
        grid_consents.decide_paper(s, both, own_id, True)
    assert caught.value.code == "second_staff_required"
    with db.session() as s:
        assert [r.id for r in grid_consents.paper_to_confirm(s, supervisor)] == [
            request_id, own_id]
        assert [r.id for r in grid_consents.paper_to_confirm(s, both)] == [request_id]
        for nobody in (recorder, colleague, verifier, admin, other_supervisor):
            assert grid_consents.paper_to_confirm(s, nobody) == []
        request, done = grid_consents.decide_paper(s, supervisor, request_id, True)
        assert request.status == "granted" and done.notify
    assert allowed(db, recorder, resident) in request.consent_ids
    with db.session() as s:
        (row,) = s.scalars(select(Consent).where(Consent.resident_id == resident))
        assert row.channel == "grid_worker"
        assert row.evidence == "photo/2026/0001.jpg"
        assert row.confirmed_by == supervisor
        assert row.granted_to is None
        days = (aware(row.expires_at) - utcnow()).total_seconds() / 86400
        assert 29.9 < days <= 30
        # Decided once only.
        with pytest.raises(GridDenied) as caught:
            grid_consents.decide_paper(s, both, request_id, True)
        assert caught.value.code == "request_closed"


def test_paper_consent_rejected_or_lapsed(db):
    recorder = add_staff(db, "grid_worker", ("G1",))
    verifier = add_staff(db, "grid_supervisor", ("G1",))
    resident = add_resident(db, "G1")
    with db.session() as s:
        first, _ = grid_consents.record_paper(s, recorder, resident, [consent.GUIDE], "p-1")
        second, _ = grid_consents.record_paper(s, recorder, resident, [consent.GUIDE], "p-2",
                                               days=10, only_me=True)
        ids = first.id, second.id
    with db.session() as s:
        rejected, _ = grid_consents.decide_paper(s, verifier, ids[0], False, reason="看不清签名")
        assert rejected.status == "rejected" and rejected.consent_ids == []
        s.get(GridConsentRequest, ids[1]).answer_by = utcnow() - timedelta(seconds=1)
    with db.session() as s, pytest.raises(GridDenied) as caught:
        grid_consents.decide_paper(s, verifier, ids[1], True)
    assert caught.value.code == "request_closed"
    with db.session() as s:
        assert s.get(GridConsentRequest, ids[1]).status == "expired"
    assert denied(db, recorder, resident) == "consent_required"


def test_paper_consent_only_for_own_grid_and_grid_scopes(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    other = add_resident(db, "G2")
    mine = add_resident(db, "G1")
    with db.session() as s, pytest.raises(GridDenied) as caught:
        grid_consents.record_paper(s, worker, other, [consent.GUIDE], "p")
    assert caught.value.code == "not_your_grid"
    for scopes in ([], [consent.REAL_NAME], ["nonsense"]):
        with db.session() as s, pytest.raises(GridDenied) as caught:
            grid_consents.record_paper(s, worker, mine, scopes, "p")
        assert caught.value.code == "invalid_input"


# ---- one tap in WeChat -----------------------------------------------------------------------


def test_one_tap_request_in_wechat(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1")
    no_wechat = add_resident(db, "G1")
    with db.session() as s:
        s.add(WechatUser(openid="o-tap", pseudonym="u-tap", resident_id=resident))
    with db.session() as s, pytest.raises(GridDenied) as caught:
        grid_consents.request_in_wechat(s, worker, no_wechat, [consent.GUIDE])
    assert caught.value.code == "no_wechat"
    with db.session() as s:
        request, done = grid_consents.request_in_wechat(
            s, worker, resident, [consent.VIEW_BENEFITS, consent.GUIDE],
            link_for=lambda rid: f"<a href='x?request={rid}'>点这里</a>")
        request_id = request.id
        assert f"request={request_id}" in (done.notify or "")
        assert "30 天" in (done.notify or "")
    # Asking again replaces the unanswered request.
    with db.session() as s:
        again, _ = grid_consents.request_in_wechat(s, worker, resident, [consent.GUIDE])
        assert [r.id for r in grid_consents.pending_for(s, resident)] == [again.id]
        request_id = again.id
    # Another resident cannot answer it.
    with db.session() as s, pytest.raises(GridDenied):
        grid_consents.answer(s, no_wechat, request_id, True, actor="citizen:9")
    with db.session() as s:
        answered = grid_consents.answer(s, resident, request_id, True, actor="citizen:1")
        assert answered.status == "granted"
    assert allowed(db, worker, resident, (consent.GUIDE,))
    assert denied(db, worker, resident, (consent.VIEW_BENEFITS,)) == "consent_required"
    with db.session() as s:
        assert grid_consents.pending_for(s, resident) == []


def test_one_tap_decline_and_requester_who_left_the_grid(db):
    worker = add_staff(db, "grid_worker", ("G1",))
    resident = add_resident(db, "G1", wechat=True, openid="o-records")
    with db.session() as s:
        first, _ = grid_consents.request_in_wechat(s, worker, resident, [consent.GUIDE])
        first_id = first.id
    with db.session() as s:
        assert grid_consents.answer(s, resident, first_id, False, actor="citizen:1").status == \
            "declined"
    with db.session() as s:
        second, _ = grid_consents.request_in_wechat(s, worker, resident, [consent.GUIDE])
        second_id = second.id
        set_grids(s, worker, ["G7"])
    with db.session() as s, pytest.raises(GridDenied) as caught:
        grid_consents.answer(s, resident, second_id, True, actor="citizen:1")
    assert caught.value.code == "requester_not_in_grid"


def test_consent_actions_are_audited_and_in_the_residents_history(db):
    recorder = add_staff(db, "grid_worker", ("G1",))
    verifier = add_staff(db, "grid_supervisor", ("G1",))
    resident = add_resident(db, "G1")
    with db.session() as s:
        request, _ = grid_consents.record_paper(s, recorder, resident, [consent.GUIDE], "p-9")
    with db.session() as s:
        grid_consents.decide_paper(s, verifier, request.id, True)
    with db.session() as s:
        page = history.history(s, resident)
        assert page["total"] == 2
        newest, oldest = page["items"]
        assert newest["action"] == "grid.consent.paper_confirm"
        assert newest["who"].startswith("网格督导员（") and "30 天有效" in newest["text"]
        assert oldest["who"].startswith("网格员（") and oldest["text"] == "登记了您签字的纸质授权书"
        assert audit.verify_chain(s) == []
