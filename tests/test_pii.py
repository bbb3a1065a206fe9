"""Encryption at rest and keyed look-up hashes for personal data (huimin.privacy.pii)."""

from __future__ import annotations

import base64
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huimin.platform.settings import Settings
from huimin.privacy import pii
from huimin.privacy.pii import (
    DEV_KEY_ID,
    ID_NUMBER,
    NAME,
    PHONE,
    KeyRing,
    PiiCipher,
    PiiConfigError,
    PiiDecryptError,
    UnknownKeyError,
    cipher_from_settings,
    generate_hash_key,
    generate_key_entry,
)

K1 = generate_key_entry("k1")
K2 = generate_key_entry("k2")
HASH_KEY = base64.b64decode(generate_hash_key())
ID = "340104199001011238"


def cipher(*entries: str, hash_key: bytes = HASH_KEY) -> PiiCipher:
    return PiiCipher(KeyRing.parse(",".join(entries)), hash_key)


def flip(token: str, index: int) -> str:
    """Flip one bit in the binary part of a token, at ``index`` (negative counts from the end)."""
    prefix, kid, data = token.split(".")
    blob = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    blob[index] ^= 0x01
    return f"{prefix}.{kid}.{base64.urlsafe_b64encode(bytes(blob)).rstrip(b'=').decode()}"


# ---- round trips and format ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [(ID_NUMBER, ID), (PHONE, "13812345678"), (NAME, "张三丰"), (NAME, "买买提·艾力"), (NAME, "")],
)
def test_round_trip(field: str, value: str) -> None:
    c = cipher(K1)
    token = c.encrypt(value, field=field)
    assert c.decrypt(token, field=field) == value


@given(st.text(), st.text(min_size=1, max_size=40))
def test_round_trip_any_text(value: str, field: str) -> None:
    c = cipher(K1)
    assert c.decrypt(c.encrypt(value, field=field), field=field) == value


def test_token_names_the_key_and_hides_the_value() -> None:
    c = cipher(K1)
    token = c.encrypt(ID, field=ID_NUMBER)
    assert token.startswith("pii1.k1.")
    assert ID not in token
    assert len(token) < 255


def test_random_nonce_makes_equal_values_encrypt_differently() -> None:
    c = cipher(K1)
    tokens = {c.encrypt(ID, field=ID_NUMBER) for _ in range(20)}
    assert len(tokens) == 20


# ---- tampering and associated data -----------------------------------------------------------


@pytest.mark.parametrize("index", [0, 11, 12, 20, -17, -1])  # nonce, ciphertext, tag
def test_flipped_byte_fails_authentication(index: int) -> None:
    c = cipher(K1)
    token = c.encrypt(ID, field=ID_NUMBER)
    with pytest.raises(PiiDecryptError, match="failed authentication") as excinfo:
        c.decrypt(flip(token, index), field=ID_NUMBER)
    assert ID not in str(excinfo.value)


def test_ciphertext_cannot_move_between_fields() -> None:
    c = cipher(K1)
    token = c.encrypt("13812345678", field=PHONE)
    with pytest.raises(PiiDecryptError, match="'id_number'"):
        c.decrypt(token, field=ID_NUMBER)


def test_relabelled_key_id_fails() -> None:
    c = cipher(K2, K1)
    token = c.encrypt(ID, field=ID_NUMBER)
    with pytest.raises(PiiDecryptError):
        c.decrypt(token.replace(".k2.", ".k1."), field=ID_NUMBER)


@pytest.mark.parametrize(
    "token", ["", "garbage", "pii1.k1", "pii2.k1.AAAA", "pii1.k1.!!!!", "pii1.k1.AAAA", "pii1..AA"]
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(PiiDecryptError):
        cipher(K1).decrypt(token, field=ID_NUMBER)


def test_field_name_is_required() -> None:
    with pytest.raises(ValueError, match="field"):
        cipher(K1).encrypt(ID, field="")


# ---- key rotation ----------------------------------------------------------------------------


def test_old_ciphertext_decrypts_after_a_new_key_is_added() -> None:
    old = cipher(K1).encrypt(ID, field=ID_NUMBER)
    rotated_ring = cipher(K2, K1)
    assert rotated_ring.decrypt(old, field=ID_NUMBER) == ID
    assert rotated_ring.encrypt(ID, field=ID_NUMBER).startswith("pii1.k2.")


def test_rotate_re_encrypts_with_the_current_key() -> None:
    old = cipher(K1).encrypt(ID, field=ID_NUMBER)
    ring = cipher(K2, K1)
    assert ring.needs_rotation(old)
    new = ring.rotate(old, field=ID_NUMBER)
    assert new.startswith("pii1.k2.")
    assert not ring.needs_rotation(new)
    assert cipher(K2).decrypt(new, field=ID_NUMBER) == ID
    assert ring.rotate(new, field=ID_NUMBER) == new


def test_rotate_still_authenticates() -> None:
    ring = cipher(K2, K1)
    current = ring.encrypt(ID, field=ID_NUMBER)
    with pytest.raises(PiiDecryptError):
        ring.rotate(flip(current, -1), field=ID_NUMBER)
    with pytest.raises(PiiDecryptError):
        ring.rotate(current, field=PHONE)


def test_removed_key_gives_a_clear_error() -> None:
    old = cipher(K1).encrypt(ID, field=ID_NUMBER)
    with pytest.raises(UnknownKeyError) as excinfo:
        cipher(K2).decrypt(old, field=ID_NUMBER)
    message = str(excinfo.value)
    assert "'k1'" in message and "PII_KEYS" in message and "k2" in message
    assert ID not in message


# ---- key ring parsing and generation ---------------------------------------------------------


def test_generated_entries_are_distinct_and_parse() -> None:
    first, second = generate_key_entry(), generate_key_entry()
    assert first != second
    ring = KeyRing.parse(f"{first}, {second}")
    assert ring.kids == (first.split(":")[0], second.split(":")[0])
    assert ring.current_kid == first.split(":")[0]
    assert len(base64.b64decode(generate_hash_key())) == 32


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("k1", "missing ':'"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'x' * 16).decode()}", "must be 32 bytes"),
        (f"{K1},{K1}", "listed twice"),
        (f"bad.kid:{K1.split(':')[1]}", "key id"),
    ],
)
def test_bad_key_specs_are_refused_without_echoing_keys(spec: str, message: str) -> None:
    with pytest.raises(PiiConfigError, match=message) as excinfo:
        KeyRing.parse(spec)
    assert K1.split(":")[1] not in str(excinfo.value)


