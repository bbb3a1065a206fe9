"""Which policy a citizen's question is about: answer, ask, or refer elsewhere.

Evidence, strongest first:
1. a policy the NLU tagged, or a title/alias contained verbatim in the text, or an occupation's
   certificate (`policies/_certificates.yml`: 电工证 is 职业技能等级认定);
2. a matter of another department (`referrals/`), which is never answered with a policy;
3. an everyday situation told instead of a name (`policies/_situations.yml`: "干活的时候手被
   机器压了" is 工伤认定); it beats the 12345 catch-all of step 2, not another department;
4. a title/alias heard or typed wrongly: the same pinyin (失叶金 = 失业金, 工商认定 = 工伤认定)
   or one character off in a name of four or more (劳动冲裁);
5. BM25 retrieval over the catalogue's text, the question's regional words read plain.
Retrieval answers only when its best candidate stands clear of the next (the margin); when
two or more are close it asks, best first; when nothing is close enough it says so. A wrong
policy stated as the answer is the worst failure, so doubt means asking, never guessing.
The thresholds were chosen on the development set (tests/dev/, `scripts/dev_eval.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pypinyin import Style, pinyin

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.certificates import load_certificates
from huimin.catalogue.dialect import plain
from huimin.catalogue.referrals import Match, ReferralTable
from huimin.catalogue.schema import Policy
from huimin.catalogue.situations import load_situations
from huimin.catalogue.text import normalise

Decision = Literal["answer", "ask", "refer", "none"]


@dataclass(frozen=True)
class Thresholds:
    """Retrieval decision settings (chosen on tests/dev; see the module docstring)."""

    # BM25 score the best candidate needs before retrieval may answer.
    answer_score: float = 4.0
    # ... and before it may ask (below it: "not found").
    ask_score: float = 3.5
    # Answer when the runner-up scores at most this share of the best; else ask.
    clear_ratio: float = 0.7
    # Candidates within this share of the best are offered when asking (at least two).
    close_ratio: float = 0.5
    max_choices: int = 3
    # After a policy answer, retrieval alone moves the conversation to another policy only
    # from this score up ("那老人的高龄补助怎么申请" after 失业保险金 scores ~11; the words
    # around an aspect, "我家老人要怎么申请" after 居家养老服务补贴, score ~5 and stay).
    switch_score: float = 8.0
    # A policy named verbatim is doubted when retrieval over the whole question scores another
    # at least this share of it (and at least `switch_score`) on a word of the other's names
    # outside the name: "公司招了个就业困难人员给他交社保单位能拿回多少" names 就业困难人员
    # (认定) but asks about 用人单位社会保险补贴 (0.92 of it).
    name_doubt_ratio: float = 0.9


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Resolution:
    decision: Decision
    policies: tuple[Policy, ...] = ()  # answer: 1 or 2 (two named); ask: best first
    referral: Match | None = None
    # entity | name | fuzzy | situation | search: how the policy was found; doubt: a name
    # found, but the question may be about a look-alike policy (both offered)
    evidence: str = ""
    scores: tuple[float, ...] = field(default=(), compare=False)


def resolve(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    named: Sequence[Policy] = (),
    thresholds: Thresholds = THRESHOLDS,
) -> Resolution:
    """Decide from the typed text; `named` are the policies the NLU tagged (catalogue keys)."""
    mentioned = _in_text_order(catalogue.mentions(text), text) if text else []
    if text and not mentioned:
        # An occupation's certificate ("考电工证去哪报名") names its policy as surely as an alias.
        key = load_certificates().policy_for(text)
        if key is not None and key in catalogue:
            return Resolution("answer", (catalogue[key],), evidence="name")
    found = list({p.key: p for p in [*mentioned, *named]}.values())
    if len(found) >= 2 and len(mentioned) >= 2:
        return Resolution("answer", tuple(found[:2]), evidence="name")
    if found:
        if len(mentioned) == 1:  # the NLU may tag more; the name in the text comes first
            other = _outweighed(catalogue, found[0], text, thresholds)
            if other is not None:
                return other
        return Resolution("answer", (found[0],), evidence="name" if mentioned else "entity")
    if not text:
        return Resolution("none")
    told = load_situations().policy_for(text)
    told = told if told in catalogue else None
    match = referrals.match(text) if referrals is not None else None
    # The 12345 catch-all yields to a situation told ("在小区门口干保洁…拖了我四个月工资"):
    # it is for what no department, 人社 included, handles.
    if match is not None and not (told and match.department.key == "hotline_12345"):
        return Resolution("refer", referral=match)
    if told is not None:
        return Resolution("answer", (catalogue[told],), evidence="situation")
    heard = fuzzy_names(catalogue, text)
    if len(heard) == 1:
        return Resolution("answer", (heard[0],), evidence="fuzzy")
    if heard:
        return Resolution("ask", tuple(heard[: thresholds.max_choices]), evidence="fuzzy")
    # Retrieval reads regional words plain ("莫得工作" as "没有工作"); names are matched above
    # on the citizen's own words.
    return _by_retrieval(catalogue, plain(text), thresholds)


def with_named(found: Resolution, named: Sequence[Policy]) -> Resolution:
    """`found`, the resolution of the words alone, once the policies the NLU tagged are added:
    exactly what `resolve(..., named)` decides. A name in the text comes first, so the tagged
    policies decide only when the text names none (no name, no doubted name)."""
    if named and found.evidence not in {"name", "doubt"}:
        return Resolution("answer", (named[0],), evidence="entity")
    return found


def resolve_words(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    found: Resolution | None = None,
) -> Resolution | None:
    """The resolution when the words alone settle it (a policy named, misheard or mistyped,
    or another department's matter), else None. Retrieval alone is not enough here: this is
    for messages whose intent the NLU could not tell, where a guess would be a wrong answer.
    `found`: the message's resolution (`resolve(catalogue, referrals, text)`) when the caller
    already has it, so one message is resolved once."""
    if not text or text.lstrip().startswith("/"):
        return None
    return _settled_by_words(found or resolve(catalogue, referrals, text))


def resolve_clear(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    thresholds: Thresholds = THRESHOLDS,
    found: Resolution | None = None,
) -> Resolution | None:
    """Like `resolve_words`, and also a policy retrieval finds clearly and strongly (its best
    score at least `switch_score`, the runner-up well behind): "刚毕业在这边租房子有补贴吗" is
    高校毕业生住房补贴 though it names none of its names. Anything weaker is None.
    `found` as in `resolve_words`."""
    if not text or text.lstrip().startswith("/"):
        return None
    return _clear(found or resolve(catalogue, referrals, text, thresholds=thresholds), thresholds)


def switched_to(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    previous: Policy,
    thresholds: Thresholds = THRESHOLDS,
    found: Resolution | None = None,
) -> Resolution | None:
    """The resolution that moves a conversation about `previous` elsewhere, else None: another
    policy named (verbatim, misheard or mistyped), another department's matter, or another
    policy that retrieval finds clearly and strongly ("养老金认证" discussed, then
    "家属领丧葬的钱去哪里领"). A weak retrieval match does not switch: the words around an
    aspect often echo another policy's summary, and the context is the stronger evidence.
    `found` as in `resolve_words`."""
    found = found or resolve(catalogue, referrals, text, thresholds=thresholds)
    typed = bool(text) and not text.lstrip().startswith("/")
    clear = _clear(found, thresholds) if typed else None
    if clear is None:
        # A name in the text that the resolver doubts, the look-alike first, is no follow-up
        # either ("公司招了个就业困难人员…单位能拿回多少": the NLU fills the policy slot with
        # 就业困难人员认定 in the same turn, which must not be read as the previous policy).
        if found.evidence == "doubt" and found.policies[0].key != previous.key:
            return found
        return None
    if clear.decision == "answer" and all(p.key == previous.key for p in clear.policies):
        return None
    return clear


def _settled_by_words(found: Resolution) -> Resolution | None:
    """`found` when the words settle it: another department's matter, a policy named, or
    an everyday situation told."""
    if found.decision == "refer" or (
        found.decision == "answer" and found.evidence in {"name", "fuzzy", "situation"}
    ):
        return found
    return None


def _clear(found: Resolution, t: Thresholds) -> Resolution | None:
    """`found` when settled by the words, or a strong, clear retrieval answer; else None.
    (Retrieval without the referrals decides as with them whenever no referral matched, so
    one resolution serves both.)"""
    settled = _settled_by_words(found)
    if settled is not None:
        return settled
    strong = bool(found.scores) and found.scores[0] >= t.switch_score
    if found.decision == "answer" and found.evidence == "search" and strong:
        return found
    return None


def _by_retrieval(catalogue: Catalogue, text: str, t: Thresholds) -> Resolution:
    hits = [h for h in catalogue.search(text, k=t.max_choices + 1) if h.key in catalogue]
    if not hits or hits[0].score < t.ask_score:
        return Resolution("none")
    best = hits[0].score
    scores = tuple(h.score for h in hits)
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    top = catalogue[hits[0].key]
    if best >= t.answer_score and runner_up <= best * t.clear_ratio and _names_share(
        catalogue, top, text
    ):
        return Resolution("answer", (catalogue[hits[0].key],), evidence="search", scores=scores)
    close = [catalogue[h.key] for h in hits if h.score >= best * t.close_ratio]
    if len(close) < 2:
        close = [catalogue[h.key] for h in hits[:2]]
    if len(close) < 2:  # one weak candidate: never a one-item menu, and never a guess
        return Resolution("none", scores=scores)
    return Resolution("ask", tuple(close[: t.max_choices]), evidence="search", scores=scores)


def _outweighed(
    catalogue: Catalogue, policy: Policy, text: str, t: Thresholds
) -> Resolution | None:
    """Another policy when the words around the one name in `text` are clearly about it.

    Look-alike policies share words: "企业带学徒的培训补贴" holds 培训补贴 (职业培训补贴) but
    asks about 企业新型学徒制培训补贴; "考了证…交了三年失业保险…考证的补贴" holds 失业保险 but
    asks about 技能提升补贴. Retrieval over the whole question decides: when it scores another
    policy about as high as the named one or higher (the name's own words counted; see
    `name_doubt_ratio`), strongly (`switch_score`) and on a word of the other's names found
    outside the name, the name alone is not trusted. The other policy is answered when it
    scores higher and a name found is part of one of its own names (the citizen said it
    loosely: 学徒制 + 培训补贴); otherwise both are offered, the other first: a wrong answer
    is worse than a menu."""
    plain_text = normalise(text)
    said = sorted((normalise(n) for n in policy.names if normalise(n) in plain_text), key=len)
    name = said[-1]
    hits = sorted(
        (h for h in catalogue.search(plain(text), k=len(catalogue)) if h.key in catalogue),
        key=lambda h: -h.score,
    )
    own = next((h.score for h in hits if h.key == policy.key), 0.0)
    rivals = [h for h in hits if h.key != policy.key]
    if not rivals or rivals[0].score < max(own * t.name_doubt_ratio, t.switch_score):
        return None
    other = catalogue[rivals[0].key]
    if not _names_share(catalogue, other, plain(plain_text.replace(name, ""))):
        return None
    scores = tuple(h.score for h in hits[: t.max_choices])
    # Any of the names said counts: "交社保有补贴…用人单位的社保补贴" says 社保补贴 too.
    if rivals[0].score > own and any(w in normalise(n) for w in said for n in other.names):
        return Resolution("answer", (other,), evidence="name", scores=scores)
    return Resolution("ask", (other, policy), evidence="doubt", scores=scores)


def _names_share(catalogue: Catalogue, policy: Policy, text: str) -> bool:
    """The question shares a specific word with one of the policy's names (not only with its
    summary: "被裁员" matches the summary of 稳岗返还, "不裁员…的企业", but asks something else)."""
    terms = catalogue.index().tokenizer.terms
    asked = {w for w in terms(text) if len(w) >= 2 and w not in _GENERIC_PARTS}
    return any(asked & set(terms(name)) for name in policy.names)


def _in_text_order(policies: list[Policy], text: str) -> list[Policy]:
    plain = normalise(text)

    def first(policy: Policy) -> int:
        spots = [plain.find(normalise(n)) for n in policy.names]
        return min((s for s in spots if s >= 0), default=len(plain))

    return sorted(policies, key=first)


# --- Names heard or typed wrongly ---------------------------------------------------------

# Sounds people (and voice input) confuse: retroflex and flat initials, front and back nasals.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


@lru_cache(maxsize=4096)
def _sounds(char: str) -> frozenset[str]:
    """Every reading of one character, loosened for commonly confused sounds."""
    readings = pinyin(char, style=Style.NORMAL, heteronym=True)[0]
    out = set()
    for reading in readings:
        for a, b in _INITIALS:
            if reading.startswith(a):
                reading = b + reading[len(a) :]
        for a, b in _FINALS:
            if reading.endswith(a):
                reading = reading[: -len(a)] + b
        out.add(reading)
    return frozenset(out)


# Endings many policy names share; a name matched only on these says nothing about which
# policy ("人的补贴" is not "人才补贴"), so fuzzy matches must agree on the rest.
_GENERIC_PARTS = ("补贴", "补助", "津贴", "登记", "认定", "申请", "保险", "待遇", "办理", "岗位")


# Names holding a negation are matched verbatim only.
_NEGATIONS = frozenset("不没无未")


def _specific(name: str) -> list[bool]:
    """Per character of `name`: True unless it is part of a generic ending."""
    mask = [True] * len(name)
    for part in _GENERIC_PARTS:
        start = name.find(part)
        while start >= 0:
            for i in range(start, start + len(part)):
                mask[i] = False
            start = name.find(part, start + 1)
    return mask


def _near(name: str, window: str) -> bool:
    """Same length, the same characters on the policy-specific part at least once (twice when
    one is off), and every character sounding alike, or (names of 4+) all but one equal."""
    pairs = list(zip(name, window, strict=True))
    same = [a == b for a, b in pairs]
    if all(same):
        return False  # verbatim: catalogue.mentions already found it
    specific = _specific(name)
    same_specific = sum(s and k for s, k in zip(same, specific, strict=True))
    sound_off = [not (_sounds(a) & _sounds(b)) for a, b in pairs]
    if not any(sound_off):
        return same_specific >= 1 or not any(specific)
    if len(name) < 4 or sum(sound_off) != 1 or sum(same) != len(name) - 1:
        return False
    return same_specific >= 2 and specific[sound_off.index(True)]


def fuzzy_names(catalogue: Catalogue, text: str) -> list[Policy]:
    """Policies one of whose names (3+ characters) appears in the text misheard or mistyped;
    the longest name found first."""
    plain = normalise(text)
    found: dict[str, tuple[int, Policy]] = {}
    for policy in catalogue:
        for name in map(normalise, policy.names):
            n = len(name)
            if n < 3 or not all("\u4e00" <= ch <= "\u9fff" for ch in name):
                continue
            if _NEGATIONS & set(name):  # one character off may flip it: 工资不发 / 工资谁发
                continue
            for start in range(len(plain) - n + 1):
                if _near(name, plain[start : start + n]):
                    if n > found.get(policy.key, (0, policy))[0]:
                        found[policy.key] = (n, policy)
                    break
    ranked = sorted(found.values(), key=lambda item: -item[0])
    if not ranked:
        return []
    longest = ranked[0][0]
    return [policy for n, policy in ranked if n == longest]
