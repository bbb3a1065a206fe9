"""Masking of personal data for logs, stored chat text and staff views.

Citizens type ID and phone numbers into free text ("我的身份证是3401..."), so masking works on
any string, not only on known fields. The unit is a *run*: digits joined by at most one space
or dash between them, as people type numbers ("138 1234 5678", "340104-19900101-1234").
Masking errs towards hiding too much: a run shaped like a mobile number (with or without
+86) or holding 15 or more digits (15/18-character IDs, bank cards, numbers typed together) is
masked whether or not it is valid; inside a shorter run, groups forming a mobile number are.
Masked digits become ``*``; separators are kept.

Names and addresses typed in chat reach the ops inbox and the logs too. ``mask_text`` also
hides, by pattern, a personal name introduced as one ("我叫张三丰", "姓名：李四", "我妈王秀英":
the surname stays, ``张**``) and an address ("住在幸福路12号3栋" → the place name and the
numbers go, the words 路/号/栋 stay); with ``names`` (the sender's names from their resident
record) every occurrence of those names is hidden as well, introduced or not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, MutableMapping
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

# The most common Chinese surnames (together about 85% of people); a name is only masked by
# pattern when it starts with one, so "我是来问补贴的" stays readable for the ops inbox.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳"
    "甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边"
    "卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_CJK = "一-鿿"
# Words that introduce a person's name: the speaker's own, or a family member's.
_NAME_CUE = (r"(?:我叫|我是|我姓名是|本人是?|姓名(?:是|为)?|名字(?:是|叫)?|叫做|户主(?:是|叫)?"
             r"|(?:我|俺)?(?:妈妈?|爸爸?|母亲|父亲|老伴|爱人|丈夫|妻子|儿子|女儿|奶奶|爷爷|外婆"
             r"|外公|老公|老婆)(?:叫|是)?)")
_NAME = re.compile(_NAME_CUE + rf"[：:\s]*([{_SURNAMES}])([{_CJK}]{{1,2}})")
# An address: after a cue, a run of place words and numbers up to the next punctuation.
_ADDRESS_CUE = r"(?:住在|住址(?:是|为)?|地址(?:是|为)?|家住|家在|住的是|户籍地?(?:是|在)?)"
_ADDRESS = re.compile(_ADDRESS_CUE + rf"[：:\s]*([{_CJK}0-9０-９A-Za-z\-－#]{{2,40}})")
# Address words kept readable; everything else in an address is hidden.
_ADDRESS_WORDS = set("省市区县镇乡街道路巷弄号楼栋幢座单元室层户组村社区小苑园里")
# A flat's numbers even without a cue: "12号3栋", "3栋2单元501室" (two parts at least, so
# "窗口3号" stays as it is).
_HOUSE_NUMBER = re.compile(
    r"[0-9０-９]{1,5}(?:号楼|号院|号|栋|幢|座)[0-9０-９]{1,5}(?:单元|室|层|户|楼)"
    r"(?:[0-9０-９]{1,5}(?:室|户|层))?")
_DIGIT = re.compile(r"[0-9０-９]")
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


def mask_text(text: str, names: Iterable[str] = ()) -> str:
    """Mask ID numbers (18/15 characters), mainland mobile numbers, long digit runs,
    personal names and addresses (by pattern, and ``names`` wherever they occur)."""
    text = _mask_names_and_addresses(text, names)
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


def _mask_names_and_addresses(text: str, names: Iterable[str]) -> str:
    chars = list(text)

    def hide(start: int, end: int, keep: set[str] | None = None) -> None:
        for i in range(start, end):
            if keep is None or chars[i] not in keep:
                chars[i] = "*"

    for name in sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True):
        for found in re.finditer(re.escape(name), text):
            hide(found.start() + 1, found.end())  # the surname stays, as mask_name does
        given = name[1:]
        if len(given) >= 2:  # a given name alone ("秀英") is as telling as the full name
            for found in re.finditer(re.escape(given), text):
                hide(found.start(), found.end())
    for found in _NAME.finditer(text):
        hide(found.start(2), found.end(2))
    for found in _ADDRESS.finditer(text):
        hide(found.start(1), found.end(1), _ADDRESS_WORDS)
    for found in _HOUSE_NUMBER.finditer(text):
        for digit in _DIGIT.finditer(found.group()):
            hide(found.start() + digit.start(), found.start() + digit.end())
    return "".join(chars)


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
