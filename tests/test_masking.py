"""Masking of personal data in values, free text, structlog events and stdlib log records."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from huimin.identity.idcard import fake_id_number
from huimin.privacy.masking import (
    PiiMaskingFilter,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_structlog_event,
    mask_text,
    mask_value,
)

ID = "340104199001011234"
PHONE = "13812345678"


def test_field_masks() -> None:
    assert mask_id_number(ID) == "3401**********1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_id_number("340104900101123") == "3401*******1123"
    assert mask_phone(PHONE) == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "+86 138-****-5678"
    assert mask_phone("0551-65123456") == "055*****3456"
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("张") == "*"
    assert mask_name("") == ""


def test_short_values_are_masked_entirely() -> None:
    assert mask_id_number("1234") == "****"
    assert mask_phone("12345") == "*****"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"我的身份证是{ID}，谢谢", "我的身份证是3401**********1234，谢谢"),
        ("身份证34010419900101123x", "身份证3401**********123x"),
        ("身份证34010419900101123X。", "身份证3401**********123X。"),
        ("号码 340104 19900101 1234 ok", "号码 3401** ******** 1234 ok"),
        ("旧证340104900101123", "旧证3401*******1123"),
        (f"电话{PHONE}", "电话138****5678"),
        ("电话：+86 138 1234 5678。", "电话：+86 138 **** 5678。"),
        ("电话+86-138-1234-5678", "电话+86-138-****-5678"),
        ("13812345678 12", "138****5678 12"),
        ("第12 13812345678", "第12 138****5678"),
        ("tel 8613812345678", "tel 86138****5678"),
        ("tel (+86)13812345678", "tel (+86)138****5678"),
        ("tel 0086 13812345678", "tel 0086 138****5678"),
        ("全角１３８１２３４５６７８号", "全角１３８****５６７８号"),
        (f"{PHONE} and {ID}", "138****5678 and 3401**********1234"),
        (f"{PHONE}-{ID}", "1381*******-**************1234"),  # typed together: one run
        ("卡号6222021234567890123", "卡号6222***********0123"),
        ("message\n13812345678\n", "message\n138****5678\n"),
    ],
)
def test_mask_text_examples(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "您好，请问失业保险金怎么领？",
        "热线12333，2024-01-15 10:30 到窗口3号",
        "金额 1,380,000 元",
        "12345678901",  # 11 digits but not a mobile number (second digit 2)
        "订单 1234567890",
        "电话0551-65123456",  # landline: not personal in the sense of a mobile number
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert mask_text(text) == text


# ---- properties ------------------------------------------------------------------------------

SEPARATORS = ["", "", "", " ", "-", "\u3000"]
NO_DIGITS = st.text(alphabet=st.characters(exclude_categories=("Nd",)), max_size=20)


@st.composite
def formatted(draw: st.DrawFn, digits: str) -> str:
    """``digits`` as a person might type it: separators between some digits, maybe +86."""
    out = digits[0]
    for d in digits[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + d
    return out


ID_NUMBERS = st.one_of(
    st.randoms(use_true_random=False).map(fake_id_number),
    st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True),
    st.from_regex(r"[0-9]{15}", fullmatch=True),
)
PHONES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@st.composite
def text_with_numbers(draw: st.DrawFn) -> tuple[str, list[str]]:
    numbers = draw(st.lists(st.one_of(ID_NUMBERS, PHONES), min_size=1, max_size=4))
    parts = [draw(NO_DIGITS)]
    for number in numbers:
        if len(number) == 11 and draw(st.booleans()):
            parts.append(draw(st.sampled_from(["+86 ", "+86", "86", "0086-"])))
        parts.append(draw(formatted(number)))
        parts.append(draw(NO_DIGITS))
    return "".join(parts), numbers


def digits_only(text: str) -> str:
    return re.sub(r"[ \-\u3000]", "", text)


@given(text_with_numbers())
def test_masked_text_never_contains_the_numbers(case: tuple[str, list[str]]) -> None:
    text, numbers = case
    masked = mask_text(text)
    for number in numbers:
        assert number not in masked
        assert number not in digits_only(masked)
        assert number.upper() not in digits_only(masked).upper()


@given(text_with_numbers())
def test_masking_is_idempotent(case: tuple[str, list[str]]) -> None:
    once = mask_text(case[0])
    assert mask_text(once) == once


ORDINARY_NUMBER = st.from_regex(r"[0-9]{1,10}", fullmatch=True)
WORD_BREAK = st.characters(exclude_categories=("Nd", "Zs", "Pd", "Cc"))


@given(st.lists(st.tuples(NO_DIGITS, ORDINARY_NUMBER, WORD_BREAK)), NO_DIGITS)
def test_ordinary_text_is_never_changed(chunks: list[tuple[str, str, str]], tail: str) -> None:
    text = "".join(a + b + c for a, b, c in chunks) + tail
    assert mask_text(text) == text


# ---- values, structlog and stdlib logging ----------------------------------------------------


def test_mask_value_walks_containers_and_numbers() -> None:
    value = {"a": [PHONE, ("x", ID)], "n": 13812345678, "small": 42, "flag": True, "none": None}
    assert mask_value(value) == {
        "a": ["138****5678", ("x", "3401**********1234")],
        "n": "138****5678",
        "small": 42,
        "flag": True,
        "none": None,
    }


def test_structlog_processor_masks_every_string_and_the_traceback() -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=out),
        processors=[
            structlog.processors.format_exc_info,
            mask_structlog_event,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        logger.exception(f"binding {ID}", phone=PHONE, payload={"ids": [ID]}, raw=13812345678)
    line = out.getvalue()
    assert PHONE not in line and ID not in line
    event = json.loads(line)
    assert event["event"] == "binding 3401**********1234"
    assert event["phone"] == "138****5678"
    assert event["payload"] == {"ids": ["3401**********1234"]}
    assert event["raw"] == "138****5678"
    assert "bad phone 138****5678" in event["exception"]


def stdlib_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s|%(phone)s"))
    handler.addFilter(PiiMaskingFilter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_logging_filter_masks_message_args_extra_and_exception() -> None:
    logger, out = stdlib_logger("tests.masking.filter")
    logger.info("resident %s called from %s", ID, PHONE, extra={"phone": PHONE})
    try:
        raise RuntimeError(f"lookup failed for {ID}")
    except RuntimeError:
        logger.exception("oops", extra={"phone": "+86 138 1234 5678"})
    text = out.getvalue()
    assert "resident 3401**********1234 called from 138****5678|138****5678" in text
    assert "oops|+86 138 **** 5678" in text
    assert "lookup failed for 3401**********1234" in text
    assert ID not in text and PHONE not in text


def test_logging_filter_survives_malformed_arguments() -> None:
    logger, out = stdlib_logger("tests.masking.malformed")
    logger.info("two %s %s", PHONE, extra={"phone": "-"})
    assert PHONE not in out.getvalue()
    assert "138****5678" in out.getvalue()


def test_logging_filter_keeps_structlog_event_dicts() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, {"event": PHONE}, None, None)
    assert PiiMaskingFilter().filter(record)
    assert record.msg == {"event": "138****5678"}


# ---- names and addresses (issue 15, Low 8) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我叫张三丰，想问失业金", "我叫张**，想问失业金"),
        ("姓名：李四", "姓名：李*"),
        ("我妈王秀英今年82了", "我妈王**今年82了"),
        ("住在幸福路12号3栋2单元501室", "住在**路**号*栋*单元***室"),
        ("地址：合肥市包河区望湖小区5栋", "地址：**市**区**小区*栋"),
        ("他在望湖小区3栋2单元501室", "他在望湖小区*栋*单元***室"),
    ],
)
def test_names_and_addresses_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize("text", ["我是来问补贴的", "我是网格员", "到窗口3号办理", "幸福路怎么走"])
def test_ordinary_words_around_cues_stay(text: str) -> None:
    assert mask_text(text) == text


def test_names_on_record_are_masked_wherever_they_appear() -> None:
    masked = mask_text("桂兰的补贴没到，周桂兰让我问问", names=["周桂兰"])
    assert masked == "**的补贴没到，周**让我问问"
    assert "桂兰" not in masked
    assert mask_text(masked, names=["周桂兰"]) == masked  # idempotent
