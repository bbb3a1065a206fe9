"""Understanding a resident's reply: digits in any form, option words, command words.

Replies arrive typed or as WeChat's voice recognition text ("一。", "１", "我看到了"),
so everything is normalised before matching.
"""

from __future__ import annotations

import re
import unicodedata

from huimin.guides.messages import Command

_CN_DIGITS = {
    "幺": 1, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
}  # fmt: skip
_NUMBER = re.compile(r"(?:回复|选择|选|第)?(\d{1,2}|[幺一二两三四五六七八九十])(?:个|项|号)?")

# Exact replies (after normalisation) that mean a command at any step.
_COMMAND_WORDS: dict[Command, tuple[str, ...]] = {
    Command.NEXT: (
        "下一步", "下一个", "下一条", "下步", "好了", "好的", "好", "做好了", "弄好了",
        "点好了", "完成了", "可以了", "行了", "继续", "接着", "ok", "next",
    ),
    Command.REPEAT: (
        "再说一遍", "再说一次", "再说", "重复", "再来一遍", "没听清", "没听清楚",
        "没看懂", "没听懂", "啥", "什么",
    ),
    Command.BACK: ("上一步", "上一个", "返回", "后退", "回去", "退回"),
    Command.STOP: ("不办了", "不做了", "不弄了", "不要了", "算了", "退出", "结束", "取消", "停"),
    Command.HANDOFF: ("转人工", "人工", "人工客服", "找人工", "客服", "真人"),
    Command.RESTART: ("重新开始", "从头开始", "从头来", "重来"),
}  # fmt: skip
# Phrases recognised inside a longer reply ("我不办了", "帮我转人工吧").
_COMMAND_PHRASES: dict[str, Command] = {
    "下一步": Command.NEXT,
    "再说一遍": Command.REPEAT,
    "再说一次": Command.REPEAT,
    "没听清": Command.REPEAT,
    "上一步": Command.BACK,
    "不办了": Command.STOP,
    "不做了": Command.STOP,
    "转人工": Command.HANDOFF,
    "人工": Command.HANDOFF,
    "重新开始": Command.RESTART,
    "从头开始": Command.RESTART,
}
_WORD_TO_COMMAND = {word: command for command, words in _COMMAND_WORDS.items() for word in words}


def normalize(text: str) -> str:
    """Fold full-width and circled digits, drop spaces, punctuation and emoji."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def parse_number(text: str) -> int | None:
    """ "1", "１", "①", "一", "选1", "第二个" -> the number; anything else -> None."""
    match = _NUMBER.fullmatch(normalize(text))
    if not match:
        return None
    token = match.group(1)
    return int(token) if token.isdigit() else _CN_DIGITS[token]


def command_word(text: str) -> Command | None:
    """A command said in words, exactly or inside a longer reply; None if unclear."""
    norm = normalize(text)
    if norm in _WORD_TO_COMMAND:
        return _WORD_TO_COMMAND[norm]
    found = {command for phrase, command in _COMMAND_PHRASES.items() if phrase in norm}
    return found.pop() if len(found) == 1 else None


def match_words(text: str, choices: list[tuple[str, ...]]) -> int | None:
    """Index of the choice whose words match `text`: exactly, or the longest word
    contained in it when exactly one choice has it ("我看到了" -> "看到了")."""
    norm = normalize(text)
    if not norm:
        return None
    for i, words in enumerate(choices):
        if norm in {normalize(w) for w in words}:
            return i
    best_len = 0
    best: set[int] = set()
    for i, words in enumerate(choices):
        for word in words:
            w = normalize(word)
            if len(w) >= 2 and w in norm:
                if len(w) > best_len:
                    best_len, best = len(w), {i}
                elif len(w) == best_len:
                    best.add(i)
    return best.pop() if len(best) == 1 else None
