"""Retrieval's verdict on a question: the decision record, the thresholds chosen on the
development set, and how BM25 candidates become an answer, a menu or nothing.

A policy named in the text is doubted here too (`outweighed`): retrieval over the whole
question may show the name is only a look-alike of what is asked. Split from the resolver so
that its rules for long questions (`long_questions`) and its order of evidence (`resolver`)
share one definition of "clear".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.dialect import plain
from huimin.catalogue.misheard import GENERIC_PARTS
from huimin.catalogue.referrals import Match
from huimin.catalogue.schema import Policy
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
    # A question this long (characters) whose retrieval is in doubt is read again on the part
    # that asks (`vocabulary.asking_part`): the story before it may point elsewhere.
    long_question: int = 40
    # ... and the part that asks answers a menu's first candidate only when its runner-up
    # scores at most this share of it: clearer than an ordinary answer, as the part is short
    # ("…失业了每个月能领点生活费…要带什么" reads 生活费补贴 0.69 ahead of 失业保险金: a menu).
    part_clear_ratio: float = 0.6


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


def settled_by_words(found: Resolution) -> Resolution | None:
    """`found` when the words settle it: another department's matter, a policy named, or
    an everyday situation told."""
    if found.decision == "refer" or (
        found.decision == "answer" and found.evidence in {"name", "fuzzy", "situation"}
    ):
        return found
    return None


def clear(found: Resolution, t: Thresholds) -> Resolution | None:
    """`found` when settled by the words, or a strong, clear retrieval answer; else None.
    (Retrieval without the referrals decides as with them whenever no referral matched, so
    one resolution serves both.)"""
    settled = settled_by_words(found)
    if settled is not None:
        return settled
    strong = bool(found.scores) and found.scores[0] >= t.switch_score
    if found.decision == "answer" and found.evidence == "search" and strong:
        return found
    return None


def by_retrieval(catalogue: Catalogue, text: str, t: Thresholds) -> Resolution:
    hits = [h for h in catalogue.search(text, k=t.max_choices + 1) if h.key in catalogue]
    if not hits or hits[0].score < t.ask_score:
        return Resolution("none")
    best = hits[0].score
    scores = tuple(h.score for h in hits)
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    top = catalogue[hits[0].key]
    if best >= t.answer_score and runner_up <= best * t.clear_ratio and names_share(
        catalogue, top, text
    ):
        return Resolution("answer", (catalogue[hits[0].key],), evidence="search", scores=scores)
    close = [catalogue[h.key] for h in hits if h.score >= best * t.close_ratio]
    if len(close) < 2:
        close = [catalogue[h.key] for h in hits[:2]]
    if len(close) < 2:  # one weak candidate: never a one-item menu, and never a guess
        return Resolution("none", scores=scores)
    return Resolution("ask", tuple(close[: t.max_choices]), evidence="search", scores=scores)


def outweighed(
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
    # Any of the names said counts: "交社保有补贴…用人单位的社保补贴" says 社保补贴 too.
    # A name said that is part of the other's name is the other named loosely ("…不裁人的厂
    # 政府会把交的失业保险退一部分回来": 失业保险 is in 失业保险稳岗返还).
    loosely = any(w in normalise(n) for w in said for n in other.names)
    if not loosely and not names_share(catalogue, other, plain(plain_text.replace(name, ""))):
        return None
    scores = tuple(h.score for h in hits[: t.max_choices])
    # Answered only when it stands clear of the name said, as retrieval answers: "失业保险谁能
    # 申请" reads 稳岗返还 (8.6) barely above 失业保险金 (8.4) and is asked, "…不裁人的厂…
    # 失业保险退一部分回来" (17.3 against 8.4) is answered.
    if loosely and own <= rivals[0].score * t.clear_ratio:
        return Resolution("answer", (other,), evidence="name", scores=scores)
    return Resolution("ask", (other, policy), evidence="doubt", scores=scores)


def names_share(catalogue: Catalogue, policy: Policy, text: str) -> bool:
    """The question shares a specific word with one of the policy's names (not only with its
    summary: "被裁员" matches the summary of 稳岗返还, "不裁员…的企业", but asks something else)."""
    terms = catalogue.index().tokenizer.terms
    asked = {w for w in terms(text) if len(w) >= 2 and w not in GENERIC_PARTS}
    return any(asked & set(terms(name)) for name in policy.names)
