"""NLU vocabulary that is not per-policy data: aspect words and general domain words.

Aspect words become Rasa synonyms (word -> aspect value); domain words go into the Jieba
user dictionary beside the catalogue's titles and aliases so they stay whole tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
)

from huimin.catalogue.data_file import load_checked
from huimin.catalogue.dialect import plain
from huimin.catalogue.sounds import sounds
from huimin.catalogue.text import normalise


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


Aspect = Literal[
    "eligibility", "amount", "fee", "materials", "process", "where", "deadline"
]  # fmt: skip
ASPECTS: Final[tuple[str, ...]] = get_args(Aspect)

# The aspect vocabulary is data that ops staff edit, beside the policy files.
ASPECTS_FILE: Final[Path] = Path(__file__).resolve().parents[2] / "policies" / "_aspects.yml"


class _AspectEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=8)]
    words: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    # Read by the resolver only, never an NLU input: editing them needs no retraining.
    phrases: Annotated[str, StringConstraints(strip_whitespace=True)] = ""


class _AspectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    aspects: dict[Aspect, _AspectEntry]
    # Words that ask (吗, 哪, 多少 …): they tell the aspect asked from background words.
    question_words: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    closing_particles: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    not_asking: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    asking_starts: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Words that open a stretch of story ("我跟你讲", "你听我说"): the question ends before one
    # said after it, and starts after one said before it. Read by the resolver only.
    story_openers: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # The citizen speaking of themselves right after the words asked ("…医保能报多少我们俩的
    # 养老金认证还没做"): a story told after the question. Read by the resolver only.
    story_subjects: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Ask what there is, no one aspect ("能领什么", "能领点啥"): read by the resolver only.
    what_there_is: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Ask whether something may be done ("房租能补吗", "还能去吗"): eligibility when no aspect
    # word is asked; `may_not` start a request, not a question of eligibility ("能帮我查吗").
    may: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    may_not: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    may_where: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Places right before 能 / 可以: "街道能办不" asks where, as "能在街道办吗" does.
    may_places: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Ways of doing it without going in (网上, 手机上, 微信): "网上能申请吗" asks how, not who.
    channels: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Words of one who is late (晚了, 错过): "晚了还能办吗" asks the time limit, not who may.
    late: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Time gone by ("离职都四个多月了…还领得到不"): asks whether it is too late, as `late` does.
    since: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    past_times: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    still: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    spent: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    window_events: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Words that join the alternatives of a choice ("自己去拿还是寄到家"): both are asked.
    choice_words: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Words after a place that still point at it ("在村委会那里领得到不"): asks where.
    place_suffixes: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    # Words read only as a choice's alternatives ("打到存折还是发现金" asks how it is paid).
    choice_alternatives: dict[Aspect, str] = {}

    @field_validator("aspects")
    @classmethod
    def _complete_and_unambiguous(cls, value: dict[str, _AspectEntry]) -> dict:
        missing = [a for a in ASPECTS if a not in value]
        if missing:
            raise ValueError(f"every aspect needs an entry; missing: {', '.join(missing)}")
        owner: dict[str, str] = {}
        for aspect, entry in value.items():
            for word in [*entry.words.split(), *entry.phrases.split()]:
                if owner.setdefault(word, aspect) != aspect:
                    raise ValueError(f"'{word}' is listed under both {owner[word]} and {aspect}")
        return value


@dataclass(frozen=True)
class Elapsed:
    """Words that tell time has gone by (`_aspects.yml`: since, past_times, still, spent)."""

    since: tuple[str, ...]  # 到现在, 拖到现在: time gone by on their own
    past_times: tuple[str, ...]  # 去年, 上个月: when a `still` word follows
    still: tuple[str, ...]  # 还, 现在: the thing is asked of now
    spent: tuple[str, ...]  # 交, 干: a span after them is how long one paid or worked
    window_events: tuple[str, ...] = ()  # 毕业: time since them is a window the conditions set


@dataclass(frozen=True)
class QuestionWords:
    """What marks the asking part of a question (`_aspects.yml`, read as plain Mandarin)."""

    anywhere: tuple[str, ...]  # question_words: 吗 哪 多少 …
    closing: tuple[str, ...]  # closing_particles: only at the end of a clause (要钱不)
    not_asking: tuple[str, ...]  # hold a question word but ask nothing (好几个月)
    # asking_starts: what comes after the last of these is the question, what comes before
    # the story ("我都不知道要花多少钱…我就想问问到底在哪里办")
    starts: tuple[str, ...] = ()
    # may / may_not: "能…吗" asks whether it may be done, "能帮我…吗" is a request
    may: tuple[str, ...] = ()
    may_not: tuple[str, ...] = ()
    may_where: tuple[str, ...] = ()  # "能在街道办吗" asks where
    channels: tuple[str, ...] = ()  # "网上能申请吗" asks how it is done
    late: tuple[str, ...] = ()  # "晚了还能办吗" asks the time limit
    may_places: tuple[str, ...] = ()  # "街道能办不" asks where
    elapsed: Elapsed | None = None  # "都四个多月了还领得到不" asks the time limit
    choice_words: tuple[str, ...] = ()  # "自己去拿还是寄到家": both alternatives are asked
    place_suffixes: tuple[str, ...] = ()  # "村委会那里领得到不" asks where
    # choice_alternatives: (word, aspect) read only in a choice ("打到存折还是发现金": process)
    alternatives: tuple[tuple[str, str], ...] = ()
    # story_openers: "我跟你讲", "你听我说" open a stretch of story, so they bound the question
    openers: tuple[str, ...] = ()
    # story_subjects: "我", "俺" right after the words asked start a story told after it
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class AspectVocabulary:
    """The aspect vocabulary file, parsed once: labels, words and phrases per aspect (in
    ASPECTS order) and the words that ask."""

    labels: dict[str, str]
    words: dict[str, tuple[str, ...]]
    phrases: dict[str, tuple[str, ...]]
    question: QuestionWords
    what_there_is: tuple[str, ...] = ()


def load_aspects(path: Path = ASPECTS_FILE) -> AspectVocabulary:
    """The aspect vocabulary file; raises ValueError naming the file and field when it is
    wrong. One parse serves the NLU synonyms, the labels and the question reading."""
    parsed = load_checked(path, _AspectFile, "aspect vocabulary")
    return AspectVocabulary(
        labels={a: parsed.aspects[a].label for a in ASPECTS},
        words={a: _words(parsed.aspects[a].words) for a in ASPECTS},
        phrases={a: _words(parsed.aspects[a].phrases) for a in ASPECTS},
        question=QuestionWords(
            _words(parsed.question_words), _words(parsed.closing_particles),
            _words(parsed.not_asking), _words(parsed.asking_starts),
            _words(parsed.may), _words(parsed.may_not), _words(parsed.may_where),
            _words(parsed.channels), _words(parsed.late), _words(parsed.may_places),
            Elapsed(
                _words(parsed.since), _words(parsed.past_times), _words(parsed.still),
                _words(parsed.spent), _words(parsed.window_events),
            ),
            _words(parsed.choice_words), _words(parsed.place_suffixes),
            tuple(
                (word, aspect) for aspect, words in parsed.choice_alternatives.items()
                for word in _words(words)
            ),
            _words(parsed.story_openers), _words(parsed.story_subjects),
        ),
        what_there_is=_checked_apart(parsed),
    )


def _checked_apart(parsed: _AspectFile) -> tuple[str, ...]:
    """The `what_there_is` words, none of them also an aspect's (it would ask two things)."""
    words = _words(parsed.what_there_is)
    for aspect, entry in parsed.aspects.items():
        both = set(words) & {*entry.words.split(), *entry.phrases.split()}
        if both:
            raise ValueError(f"'{sorted(both)[0]}' is listed under both what_there_is and {aspect}")
    return words


