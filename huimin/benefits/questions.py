"""Asking a citizen for missing facts in chat, one at a time, and reading the answers.

Pure logic (no Rasa): which fact to ask next (the one most undecided policies wait for),
the question with numbered choices where the answer is a choice, and the reading of a reply
("1", "是", "1960年5月1日", "15个月", "不清楚"). Replies that cannot be read get a short
hint; "不清楚" skips the question, "0" / "不答了" ends the questions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from huimin.benefits.check import PolicyAnswer
from huimin.residents.facts import FACT_NAMES, FACTS, ProfileError, parse_profile

CONSENT = "consent"  # the first question when answers can be saved
SAVE, SESSION_ONLY = "save", "session"
UNSURE = "不清楚"
STOP_WORDS = ("不答了", "直接看结果", "不办了", "不问了", "算了", "结束", "退出")
_YES = ("是", "对", "有", "嗯", "好", "可以", "同意", "yes", "y")
_NO = ("否", "不是", "没有", "不", "no", "n")
_UNSURE_WORDS = (UNSURE, "不知道", "不确定", "跳过", "忘了")
_NUMBER = re.compile(r"-?\d+")
_DATE = re.compile(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*[日号]?")


@dataclass(frozen=True)
class Question:
    """One question: its text and, for choices, the (value, label) pairs numbered from 1."""

    key: str  # a fact name, or CONSENT
    text: str
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reading:
    """How a reply was read: a value, a skip, the end of questions, or not understood."""

    kind: str  # "value" | "skip" | "stop" | "unclear"
    value: Any = None
    hint: str = ""


def next_fact(answers: Iterable[PolicyAnswer], skipped: Collection[str]) -> str | None:
    """The missing fact most undecided answers wait for (ties: contract order), or None."""
    wanted = Counter(
        fact for a in answers if a.status != "not_eligible" for fact in a.missing
        if fact not in skipped
    )
    if not wanted:
        return None
    order = {name: i for i, name in enumerate(FACT_NAMES)}
    return min(wanted, key=lambda f: (-wanted[f], order[f]))


def consent_question(pending: int) -> Question:
    return Question(
        CONSENT,
        f"还有{pending}项政策要再问您几个问题才能判断。您的回答保存到您的资料里，下次就不用再答了，"
        "可以吗？",
        ((SAVE, "可以，保存"), (SESSION_ONLY, "只这次用，不保存"), ("stop", "不答了，直接看结果")),
    )


def question(fact: str) -> Question:
    spec = FACTS[fact]
    if spec.kind == "bool":
        return Question(fact, f"{spec.label}？", (("true", "是"), ("false", "否"),
                                                    ("unsure", UNSURE)))
    if spec.kind == "enum":
        return Question(fact, f"您的{spec.label}是？", (*spec.choices, ("unsure", UNSURE)))
    if spec.kind == "date":
        return Question(fact, f"您的{spec.label}是哪天？请回复日期，例如 1960-05-01；"
                        f"不知道请回复“{UNSURE}”。")
    unit = f"（{spec.unit}）" if spec.unit else ""
    return Question(fact, f"您的{spec.label}是多少{unit}？请回复数字；不知道请回复“{UNSURE}”。")


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip("。.！!？?，, ").lower()


def read(q: Question, reply: str, today: date | None = None) -> Reading:
    """Read a reply to `q`; values are checked exactly like profile input (parse_profile)."""
    text = _clean(reply)
    if not text:
        return Reading("unclear", hint="请回复一个答案。")
    if text == "0" or any(w in text for w in STOP_WORDS):
        return Reading("stop")
    if q.choices:
        return _read_choice(q, text)
    if any(w in text for w in _UNSURE_WORDS):
        return Reading("skip")
    spec = FACTS[q.key]
    if spec.kind == "date":
        match = _DATE.search(text)
        raw: Any = (f"{int(match.group(1)):04d}-{int(match.group(2)):02d}-"
                    f"{int(match.group(3)):02d}") if match else text
    else:
        number = _NUMBER.search(text)
        raw = int(number.group()) if number else text
    try:
        value = getattr(parse_profile({q.key: raw}), q.key)
    except ProfileError as exc:
        return Reading("unclear", hint=exc.problems[0].message_zh)
    if spec.kind == "date" and value > (today or date.today()):
        return Reading("unclear", hint="这个日期还没到，请再看一下。")
    return Reading("value", value)


def _read_choice(q: Question, text: str) -> Reading:
    values = [value for value, _ in q.choices]
    chosen = _by_number_or_label(q, text)
    if chosen is None:
        chosen = _by_words(q, text)
    if chosen is None:
        return Reading("unclear", hint=f"请回复数字 1 到 {len(values)}。")
    if chosen == "stop":
        return Reading("stop")
    if chosen == "unsure":
        return Reading("skip")
    if q.key != CONSENT and FACTS[q.key].kind == "bool":
        return Reading("value", chosen == "true")
    return Reading("value", chosen)


def _by_number_or_label(q: Question, text: str) -> str | None:
    if text.isdigit():
        n = int(text)
        return q.choices[n - 1][0] if 1 <= n <= len(q.choices) else None
    for value, label in q.choices:  # the label itself, e.g. "灵活就业", or within a sentence
        label = label.lower()
        if text == label or (len(label) >= 2 and label in text):
            return value
    return None


def _by_words(q: Question, text: str) -> str | None:
    if q.key == CONSENT:
        if text.startswith(("不保存", "只这次", "这次")):
            return SESSION_ONLY
        if text in _NO or text.startswith(("不用", "不要", "不行", "不")):
            return "stop"
        if text in _YES or text.startswith(("可以", "好", "同意", "行", "保存")):
            return SAVE
        return None
    if any(w in text for w in _UNSURE_WORDS):
        return "unsure"
    if FACTS[q.key].kind == "bool":
        if text in _NO or text.startswith(("不是", "没有", "否", "不")):
            return "false"
        if text in _YES or text.startswith(("是", "有", "对")):
            return "true"
    return None


def to_slot(value: Any) -> Any:
    """A fact value as JSON for a conversation slot (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value
