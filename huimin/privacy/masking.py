"""Masking of personal data for logs, stored chat text and staff views.

Citizens type ID and phone numbers into free text ("我的身份证是3401..."), so masking works on
any string, not only on known fields. The unit is a *run*: digits joined by at most one space
or dash between them, as people type numbers ("138 1234 5678", "340104-19900101-1234").
Masking errs towards hiding too much: a run shaped like a mobile number (with or without
+86) or holding 15 or more digits (15/18-character IDs, bank cards, numbers typed together) is
masked whether or not it is valid; inside a shorter run, groups forming a mobile number are.
Masked digits become ``*``; separators are kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from itertools import accumulate
from typing import Any

# Separators people type inside numbers: spaces (incl. NBSP, ideographic) and hyphens/dashes.
_SEP_RE = re.compile(r"[ \t\u00a0\u3000\-\u2010-\u2015]")
_RUN = re.compile(r"[0-9](?:[ \t\u00a0\u3000\-\u2010-\u2015]?[0-9])*")
# Runs are found in a copy where full-width digits and X are folded to ASCII; the fold maps one
# character to one character, so positions found in the copy are valid in the original.
_FOLD = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "\uff38": "X", "\uff58": "x"}
)
_MOBILE = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_MIN_DIGITS = 11  # the shortest thing masked: a mobile number


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def _compact(value: str) -> str:
    return _SEP_RE.sub("", value.strip())


def mask_id_number(value: str) -> str:
    """``340104199001011234`` -> ``3401**********1234`` (first 4 and last 4 kept)."""
    return _keep_ends(_compact(value), 4, 4)


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``; other phone numbers keep the first 3 and last 4."""
    masked = mask_text(value)
    return masked if masked != value else _keep_ends(_compact(value), 3, 4)


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``, ``张三`` -> ``张*``: only the first character (surname) is kept."""
    name = value.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_openid(value: str) -> str:
    """``o6_bmjrPTlm6_2sgVt7hMZOPfL2M`` -> ``o6_b********************fL2M``: enough for staff to
    tell citizens' rows apart, not enough to address the citizen through WeChat's API. At most a
    quarter of the characters is kept at each end, so short ids stay mostly hidden."""
    keep = min(4, len(value) // 4)
    if keep == 0:  # _keep_ends(v, 0, 0) would keep everything (v[-0:] is all of v)
        return "*" * len(value)
    return _keep_ends(value, keep, keep)


def _hidden(groups: list[str]) -> range | set[int]:
    """Indices (into the run's digits) to hide; ``groups`` are the run split at separators."""
    digits = "".join(groups)
    if _MOBILE.fullmatch(digits):
        return range(len(digits) - 8, len(digits) - 4)
    if len(digits) >= 15:
        return range(4, len(digits) - 4)
    ends = [0, *accumulate(len(g) for g in groups)]
    hidden: set[int] = set()
    for i in range(len(groups)):
        for j in range(i + 1, len(groups) + 1):
            if _MOBILE.fullmatch("".join(groups[i:j])):
                hidden.update(range(ends[j] - 8, ends[j] - 4))
    return hidden


def mask_text(text: str) -> str:
    """Mask ID numbers (18/15 characters), mainland mobile numbers and long digit runs."""
    folded = text.translate(_FOLD)
    chars: list[str] | None = None
    for run in _RUN.finditer(folded):
        start, end = run.span()
        groups = _SEP_RE.split(run.group())
        if sum(map(len, groups)) == 17 and folded[end : end + 1] in ("X", "x"):
            groups[-1] += folded[end]  # 17 digits and a check letter X
            end += 1
        if end - start < _MIN_DIGITS:
            continue
        positions = [start + i for i, c in enumerate(folded[start:end]) if not _SEP_RE.match(c)]
        for index in _hidden(groups):
            chars = chars or list(text)
            chars[positions[index]] = "*"
    return text if chars is None else "".join(chars)


def mask_value(value: Any) -> Any:
    """Mask strings inside ``value`` (dicts, lists, tuples, sets); numbers that look like an ID
    or a phone become masked strings; other objects are masked via ``str`` only if needed."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(mask_value(v) for v in value)
    as_text = str(value)
    masked = mask_text(as_text)
    return value if masked == as_text else masked


def mask_structlog_event(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: place it after ``format_exc_info`` and before the renderer so the
    formatted traceback is masked too. ``exc_info`` itself is left for structlog to format."""
    for key, value in event_dict.items():
        if key != "exc_info":
            event_dict[key] = mask_value(value)
    return event_dict


_BLANK_RECORD = logging.LogRecord("", 0, "", 0, "", None, None)
_STANDARD_RECORD_ATTRS = frozenset({*_BLANK_RECORD.__dict__, "message", "asctime"})


class PiiMaskingFilter(logging.Filter):
    """Masks the message, arguments, traceback, stack and ``extra`` fields of a log record.

    Attach it to HANDLERS: filters on a logger do not see records from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict) and not record.args:
            # structlog's ProcessorFormatter passes the event dict as msg: keep it a dict.
            record.msg = mask_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # malformed %-arguments: never let the raw arguments through
                message = f"{record.msg!s} {record.args!r}"
            record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_RECORD_ATTRS:
                setattr(record, key, mask_value(value))
        return True