# Short citizen-facing labels, and the words people use for each aspect; every `aspect`
# annotation in nlu_data must be one of these (checked by tests), so the generated synonyms
# cover the training data. The phrases are the resolver's alone: the model is not trained on
# them, so ops staff can add a way of asking without a retrain (issue 14).
VOCABULARY: Final[AspectVocabulary] = load_aspects()
ASPECT_LABELS: Final[dict[str, str]] = VOCABULARY.labels
ASPECT_WORDS: Final[dict[str, tuple[str, ...]]] = VOCABULARY.words
ASPECT_PHRASES: Final[dict[str, tuple[str, ...]]] = VOCABULARY.phrases

# Domain words kept whole by Jieba besides the catalogue's titles and aliases.
DOMAIN_WORDS: Final[tuple[str, ...]] = _words(
    """
    人社 人社局 人力资源和社会保障局 社保 社保局 社保卡 电子社保卡 社会保障卡 医保 养老金
    养老保险 失业保险 工伤保险 医疗保险 失业登记 就业登记 灵活就业 灵活就业人员 4050 4050人员
    就业困难 就业困难人员 零就业家庭 低保 低保户 户籍 户口 本地户口 网格员 就业码 就创码 12333
    养老金认证 资格认证 刷脸认证 缴费记录 缴费年限 退休 办退休 失业金 补贴 创业 创业补贴 职业技能
    技能证书 职业资格证书 技能等级证书 劳动合同 劳动仲裁 欠薪 工资 农民工 高校毕业生 应届毕业生
    毕业生 返乡创业 个体户 营业执照 公益性岗位 见习 学徒 高龄 高龄补贴 残疾人 残疾证 一次性 稳岗
    失业保险金 申领 认定 政务服务网 小程序 公众号 银行卡 身份证 停保 断缴 补缴 转移接续 档案 职称
    刷脸 辞退 开店 考证 拖欠 包工头 离职 下岗
    """
)

# The cue of a question that asks what there is ("家里能领什么"): it asks no one aspect, and
# it outweighs the shorter aspect word inside it (能领, eligibility) as any longer word does.
WHAT_THERE_IS: Final[str] = "overview"

# Each word also in its plain Mandarin reading ("带啥子" as "带什么"), as questions are read
# plain; not a reading of two characters: "啷个" read "怎么" would make "怎么回事" a process word.
_ALL_WORDS = list(dict.fromkeys(
    (form, aspect)
    for vocabulary in (ASPECT_WORDS, ASPECT_PHRASES, {WHAT_THERE_IS: VOCABULARY.what_there_is})
    for aspect, words in vocabulary.items()
    for word in words
    for form in (word, plain(word))
    if form == word or len(form) > 2
))
# Every aspect word in every form, for blanking a question's aspect out of its other words.
ASPECT_FORMS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(word for word, aspect in _ALL_WORDS if aspect != WHAT_THERE_IS)
)


