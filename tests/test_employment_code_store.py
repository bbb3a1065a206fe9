"""Employment-code storage on real SQLite and PostgreSQL: issuing from a resident's facts,
revocation (status change, holder request, facts changed elsewhere), the scan log, the
offline revocation list, the development key bootstrap and what verifiers may learn."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from huimin.employment_code import (
    EmploymentCodes,
    InsufficientFactsError,
    NoSigningKeyError,
    Reason,
    Status,
    generate_key,
    new_subject_id,
    store,
)
from huimin.employment_code.disclosure import job_seeking_summary, masked_name
from huimin.employment_code.runtime import CodesProvider
from huimin.platform.db import Database
from huimin.platform.settings import EmploymentCodeSettings, Settings
from huimin.privacy.pii import NAME, cipher_from_settings
from huimin.residents.models import Resident

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
TODAY = date(2025, 6, 1)
PUBLIC = store.Verifier()
EMPLOYER = store.Verifier(store.VERIFIER, "staff:7", "hr_acme")


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    generate_key("k1", directory, activates_at=NOW - timedelta(days=1))
    return directory


@pytest.fixture
def codes(key_dir: Path) -> EmploymentCodes:
    return EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": str(key_dir)})


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    yield database
    database.engine.dispose()


def add_resident(db: Database, external_id: str, **facts: object) -> int:
    with db.session() as s:
        resident = Resident(external_id=external_id, **facts)
        s.add(resident)
        s.flush()
        return resident.id


def set_facts(db: Database, resident_id: int, **facts: object) -> None:
    with db.session() as s:
        resident = s.get(Resident, resident_id)
        for name, value in facts.items():
            setattr(resident, name, value)


def issue(db: Database, codes: EmploymentCodes, resident_id: int, at: datetime = NOW):
    with db.session() as s:
        return store.issue_code(s, codes, resident_id, now=at, today=TODAY)


def verify(db, codes, code, verifier=PUBLIC, at: datetime = NOW) -> store.ScanOutcome:
    with db.session() as s:
        return store.verify_code(s, codes, code, verifier, now=at, today=TODAY)


def test_issue_derives_status_and_each_code_gets_a_fresh_subject(db, codes):
    rid = add_resident(db, "r1", employment_status="unemployed", registered_unemployed=True)
    first, second = issue(db, codes, rid), issue(db, codes, rid)
    assert first.status is second.status is Status.JOB_SEEKING
    assert first.colour.value == "blue" and first.label == "蓝码 · 正在求职"
    assert first.subject != second.subject and first.jti != second.jti
    assert first.expires_at == NOW + timedelta(seconds=600)
    with db.session() as s:
        record = store.find_code(s, first.jti)
        assert record.resident_id == rid and record.code == first.code
    outcome = verify(db, codes, first.code, at=NOW + timedelta(minutes=1))
    assert outcome.verification.reason is Reason.OK and outcome.verification.valid
    assert outcome.record.resident_id == rid and outcome.scan.resident_id == rid


def test_issue_without_enough_facts_or_resident_raises(db, codes):
    rid = add_resident(db, "r-empty")
    with pytest.raises(InsufficientFactsError):
        issue(db, codes, rid)
    with pytest.raises(store.HolderNotFoundError):
        issue(db, codes, rid + 999)


def test_hard_to_employ_is_orange_and_a_job_is_green(db, codes):
    rid = add_resident(db, "r2", employment_status="unemployed", hard_to_employ=True)
    assert issue(db, codes, rid).colour.value == "orange"
    rid2 = add_resident(db, "r3", employment_status="flexible", hard_to_employ=True)
    assert issue(db, codes, rid2).colour.value == "green"


def test_status_change_at_issue_revokes_older_codes_only_of_the_old_status(db, codes):
    rid = add_resident(db, "r4", employment_status="unemployed")
    old = issue(db, codes, rid)
    set_facts(db, rid, employment_status="employed")
    new = issue(db, codes, rid, NOW + timedelta(seconds=5))
    newer = issue(db, codes, rid, NOW + timedelta(seconds=10))
    at = NOW + timedelta(seconds=20)
    assert verify(db, codes, old.code, at=at).verification.reason is Reason.REVOKED
    assert verify(db, codes, new.code, at=at).verification.reason is Reason.OK
    assert verify(db, codes, newer.code, at=at).verification.reason is Reason.OK
    with db.session() as s:
        assert store.find_code(s, old.jti).revoke_reason == store.STATUS_CHANGE
        assert store.find_code(s, new.jti).revoked_at is None


def test_facts_changed_elsewhere_revoke_at_the_next_scan_and_reach_the_list(db, codes):
    rid = add_resident(db, "r5", employment_status="unemployed")
    code = issue(db, codes, rid)
    set_facts(db, rid, employment_status="retired")  # e.g. the data integration
    at = NOW + timedelta(minutes=2)
    outcome = verify(db, codes, code.code, at=at)
    assert outcome.verification.reason is Reason.REVOKED
    assert outcome.scan.detail == "revoked_status_change"
    assert outcome.verification.status is None and outcome.verification.colour is None
    with db.session() as s:
        listed = store.revoked_since(s, NOW, now=at)
        assert [r.jti for r in listed] == [code.jti]


def test_revoke_if_status_changed_is_eager_and_idempotent(db, codes):
    rid = add_resident(db, "r6", employment_status="unemployed")
    code = issue(db, codes, rid)
    with db.session() as s:
        assert store.revoke_if_status_changed(s, rid, now=NOW, today=TODAY) == 0
    set_facts(db, rid, employment_status=None)  # status can no longer be derived
    with db.session() as s:
        assert store.revoke_if_status_changed(s, rid, now=NOW, today=TODAY) == 1
        assert store.revoke_if_status_changed(s, rid, now=NOW, today=TODAY) == 0
    assert verify(db, codes, code.code).verification.reason is Reason.REVOKED


def test_holder_revocation_and_the_offline_list(db, codes):
    rid = add_resident(db, "r7", employment_status="unemployed")
    other = add_resident(db, "r8", employment_status="employed")
    a, b = issue(db, codes, rid), issue(db, codes, rid)
    keep = issue(db, codes, other)
    revoked_at = NOW + timedelta(minutes=1)
    with db.session() as s:
        assert store.revoke_codes(s, rid, store.HOLDER_REQUEST, now=revoked_at) == 2
    for code in (a, b):
        assert verify(db, codes, code.code, at=revoked_at).verification.reason is Reason.REVOKED
    assert verify(db, codes, keep.code, at=revoked_at).verification.valid
    with db.session() as s:
        listed = store.revoked_since(s, NOW, now=revoked_at)
        assert {r.jti for r in listed} == {a.jti, b.jti}
        assert all(r.revoke_reason == store.HOLDER_REQUEST for r in listed)
        assert store.revoked_since(s, revoked_at + timedelta(seconds=1), now=revoked_at) == []
        # Once the codes have expired (plus leeway) offline verifiers no longer need them.
        later = NOW + timedelta(seconds=600 + 31)
        assert store.revoked_since(s, NOW, now=later, leeway_seconds=30) == []
        assert len(store.revoked_since(s, NOW, now=later - timedelta(seconds=2),
                                       leeway_seconds=30)) == 2


def test_code_signed_by_our_key_but_never_issued_is_rejected(db, codes):
    forged = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)  # e.g. a leaked test key use
    outcome = verify(db, codes, forged.code)
    assert outcome.verification.reason is Reason.REVOKED
    assert outcome.scan.detail == "unknown_code" and outcome.scan.resident_id is None


def test_every_scan_is_logged_with_who_and_result_and_the_holder_sees_theirs(db, codes):
    rid = add_resident(db, "r9", employment_status="unemployed")
    other = add_resident(db, "r10", employment_status="employed")
    code = issue(db, codes, rid)
    verify(db, codes, code.code, PUBLIC, NOW + timedelta(seconds=1))
    verify(db, codes, code.code, EMPLOYER, NOW + timedelta(seconds=2))
    expired = verify(db, codes, code.code, EMPLOYER, NOW + timedelta(hours=1))
    assert expired.verification.reason is Reason.EXPIRED
    tampered = code.code[:-4] + ("AAAA" if not code.code.endswith("AAAA") else "BBBB")
    bad = verify(db, codes, tampered, EMPLOYER, NOW + timedelta(seconds=3))
    assert bad.verification.reason is Reason.BAD_SIGNATURE and bad.scan.resident_id is None
    verify(db, codes, issue(db, codes, other).code, EMPLOYER)
    with db.session() as s:
        scans = store.holder_scans(s, rid)
        assert [(x.verifier_kind, x.verifier_name, x.reason) for x in scans] == [
            ("verifier", "hr_acme", "expired"),
            ("verifier", "hr_acme", "ok"),
            ("public", None, "ok"),
        ]
        assert store.as_utc(scans[0].scanned_at) == NOW + timedelta(hours=1)
        assert len(s.scalars(select(store.ScanRecord)).all()) == 5


def test_displayable_code_only_while_live_and_not_revoked(db, codes):
    rid = add_resident(db, "r11", employment_status="unemployed")
    code = issue(db, codes, rid)
    with db.session() as s:
        assert store.displayable_code(s, code.jti, now=NOW).code == code.code
        assert store.displayable_code(s, code.jti, now=NOW + timedelta(seconds=600)) is None
        assert store.displayable_code(s, "nope-nope", now=NOW) is None
        store.revoke_codes(s, rid, store.HOLDER_REQUEST, now=NOW)
        assert store.displayable_code(s, code.jti, now=NOW) is None


def test_deleting_a_resident_removes_their_codes_and_scans(db, codes):
    rid = add_resident(db, "r12", employment_status="unemployed")
    code = issue(db, codes, rid)
    verify(db, codes, code.code)
    with db.session() as s:
        s.delete(s.get(Resident, rid))
    with db.session() as s:
        assert store.find_code(s, code.jti) is None
        assert store.holder_scans(s, rid) == []


# ---- disclosure ------------------------------------------------------------------------------


def test_job_seeking_summary_leaves_out_sensitive_facts(db):
    resident = Resident(
        external_id="x", employment_status="unemployed", registered_unemployed=True,
        hard_to_employ=True, disabled=True, low_income_household=True, certificate_level=3,
        graduation_date=date(2024, 7, 1),
    )
    summary = job_seeking_summary(resident, Status.PRIORITY, today=TODAY).to_dict()
    assert summary["text"] == (
        "重点帮扶；就业状态：失业；已办理失业登记；职业技能等级证书三级；2024年毕业"
    )
    text = json.dumps(summary, ensure_ascii=False)
    assert "困难" not in text and "残疾" not in text and "低保" not in text
    old = Resident(external_id="y", employment_status="unemployed",
                   graduation_date=date(2010, 7, 1))
    assert job_seeking_summary(old, Status.JOB_SEEKING, today=TODAY).graduation_year is None


def test_masked_name_decrypts_and_keeps_only_the_surname():
    cipher = cipher_from_settings(Settings(env="test", pii_keys="", pii_hash_key=""))
    resident = Resident(external_id="z", name_enc=cipher.encrypt("张三丰", field=NAME).encode())
    assert masked_name(resident, cipher) == "张**"
    assert masked_name(Resident(external_id="n"), cipher) is None
    wrong_field = Resident(external_id="w", name_enc=cipher.encrypt("李四", field="phone").encode())
    assert masked_name(wrong_field, cipher) is None


# ---- keys at run time ------------------------------------------------------------------------


def key_settings(key_dir: Path) -> EmploymentCodeSettings:
    return EmploymentCodeSettings(key_dir=key_dir)


def test_development_creates_a_key_on_first_use_with_a_warning(tmp_path, caplog):
    key_dir = tmp_path / "fresh"
    provider = CodesProvider(key_settings(key_dir), production=False)
    assert provider.get().jwks()["keys"] == []  # verifying never creates a key
    with caplog.at_level(logging.WARNING, logger="huimin.employment_code.runtime"):
        codes = provider.signer()
    assert "DEVELOPMENT key" in caplog.text
    files = list(key_dir.glob("*.jwk"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    issued = codes.issue(new_subject_id(), Status.EMPLOYED)
    assert provider.get().verify(issued.code).valid
    # A second process finds the key instead of making another.
    other = CodesProvider(key_settings(key_dir), production=False)
    assert other.signer().keyring.signing_key().kid == issued.kid
    assert len(list(key_dir.glob("*.jwk"))) == 1


def test_production_refuses_without_a_key(tmp_path):
    env = {"EMPLOYMENT_CODE_KEY_DIR": str(tmp_path / "none")}
    provider = CodesProvider(EmploymentCodeSettings.from_env(env), production=True)
    with pytest.raises(NoSigningKeyError, match="keygen"):
        provider.check()
    with pytest.raises(NoSigningKeyError, match="keygen"):
        provider.signer()
    assert not (tmp_path / "none").exists()


def test_keys_from_the_environment_are_never_supplemented(tmp_path):
    env = {"EMPLOYMENT_CODE_KEYS": '{"keys": []}',
           "EMPLOYMENT_CODE_KEY_DIR": str(tmp_path / "k")}
    with pytest.raises(NoSigningKeyError):
        CodesProvider(EmploymentCodeSettings.from_env(env), production=False).signer()


def test_a_rotated_key_is_picked_up_on_reload(key_dir):
    provider = CodesProvider(key_settings(key_dir), production=True, reload_seconds=0)
    provider.check()
    assert provider.signer().keyring.signing_key().kid == "k1"
    generate_key("k2", key_dir)
    assert provider.signer().keyring.signing_key().kid == "k2"
    assert {k["kid"] for k in provider.get().jwks()["keys"]} == {"k1", "k2"}


def test_revocation_covers_codes_inside_the_leeway_after_expiry(db, codes):
    """Verifiers accept a code until exp + leeway (clock skew): revoking in that window must
    revoke it, else a screenshot keeps working after the holder said 'revoke' (issue 15)."""
    rid = add_resident(db, "r-leeway", employment_status="unemployed")
    code = issue(db, codes, rid)
    after_expiry = code.expires_at + timedelta(seconds=codes.settings.leeway_seconds - 5)
    assert verify(db, codes, code.code, at=after_expiry).verification.valid
    with db.session() as s:
        assert store.revoke_codes(s, rid, store.HOLDER_REQUEST, now=after_expiry) == 1
    assert verify(db, codes, code.code, at=after_expiry).verification.reason is Reason.REVOKED
    # Past the leeway nothing is left to revoke: every verifier refuses it as expired anyway.
    later = code.expires_at + timedelta(seconds=codes.settings.leeway_seconds + 1)
    other = issue(db, codes, rid)
    with db.session() as s:
        assert store.revoke_codes(
            s, rid, store.HOLDER_REQUEST,
            now=other.expires_at + timedelta(seconds=codes.settings.leeway_seconds + 1)) == 0
    assert verify(db, codes, code.code, at=later).verification.reason is Reason.EXPIRED


def test_the_public_path_reads_outside_a_session_and_still_sees_revocations_at_once(db, codes):
    """verify_code(None, reads=db): the hot path's reads see every committed revocation at
    the next scan (no cache), and a stale status is revoked and committed by the scan."""
    rid = add_resident(db, "r-fast", employment_status="unemployed")
    code = issue(db, codes, rid)
    at = NOW + timedelta(minutes=1)

    def scan() -> store.ScanOutcome:
        return store.verify_code(None, codes, code.code, PUBLIC, now=at, today=TODAY,
                                 log=False, reads=db)

    first = scan()
    assert first.verification.reason is Reason.OK and first.record.resident_id == rid
    assert first.scan.resident_id == rid and first.scan.id is None  # not written: streamed
    set_facts(db, rid, employment_status="retired")
    stale = scan()
    assert stale.verification.reason is Reason.REVOKED
    assert stale.scan.detail == "revoked_status_change"
    with db.session() as s:  # committed by the scan itself: the offline list has it
        assert [r.jti for r in store.revoked_since(s, NOW, now=at)] == [code.jti]
    fresh = issue(db, codes, rid)
    with db.session() as s:
        store.revoke_codes(s, rid, store.HOLDER_REQUEST, now=at, leeway_seconds=0)
    held = store.verify_code(None, codes, fresh.code, PUBLIC, now=at, today=TODAY,
                             log=False, reads=db)
    assert held.verification.reason is Reason.REVOKED
    assert held.scan.detail == "revoked_holder_request"
    with pytest.raises(ValueError):
        store.verify_code(None, codes, code.code, PUBLIC, now=at, today=TODAY, reads=db)