def test_invalid_kid_is_refused_by_the_generator() -> None:
    with pytest.raises(PiiConfigError):
        generate_key_entry("no spaces please")


# ---- keyed look-up hash ----------------------------------------------------------------------


def test_hash_is_stable_keyed_and_per_field() -> None:
    a, b = cipher(K1), cipher(K2)  # same hash key, different encryption keys
    other_key = cipher(K1, hash_key=base64.b64decode(generate_hash_key()))
    h = a.lookup_hash(ID, field=ID_NUMBER)
    assert len(h) == 64 and ID not in h
    assert h == b.lookup_hash(ID, field=ID_NUMBER)
    assert h != other_key.lookup_hash(ID, field=ID_NUMBER)
    assert h != a.lookup_hash(ID, field=PHONE)
    assert h != a.lookup_hash("340104199001011239", field=ID_NUMBER)


@pytest.mark.parametrize(
    ("field", "a", "b"),
    [
        (ID_NUMBER, "11010519491231002x", "11010519491231002X"),
        (ID_NUMBER, "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        (ID_NUMBER, "110105 19491231 002X", "11010519491231002X"),
        (PHONE, "+86 138-1234-5678", "13812345678"),
        (PHONE, "0086 13812345678", "13812345678"),
        (PHONE, "(138) 1234 5678", "13812345678"),
        (NAME, "  张 三 ", "张 三"),
        (NAME, "买买提•艾力", "买买提·艾力"),
    ],
)
def test_hash_normalises_equivalent_spellings(field: str, a: str, b: str) -> None:
    c = cipher(K1)
    assert c.lookup_hash(a, field=field) == c.lookup_hash(b, field=field)


def test_short_hash_key_is_refused() -> None:
    with pytest.raises(PiiConfigError):
        cipher(K1, hash_key=b"short")


# ---- settings --------------------------------------------------------------------------------


def settings(**overrides: str) -> Settings:
    values = {"env": "development", "secret_key": "s3cret", "pii_keys": "", "pii_hash_key": ""}
    return Settings(**{**values, **overrides})


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(PiiConfigError, match="PII_KEYS and PII_HASH_KEY"):
        cipher_from_settings(settings(env="production"))
    with pytest.raises(PiiConfigError, match="PII_HASH_KEY"):
        cipher_from_settings(settings(env="production", pii_keys=K1))


def test_production_with_keys_uses_them() -> None:
    c = cipher_from_settings(
        settings(env="production", pii_keys=f"{K2},{K1}", pii_hash_key=generate_hash_key())
    )
    assert c.ring.kids == ("k2", "k1")
    assert c.decrypt(cipher(K1).encrypt(ID, field=NAME), field=NAME) == ID


def test_malformed_hash_key_setting_is_refused() -> None:
    with pytest.raises(PiiConfigError, match="PII_HASH_KEY"):
        cipher_from_settings(settings(pii_keys=K1, pii_hash_key="???"))
    with pytest.raises(PiiConfigError, match="at least 32 bytes"):
        cipher_from_settings(settings(pii_keys=K1, pii_hash_key=base64.b64encode(b"x").decode()))


def test_development_derives_a_labelled_key_and_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pii, "_dev_warning_issued", False)
    with caplog.at_level(logging.WARNING, logger="huimin.privacy.pii"):
        first = cipher_from_settings(settings())
        second = cipher_from_settings(settings())
    warnings = [r for r in caplog.records if r.name == "huimin.privacy.pii"]
    assert len(warnings) == 1
    assert "INSECURE" in warnings[0].getMessage() and "PII_KEYS" in warnings[0].getMessage()
    assert first.ring.kids == (DEV_KEY_ID,)
    token = first.encrypt(ID, field=ID_NUMBER)
    assert second.decrypt(token, field=ID_NUMBER) == ID  # derived deterministically
    assert first.lookup_hash(ID, field=ID_NUMBER) == second.lookup_hash(ID, field=ID_NUMBER)
    other_secret = cipher_from_settings(settings(secret_key="another"))
    with pytest.raises(PiiDecryptError):
        other_secret.decrypt(token, field=ID_NUMBER)


def test_development_with_keys_does_not_warn(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pii, "_dev_warning_issued", False)
    with caplog.at_level(logging.WARNING, logger="huimin.privacy.pii"):
        c = cipher_from_settings(settings(pii_keys=K1, pii_hash_key=generate_hash_key()))
    assert not [r for r in caplog.records if r.name == "huimin.privacy.pii"]
    assert c.ring.kids == ("k1",)