# How far (in characters) a question word that is part of no aspect word may stand from one and
# make it the aspect asked: "材料有哪些", "证件是什么". tests/dev reads the same with 2 to 5.
QUESTION_REACH: Final[int] = 3
QUESTION_WORDS: Final[QuestionWords] = VOCABULARY.question
_CLAUSE_END: Final[str] = "，。？！?!,.;；、 "


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    aspect: str
    word: str
    also: str | None = None  # a second aspect the reading answers beside (see _by_lateness)


# Aspect words of two characters or more by the sound of their first character, for reading
# one typed or dictated with a homophone: "再哪办" (在哪办), "要代什么" (要带什么), "多少前".
_BY_FIRST_SOUND: Final[dict[str, tuple[tuple[str, str], ...]]] = {}
for _word, _aspect in _ALL_WORDS:
    if len(_word) >= 2 and all("\u4e00" <= char <= "\u9fff" for char in _word):
        for _sound in sounds(_word[0], every=False):
            _BY_FIRST_SOUND[_sound] = (*_BY_FIRST_SOUND.get(_sound, ()), (_word, _aspect))


# A character opening a word heard, meant as written: 那 points at what was just named
# ("在微信那里申请得了不"), no 哪 that asks where; inside one, or right after 在 / 再 (which
# point at no place of their own), it may be a slip ("投诉再那里").
_MEANT_AS_WRITTEN: Final[frozenset[tuple[str, str]]] = frozenset({("那", "哪")})
_SLIP_AFTER: Final[tuple[str, ...]] = ("", "在", "再")


def _heard(text: str) -> list[_Cue]:
    """Aspect words in `text` written with homophones: each character read as it usually is
    sounds like the word's (a rare reading would make 什么钱 "要钱", 么 being yao too), at
    least one is the word's own and at most half are not (two strangers that sound like 资格,
    "自个", are no aspect word); one opening with a character meant as written
    (`_MEANT_AS_WRITTEN`, not after `_SLIP_AFTER`) is none."""
    found = []
    for start, char in enumerate(text):
        for sound in sounds(char, every=False):
            for word, aspect in _BY_FIRST_SOUND.get(sound, ()):
                span = text[start : start + len(word)]
                if len(span) < len(word):
                    continue
                same = sum(a == b for a, b in zip(span, word, strict=True))
                if same in (0, len(word)):
                    continue
                if (span[0], word[0]) in _MEANT_AS_WRITTEN and text[start - 1 : start] not in (
                    _SLIP_AFTER
                ):
                    continue
                pairs = zip(span, word, strict=True)
                if 2 * (len(word) - same) <= len(word) and all(
                    sounds(a, every=False) & sounds(b, every=False) for a, b in pairs
                ):
                    found.append(_Cue(start, start + len(word), aspect, word))
    return found


def _cues(text: str, heard: bool = False) -> list[_Cue]:
    """Every aspect word in `text` (with `heard`, also those written with homophones), overlaps
    settled longest first (and among equals the later): a character belongs to one cue, so
    "能领多少" is the amount, not 能领 plus 多少."""
    found = _heard(text) if heard else []
    for word, aspect in _ALL_WORDS:
        start = text.find(word)
        while start >= 0:
            found.append(_Cue(start, start + len(word), aspect, word))
            start = text.find(word, start + 1)
    kept: list[_Cue] = []
    for cue in sorted(found, key=lambda c: (c.start - c.end, -c.end)):
        if all(cue.end <= k.start or cue.start >= k.end for k in kept):
            kept.append(cue)
    return kept


def _asking(text: str, words: QuestionWords = QUESTION_WORDS) -> list[bool]:
    """Per character of `text`: part of a word that asks. A closing particle asks only where a
    clause ends ("要钱不", "要钱不，") or between a word and itself ("收不收", "有没有"), not
    inside a clause ("条件不好")."""
    masked = text
    for word in words.not_asking:
        masked = masked.replace(word, " " * len(word))
    marks = [False] * len(text)
    for word in words.anywhere:
        start = masked.find(word)
        while start >= 0:
            marks[start : start + len(word)] = [True] * len(word)
            start = masked.find(word, start + 1)
    for i, char in enumerate(masked):
        if char not in words.closing:
            continue
        if i + 1 == len(text) or text[i + 1] in _CLAUSE_END or (
            0 < i < len(text) - 1 and text[i - 1] == text[i + 1]
        ):
            marks[i] = True
    return marks


def _asked(
    text: str, asking: list[bool], cues: list[_Cue], closing: bool = True
) -> set[_Cue]:
    """The cues the question asks about: each word that asks belongs to the cue it is part of,
    else to the nearest cue within QUESTION_REACH characters ("材料有哪些"); with `closing`, a
    cue that closes the question is asked too. "好几个月了在哪领": 哪 is 在哪's, and 几个月
    is the story."""
    asked = {c for c in cues if closing and not text[c.end :].strip(_CLAUSE_END)}
    runs, start = [], None
    for i, mark in enumerate([*asking, False]):
        if mark and start is None:
            start = i
        elif not mark and start is not None:
            runs.append((start, i))
            start = None
    for a, b in runs:
        inside = [c for c in cues if c.start < b and a < c.end]
        # A cue that is only a question word also asks about the word just before it:
        # "报名费多少" asks the fee (the longer word then wins), not only an amount.
        bare = [c for c in inside if all(asking[c.start : c.end])]
        before = [c for c in cues if c.end <= a and a - c.end < QUESTION_REACH]
        if bare and before:
            inside.append(max(before, key=lambda c: c.end))
        if inside:
            asked.update(inside)
            continue
        gaps = {c: max(c.start - b, a - c.end) for c in cues}
        near = [c for c, gap in gaps.items() if gap < QUESTION_REACH]
        if near:
            closest = min(gaps[c] for c in near)
            asked.update(c for c in near if gaps[c] == closest)
    return asked


# How far before 还是 (in characters, in its clause) a choice's first alternative reaches: "见习
# 补贴是发给见习的学生本人还是…"; farther is the story told before the question.
CHOICE_REACH: Final[int] = 12


def _choice_start(text: str, words: QuestionWords = QUESTION_WORDS) -> int | None:
    """Where the alternatives of a choice that closes the question start ("是自己去网点拿还是
    寄到家里": the clause holding 还是); None when there is none. Not "还是没找到" (still
    not)."""
    for word in words.choice_words:
        at = text.rfind(word)
        after = text[at + len(word) :]
        if at < 0 or after[:1] in ("没", "不") or re.search(
            f"[{re.escape(_CLAUSE_END)}]", after.rstrip(_CLAUSE_END)
        ):
            continue
        return max(at - CHOICE_REACH, *(text.rfind(end, 0, at) + 1 for end in _CLAUSE_END), 0)
    return None


def _with_alternatives(
    text: str, cues: list[_Cue], words: QuestionWords = QUESTION_WORDS
) -> tuple[list[_Cue], set[_Cue]]:
    """`cues` with the words read only as a choice's alternatives (`choice_alternatives`) in a
    choice that closes the question, and the cues that choice asks: the citizen asks which
    ("先找银行还是先找人社局", "打到社保卡还是打到银行卡"), so each alternative is asked though
    no question word stands by it."""
    start = _choice_start(text, words)
    if start is None:
        return cues, set()
    found = [
        _Cue(i, i + len(word), aspect, word) for word, aspect in words.alternatives
        for i in range(start, len(text)) if text.startswith(word, i)
    ]  # fmt: skip
    extra = [c for c in found if all(c.end <= k.start or c.start >= k.end for k in cues)]
    extra = [
        c for c in extra
        if not any(o is not c and o.start <= c.start and c.end <= o.end for o in extra)
    ]  # fmt: skip
    every = [*cues, *extra]
    return every, {c for c in every if c.start >= start}


def _question_start(text: str, asked: set[_Cue], words: QuestionWords = QUESTION_WORDS) -> int:
    """Where the question proper starts: after the last asking start ("想问问", "到底") that
    an asked aspect word follows; 0 when there is none. What comes before is the story, even
    when it holds a question of its own ("我都不知道要花多少钱…")."""
    ends = [
        i + len(word) for word in words.starts for i in range(len(text))
        if text.startswith(word, i) and any(c.start >= i + len(word) for c in asked)
    ]  # fmt: skip
    return max(ends, default=0)


# How many characters may stand between 能 / 可以 and the 吗 or closing 不 that makes it ask
# whether a thing may be done: "房租能补点不", "能去单位见习吗"; farther, they are two clauses.
MAY_REACH: Final[int] = 8
# The aspect a question of "may it be done" asks when no aspect word is asked.
MAY_ASPECT: Final[str] = "eligibility"


def _may(text: str, words: QuestionWords = QUESTION_WORDS) -> _Cue | None:
    """The last question in `text` whether something may be done ("房租能补吗", "我能不能去",
    "创业贷款我能贷不"), not a request ("能帮我查一下吗"): 能 / 可以 (`may`) asked as A不A
    (能不能) or followed within MAY_REACH characters, in its clause, by 吗 / 么 or by 不 closing
    the clause; or a verb that says so itself (`_can_do`: "还领得到不", "还批不批"). It asks
    who qualifies; "能在街道办吗" (`may_where`) asks where."""
    found = _can_do(text, words)
    for word in words.may:
        for match in re.finditer(re.escape(word), text):
            start, end = match.span()
            if any(text.startswith(n, start) for n in words.may_not):
                continue
            clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[end:])[0]
            asks = "不" in word or clause.startswith(f"不{word}") or _asks_closely(clause, words)
            if asks and (found is None or start > found.start):
                where = any(text.startswith(w, start) for w in words.may_where)
                found = _Cue(start, end, "where" if where else MAY_ASPECT, word)
    return found


def _asks_closely(clause: str, words: QuestionWords = QUESTION_WORDS) -> bool:
    """Whether `clause` (what follows 能 or a verb "领得到" in its clause) asks it: 吗 / 么
    within MAY_REACH characters, or a 不 closing it ("房租能补点不", "还领得到不")."""
    bare = _without_final_particles(clause, words)
    return re.search(r"吗|(?<![什怎这那多])么", clause[: MAY_REACH + 1]) is not None or (
        bare.endswith("不") and len(bare) <= MAY_REACH + 1
    )


# A verb that says whether it can be done: "领得到", "申得了", "搞得成" (asked after, as 能 is),
# "是不是领不成了", "申请不了了吧" (closing a question: no longer; "人找不到了" tells), "还批不批"
# (still, asked A不A).
# Not after verbs whose 得 is no "can": 觉得, 记得, 值得, 来得及 (a word of the time limit).
_CAN: Final[re.Pattern[str]] = re.compile(r"([\u4e00-\u9fff])得[到了成上着]")
_CANNOT_ANY_MORE: Final[re.Pattern[str]] = re.compile(r"([\u4e00-\u9fff])不[到了成上着]了")
_STILL_EITHER: Final[re.Pattern[str]] = re.compile(r"还([\u4e00-\u9fff])不\1")
_NOT_CAN: Final[str] = "觉记懂值舍晓认省免显使来我你他她它就也都还是"
# Words that ask whether, and how far before "领不成了" (in characters) they make it a question.
_WHETHER: Final[tuple[str, ...]] = ("是不是", "会不会", "是否")
WHETHER_REACH: Final[int] = 6


def _can_do(text: str, words: QuestionWords = QUESTION_WORDS) -> _Cue | None:
    """The last verb in `text` that asks whether it can be done (`_CAN`, `_CANNOT_ANY_MORE`,
    `_STILL_EITHER`), read as 能…吗 is: who qualifies, or after time gone by whether it is too
    late (`_by_lateness`)."""
    found = []
    for match in _CAN.finditer(text):
        clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[match.end() :])[0]
        if match.group(1) not in _NOT_CAN and _asks_closely(clause, words):
            found.append(match)
    for match in _CANNOT_ANY_MORE.finditer(text):
        clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[match.end() :])[0]
        asked = re.search(r"[吗么吧]", clause) or any(
            w in text[max(0, match.start() - WHETHER_REACH) : match.start()] for w in _WHETHER
        )
        if match.group(1) not in _NOT_CAN and asked and not _without_final_particles(
            clause, words
        ).rstrip("吗么吧"):
            found.append(match)
    found += [m for m in _STILL_EITHER.finditer(text) if m.group(1) not in _NOT_CAN]
    if not found:
        return None
    last = max(found, key=lambda m: m.start())
    return _Cue(last.start(), last.end(), MAY_ASPECT, last.group())


def _without_final_particles(clause: str, words: QuestionWords = QUESTION_WORDS) -> str:
    """`clause` without the particles that close it after a 不 ("能去报不嘛", "能补办不噻"):
    the 不 before them still asks whether it may be done. 不 and 没 themselves are kept."""
    particles = "".join(p for p in words.closing if p not in ("不", "没"))
    return clause.rstrip(particles)


# After 能 / 可以 (past an A不A "不能"), a 不 and a verb: "能不能不刷脸", "可以不去吗".
_SKIPS_A_STEP: Final[re.Pattern[str]] = re.compile(r"(?:不能|不可以)?不[^能可行会\s，。？！?!,.]")


def _skips_a_step(text: str, at: int, words: QuestionWords = QUESTION_WORDS) -> bool:
    """Whether a 不 and a verb follow at `at` ("能不能不刷脸"); a 不 closed by a particle
    ("报得成不嘛", "能办不噻") asks whether it may be done at all."""
    match = _SKIPS_A_STEP.match(text, at)
    return match is not None and match.group()[-1] not in words.closing


def _by_channel(text: str, cue: _Cue, words: QuestionWords = QUESTION_WORDS) -> _Cue:
    """`cue` read as the process when it asks whether a thing may be done (eligibility, or
    where from "能在…办吗") without a step ("能不能不回来") or by a way of doing it without
    going in: a channel word right before
    it ("网上能申请吗", "在手机上能不能办") or within MAY_REACH characters after it in its
    clause ("能不能用微信弄", "能在网上办吗"). The citizen asks how it is done, not who may;
    a channel word farther off is the story ("我在网上看到说能领吗")."""
    if cue.aspect not in (MAY_ASPECT, "where") or (
        cue.aspect == "where" and not any(text.startswith(w, cue.start) for w in words.may_where)
    ):
        return cue
    # "能不能不回来", "可以不去吗": whether a step may be skipped asks how it is done.
    if cue.aspect == MAY_ASPECT and _skips_a_step(text, cue.end, words):
        return _Cue(cue.start, cue.end, "process", cue.word)
    before = text[: cue.start]
    clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[cue.start :])[0]
    after = clause[: cue.end - cue.start + MAY_REACH]
    # "能在…办吗" asks about the place it names: only a channel there is the way of doing it
    # ("不会弄手机能在街道办吗" asks where).
    right_before = cue.aspect == MAY_ASPECT
    # A verb that says it can be done may be two characters ("微信那里申请得了不"): the cue
    # holds its last one.
    if _CAN.fullmatch(cue.word):
        before = before[:-1] if not any(before.endswith(w) for w in words.channels) else before
    if any((right_before and before.endswith(w)) or w in after for w in words.channels):
        return _Cue(cue.start, cue.end, "process", cue.word)
    return cue


# The aspect a question whether a thing may still be done asks when the citizen is late, and
# how far before it (in characters, in its clause) a word of being late counts: "错过了九月份
# 那一批还能补报吗" is one question.
LATE_ASPECT: Final[str] = "deadline"
LATE_REACH: Final[int] = 12
# How far before it (in characters, across clauses) time said to have gone by counts: "厂里出事
# 到现在八个多月了单位一直没给报工伤我自己现在报还行不行" is one question.
ELAPSED_REACH: Final[int] = 30


def _by_lateness(text: str, cue: _Cue, words: QuestionWords = QUESTION_WORDS) -> _Cue:
    """`cue` read as the time limit when it asks who qualifies and a word of being late
    (`late`: 晚了, 错过) stands within LATE_REACH characters before it in its clause: "拖了两个
    月才去晚了还能办吗", "错过了还能领吗" ask whether it is too late, which the time limit
    answers; "超过六十岁还能办吗" (no such word) still asks who qualifies. Time said to have
    gone by (`_elapsed`: "辞职都四个多月了…还领得到不") reads the same, the conditions answered
    beside, as the window may be one of them; time since a `window_events` word ("毕业三年了
    还能申请吗") is a window the conditions set ("毕业5年内"): they come first, the time limit
    beside."""
    if cue.aspect != MAY_ASPECT:
        return cue
    before = re.split(f"[{re.escape(_CLAUSE_END)}]", text[: cue.start])[-1][-LATE_REACH:]
    if any(word in before for word in words.late):
        return _Cue(cue.start, cue.end, LATE_ASPECT, cue.word)
    lead = _elapsed(text, cue, words)
    if lead is not None:
        beside = LATE_ASPECT if lead == MAY_ASPECT else MAY_ASPECT
        return _Cue(cue.start, cue.end, lead, cue.word, also=beside)
    return cue


# A span of time: "四个多月", "两年", "半年", "一年半", "十来天", "好几个月" (not "八十周岁").
_SPAN: Final[re.Pattern[str]] = re.compile(
    r"(?:\d+|[一二两三四五六七八九十百几半俩仨]+|好几)个?[多来]?"
    r"(?:天|星期|礼拜|周(?!岁)|月|年)(?:多|半)?"
)
# Before a span, words that say it has gone by ("都两年", "才两个月", "过去十个月"); after it,
# the particle that does ("三个多月了", "两年咯").
_SPAN_BEFORE: Final[re.Pattern[str]] = re.compile(
    r"(?:都|已经|快|才|过去|过了)[^，。？！?!,.]{0,3}$"
)
_SPAN_AFTER: Final[str] = "了咯喽啦啰"
# An age stated ("我五十二了", "老汉六十三了", "八十岁"): the question asks who qualifies; not
# one reached ("满八十岁都半年了": time gone by since).
_AGE: Final[re.Pattern[str]] = re.compile(
    r"(?<![\d一二两三四五六七八九十百几满到过])(?:[一二三四五六七八九]?十[一二三四五六七八九]?|\d{2})"
    r"多?(?:周岁|岁|了)"
)


# How far before a span (in characters) a `window_events` word makes it a window the
# conditions set: "大专毕业两年了", "毕业都快三年了".
WINDOW_REACH: Final[int] = 6


def _elapsed(text: str, cue: _Cue, words: QuestionWords = QUESTION_WORDS) -> str | None:
    """The aspect a question whether a thing may still be done asks first when time is said to
    have gone by within ELAPSED_REACH characters before `cue` and the thing is asked of now
    after it (a `still` word: 还, 现在; or "领不成了"): the time limit ("离职三个多月了还领得到
    不", "营业执照才办了两个月现在能不能报", "去年冬天走的现在去领还给不给办"), or the conditions
    when the span is since a `window_events` word ("毕业三年了还能申请吗"). None for a span
    after a verb of time spent ("交了十五年了还能领吗": the conditions ask how long one paid)
    or when an age is stated ("我五十二了下岗好几年了还能上吗")."""
    elapsed = words.elapsed
    if elapsed is None:
        return None
    before = text[max(0, cue.start - ELAPSED_REACH) : cue.start]
    if _AGE.search(before):
        return None
    clause_end = re.split(f"[{re.escape(_CLAUSE_END)}]", text[cue.start :])[0]
    spans = [m for m in _SPAN.finditer(before) if _gone_by(before, m, elapsed)]
    marks = [(m.end(), _since_a_window(before, m, elapsed)) for m in spans]
    marks += [(before.find(w) + len(w), False) for w in elapsed.since if w in before]
    marks += [(before.find(w) + len(w), False) for w in elapsed.past_times if w in before]
    for mark, window in marks:
        now = before[mark:] + clause_end
        if any(w in now for w in elapsed.still) or _CANNOT_ANY_MORE.search(now):
            return MAY_ASPECT if window else LATE_ASPECT
    return None


def _since_a_window(before: str, span: re.Match[str], elapsed: Elapsed) -> bool:
    """Whether `span` is time since a `window_events` word ("毕业两年了"): a window that the
    conditions set, not a time limit to apply within."""
    head = before[max(0, span.start() - WINDOW_REACH) : span.start()]
    return any(word in head for word in elapsed.window_events)


def _gone_by(before: str, span: re.Match[str], elapsed: Elapsed) -> bool:
    """Whether `span` says time has gone by ("都两年", "走了半年了", "离职三个多月咯"), not how
    long one paid or worked (after a verb of time spent: "交了十五年了", "扫了三年了")."""
    head = before[: span.start()]
    if any(head.removesuffix("了").endswith(verb) for verb in elapsed.spent):
        return False
    after = before[span.end() : span.end() + 1]
    return bool(_SPAN_BEFORE.search(head)) or (after != "" and after in _SPAN_AFTER)


def _by_place(text: str, cue: _Cue, words: QuestionWords = QUESTION_WORDS) -> _Cue:
    """`cue` read as where when it asks whether a thing may be done (能 / 可以…, or a verb
    "领得到") right after a place (`may_places`), maybe pointed at again (`place_suffixes`:
    "村委会那里领得到不"): "街道能办不", "老家可以领吗" ask where, as "能在街道办吗" does. A
    place after 在 is where someone or something is ("户口还在老家能不能申请"): who qualifies;
    but 在 opening the question ("在村里能交不") asks whether it is done there."""
    if cue.aspect != MAY_ASPECT or not (
        any(cue.word.startswith(w) for w in words.may) or _CAN.fullmatch(cue.word)
    ):
        return cue
    clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[: cue.start])[-1]
    for place in words.may_places:
        for said in (place, *(place + suffix for suffix in words.place_suffixes)):
            if clause.endswith(said) and (
                not clause.endswith(f"在{said}") or clause == f"在{said}"
            ):
                return _Cue(cue.start, cue.end, "where", cue.word)
    return cue


def _read(text: str, cue: _Cue) -> _Cue:
    """An asked cue read in its clause: by a place before it, a way of doing it without going
    in, or being late (`_by_place`, `_by_channel`, `_by_lateness`)."""
    return _by_lateness(text, _by_channel(text, _by_place(text, cue)))


# How far after "能在 / 能放在 <place>" (in characters, in its clause) a word of what is handed in
# or done there reaches: "创业补贴能不能放在社区那边交材料" asks where, not which materials.
PLACE_REACH: Final[int] = 10
# The aspects of what is handed in or done at a place: asked after "能在…" they ask the place.
_DONE_THERE: Final[tuple[str, ...]] = ("materials", "process")


def _at_a_place(text: str, cue: _Cue, words: QuestionWords = QUESTION_WORDS) -> _Cue:
    """`cue` (materials or process) read as where when a question whether it may be done at a
    place (`may_where`: "能不能放在社区那边交材料", "可以在街道办手续吗") stands before it in its
    clause, within PLACE_REACH characters: the citizen asks whether it is handed in there, not
    what is handed in; one asked already before it ("能在社区领吗要带什么材料") is a question
    of its own. A way of doing it without going in ("能在网上交材料吗") is read as
    `_by_channel` reads it."""
    if cue.aspect not in _DONE_THERE:
        return cue
    clause = re.split(f"[{re.escape(_CLAUSE_END)}]", text[: cue.start])[-1]
    head = len(text[: cue.start]) - len(clause)
    for word in words.may_where:
        at = clause.rfind(word)
        between = clause[at + len(word) :]
        if at >= 0 and len(between) <= PLACE_REACH and not re.search("[吗么呢]", between):
            may = _by_channel(text, _Cue(head + at, head + at + len(word), "where", word), words)
            return _Cue(cue.start, cue.end, may.aspect, cue.word)
    return cue


def _winner(text: str) -> tuple[_Cue | None, bool]:
    """The aspect word that `text` (read plain) asks about, and whether it is asked (not only
    background): see `aspect_of`. Homophones are read only when the words as written ask
    nothing, so a word spelt right is never outvoted by one merely sounding alike; a question
    whether a thing may be done ("房租能补吗") asks who qualifies when no aspect word is asked,
    before aspect words of the story."""
    background: _Cue | None = None
    for heard in (False, True):
        cues, chosen = _with_alternatives(text, _cues(text, heard))
        if not cues:
            continue
        asked = _asked(text, _asking(text), cues) | chosen
        start = _question_start(text, asked)
        cue = max(cues, key=lambda c: (
            c in asked, c.start >= start, text[c.start - 1 : c.start] != "了",
            c.end - c.start, c.end,
        ))  # fmt: skip
        if cue in asked:
            return _at_a_place(text, _read(text, cue)), True
        if heard:
            background = cue
    may = _may(text)
    if may is not None:
        return _read(text, may), True
    return background, False


def aspect_of(text: str, ignore: tuple[str, ...] = ()) -> str | None:
    """The aspect asked in `text`, if any.

    Older citizens tell their story before they ask ("我在材料厂干了二十年…身份证丢了…社保卡
    去哪补"), so an aspect word is read as asked only when a question word stands in or near it
    (or it closes the question); asked words outrank background ones, and asked words after
    the last "想问问" / "到底" outrank those of the story before it ("我都不知道要花多少钱才能
    办下来我就想问问到底在哪里办"), and a word right after 了 tells what happened ("交了多少个月
    去哪里打" asks where). Among those, the longest (the most specific), then the
    last (the closing words carry what is asked).
    `ignore` are names taken out first ("养老金资格认证" holds 资格 but asks nothing; "可以领
    失业金不" reads 可以领不); regional words are then read as plain Mandarin ("带啥子" is
    "带什么"; catalogue.dialect)."""
    cue, _ = _winner(_without_names(text, ignore))
    return cue.aspect if cue is not None and cue.aspect != WHAT_THERE_IS else None


def asks_something(text: str) -> bool:
    """Whether `text` holds a word that asks ("贷下来能用几年", "请律师是必须的吗"), read plain
    as `aspect_of` reads it: a question even when it names no aspect the vocabulary knows."""
    return any(_asking(plain(normalise(text))))


def _in_a_channel(text: str, name: str, words: QuestionWords = QUESTION_WORDS) -> bool:
    """Whether `name` is said as part of a longer channel word ("在电子社保卡里面能申请吗"):
    there it is the way of doing it, kept for `_by_channel`, not a name to take out."""
    return any(name in w and w != name and w in text for w in words.channels)


def _without_names(text: str, ignore: tuple[str, ...]) -> str:
    """`text` with the names `ignore` taken out, read plain (see `aspect_of`)."""
    for name in sorted(ignore, key=len, reverse=True):
        if _in_a_channel(text, name):
            continue
        # After 能 / 可以 the name is what may be done ("能评职称吗", "能不能办退休"): it
        # leaves a plain 办 behind, so the question still reads "能办吗".
        text = re.sub(f"(?<=[能以]){re.escape(name)}", "办", text).replace(name, "")
    return plain(text)


# How far apart (in characters) two aspect words may stand and be one question asking both:
# "要带啥，去哪办", "社保转移要不要钱，转回来要多久"; farther, the other is the story's
# ("前几天卡坏了…要去哪里弄").
ALSO_REACH: Final[int] = 12


def also_asked(text: str, ignore: tuple[str, ...] = ()) -> str | None:
    """A second aspect `text` asks beside the one `aspect_of` reads: "办失业登记要带啥，去哪办"
    asks where besides the materials, "每个月给多少怎么申请" the amount besides the process,
    so one answer can carry both. None when it asks one.

    Both words must be asked by question words of their own ("去哪交材料" asks where; 材料
    only closes the question), as written (a homophone may be a slip), in the question
    proper (after "想问问", not right after 了) and within ALSO_REACH characters of each
    other; a question of what there is ("能领什么") asks no one aspect. `ignore` as for
    `aspect_of`; the first such aspect in the order asked."""
    text = _without_names(text, ignore)
    main, asked = _winner(text)
    if main is None or not asked or main.aspect == WHAT_THERE_IS:
        return None
    if main.also is not None:  # a reading that answers two ("都半年了还能领吗": _by_lateness)
        return main.also
    cues = _cues(text)
    by_words = sorted(_asked(text, _asking(text), cues, closing=False), key=lambda c: c.start)
    spans = {(c.start, c.end) for c in by_words}
    if (main.start, main.end) not in spans or any(c.aspect == WHAT_THERE_IS for c in by_words):
        return None
    start = _question_start(text, set(by_words))
    for cue in by_words:
        near = max(cue.start - main.end, main.start - cue.end) <= ALSO_REACH
        aspect = _read(text, cue).aspect
        if near and cue.start >= start and text[cue.start - 1 : cue.start] != "了" and (
            aspect != main.aspect
        ):
            return aspect
    return None


# How far (in characters) before the aspect asked the question's own words reach: "社保可以
# 转回来我不懂这个手续要多长时间能办完" is one question; what comes before is the citizen's story.
QUESTION_SPAN: Final[int] = 20
# Clauses: citizens separate them with spaces or punctuation (voice input: not at all).
_CLAUSE_BREAK: Final[re.Pattern[str]] = re.compile(r"[\s,.!?;:，。！？；：、…~～]+")


def asking_part(text: str, after: Sequence[str] = ()) -> str:
    """The part of a question that asks, read plain: where the question proper starts, to
    where it ends. What comes before is the citizen's story, whose words may point elsewhere
    than what is asked; the resolver reads this part on its own (long questions, hand-overs).

    Without `after`: from QUESTION_SPAN characters before the aspect word asked (`aspect_of`)
    to the end, else the last QUESTION_SPAN characters. Older citizens tell their story first
    ("我在外头打工二十几年广东那边交过社保…") and close the message with the question
    ("…就是说我那个住房公积金退休以后能不能全部取出来").
    With `after` (the names of the one policy a question names, normalised): the words after
    the last of them said, up to and including the first clause that asks an aspect, without
    spaces or punctuation; "" when none is said. The story before the name ("想拿工伤赔偿 先
    得…工伤认定在哪申请") and a remark after the question ("工伤认定要多久 认定完才能赔吧")
    are not asked."""
    text = plain(text)
    if after:
        return _after_last_name(text, after)
    cue, asked = _winner(text)
    if cue is None or not asked:
        return text[-QUESTION_SPAN:]
    return _between_stories(text, cue, max(0, cue.start - QUESTION_SPAN))


def _between_stories(
    text: str, cue: _Cue, start: int, words: QuestionWords = QUESTION_WORDS
) -> str:
    """`text` from `start` to its end, less the story a story opener ("我跟你讲", "你听我说")
    begins on either side of the aspect word asked (`cue`): the question asked first and a
    story told after it ("…医保能报多少我跟你讲我们俩的养老金认证还没做": the certification
    is what happened, not what is asked), or a story told up to an opener that the question
    follows ("…要去做养老金认证…你听我说身份证补办要去哪里")."""
    end = cue.end if text.startswith(words.subjects, cue.end) else len(text)
    for opener in words.openers:
        for found in re.finditer(re.escape(opener), text):
            if found.end() <= cue.start:
                start = max(start, found.end())
            elif found.start() >= cue.end:
                end = min(end, found.start())
    return text[start:end]


def _after_last_name(text: str, names: Sequence[str]) -> str:
    """See `asking_part` with `after`."""
    clauses = [normalise(c) for c in _CLAUSE_BREAK.split(text)]
    last = None
    for i, clause in enumerate(clauses):
        ends = [clause.rfind(n) + len(n) for n in names if n and n in clause]
        if ends:
            last = (i, max(ends))
    if last is None:
        return ""
    index, end = last
    part: list[str] = []
    for clause in [clauses[index][end:], *clauses[index + 1 :]]:
        if not clause:
            continue
        part.append(clause)
        if aspect_of(clause) is not None:
            break
    return "".join(part)
