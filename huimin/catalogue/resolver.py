"""Which policy a citizen's question is about: answer, ask, or refer elsewhere.

Evidence, strongest first:
1. a policy the NLU tagged, or a title/alias contained verbatim in the text, or an occupation's
   certificate (`policies/_certificates.yml`: 电工证 is 职业技能等级认定); one name said while
   the part that asks is about its neighbour goes to the neighbour (`policies/_handovers.yml`:
   "工伤认定下来以后能赔多少" is 工伤保险待遇);
2. a matter of another department (`referrals/`), which is never answered with a policy;
3. an everyday situation told instead of a name (`policies/_situations.yml`: "干活的时候手被
   机器压了" is 工伤认定); it beats the 12345 catch-all of step 2, not another department;
4. a title/alias heard or typed wrongly: the same pinyin (失叶金 = 失业金, 工商认定 = 工伤认定),
   one character off in a name of four or more (劳动冲裁), or one left out of a name of five
   or more (创业场补贴); a whole name misheard this way beats the situation of step 3;
5. BM25 retrieval over the catalogue's text, the question's regional words read plain.
Retrieval answers only when its best candidate stands clear of the next (the margin); when
two or more are close it asks, best first; when nothing is close enough it says so. A wrong
policy stated as the answer is the worst failure, so doubt means asking, never guessing.
The thresholds were chosen on the development set (tests/dev/, `scripts/dev_eval.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.certificates import load_certificates
from huimin.catalogue.dialect import plain
from huimin.catalogue.handovers import load_handovers
from huimin.catalogue.misheard import GENERIC_PARTS, fuzzy_names
from huimin.catalogue.referrals import Match, ReferralTable
from huimin.catalogue.schema import Policy
from huimin.catalogue.situations import Situation, load_situations
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import question_part

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
    # that asks (`vocabulary.question_part`): the story before it may point elsewhere.
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
            neighbour = load_handovers().handed_to(found[0], text)
            if neighbour is not None and neighbour in catalogue:
                return Resolution("answer", (catalogue[neighbour],), evidence="name")
            other = _outweighed(catalogue, found[0], text, thresholds)
            if other is not None and not _named_where_asked(catalogue, found[0], text, thresholds):
                return other
            story = _told_over_story_name(catalogue, found[0], text)
            if story is not None:
                return story
        return Resolution("answer", (found[0],), evidence="name" if mentioned else "entity")
    if not text:
        return Resolution("none")
    situation = load_situations().told(text)
    told = situation.policy if situation is not None and situation.policy in catalogue else None
    match = referrals.match(text) if referrals is not None else None
    # The 12345 catch-all yields to a situation told ("在小区门口干保洁…拖了我四个月工资"):
    # it is for what no department, 人社 included, handles; so does a department whose words
    # the situation reads as its own ("家属能领一笔办丧事的钱": 丧事 is 民政's, 办丧事的钱 the
    # funeral grant's).
    if match is not None and not (told and (
        match.department.key == "hotline_12345" or _reads_matter(situation, match, text)
    )):
        return _refer_or_story(catalogue, referrals, text, match, told, thresholds)
    heard = fuzzy_names(catalogue, text)
    if told is not None:
        # A name of four or more misheard in full ("创业场低补贴": every character sounds like
        # 创业场地补贴) or missing one character ("创业场补贴") is more specific than the
        # situation words it shares (创业 … 补贴 tells 一次性创业补贴); a looser likeness
        # (保洁干 ~ 保洁岗, 自己去社保 ~ 自己交社保: one character of another sound) is not.
        alike = fuzzy_names(catalogue, text, shortest=4, sound_only=True)
        if not alike or catalogue[told] in alike:
            return Resolution("answer", (catalogue[told],), evidence="situation")
        heard = alike
    if len(heard) == 1:
        return Resolution("answer", (heard[0],), evidence="fuzzy")
    if heard:
        return Resolution("ask", tuple(heard[: thresholds.max_choices]), evidence="fuzzy")
    # Retrieval reads regional words plain ("莫得工作" as "没有工作"); names are matched above
    # on the citizen's own words.
    return _long_question(catalogue, text, _by_retrieval(catalogue, plain(text), thresholds),
                          thresholds)


def _reads_matter(situation: Situation, match: Match, text: str) -> bool:
    """Every word of the matched department's matter that `text` holds lies inside a word the
    situation found: the situation tells it as part of a 人社 matter."""
    found = situation.words_found(text)
    said = [w for w in match.matter.words if w in text]
    return bool(said) and all(any(w in f for f in found) for w in said)


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
        if _ranked_above(catalogue, found, previous, text):
            return found
        return None
    if clear.decision == "answer" and all(p.key == previous.key for p in clear.policies):
        return None
    return clear


def _ranked_above(catalogue: Catalogue, found: Resolution, previous: Policy, text: str) -> bool:
    """The turn's own menu holds the previous policy but puts another first, and the turn says
    a word of that other's names that is no word of the previous one's ("认定以后赔偿要多久到
    账" after 工伤认定: 赔偿 is 工伤赔偿's): a new matter said loosely, so ask rather than
    repeat the previous policy. A turn whose menu lacks the previous policy ("一个月工资大概
    多少" after 公益性岗位) stays a follow-up: its words only echo other summaries."""
    if found.decision != "ask" or previous not in found.policies[1:]:
        return False
    terms = catalogue.index().tokenizer.terms
    asked = {w for w in terms(plain(text)) if len(w) >= 2 and w not in GENERIC_PARTS}
    own = {w for name in previous.names for w in terms(name)}
    return any((asked & set(terms(name))) - own for name in found.policies[0].names)


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


def _long_question(
    catalogue: Catalogue, text: str, found: Resolution, t: Thresholds
) -> Resolution:
    """`found` (retrieval over the whole of `text`) weighed against retrieval over the part
    that asks, for long questions whose story may leave the whole in doubt.

    When the part finds a candidate of the menu clearly and strongly (`switch_score`): the
    first one is answered if the part sets it well apart (`part_clear_ratio`; "…广东那边交过
    社保…听我侄子说社保可以转回来我不懂这个手续要多长时间能办完": the whole reads 转移 and
    缴费记录 alike, the question 转移); a later one is put first and still offered, not
    answered, as a short part may lean on one word ("开店…能补多少" reads 开店贷款). An answer
    is never overturned by the part: on the development set the part contradicted only right
    answers ("上门…要不要花钱" alone reads 居家养老服务补贴).
    """
    if len(text) < t.long_question or found.decision != "ask":
        return found
    part = question_part(text)
    if part is None or len(part) >= len(plain(text)):
        return found
    narrow = _clear(_by_retrieval(catalogue, part, t), t)
    if narrow is None or narrow.policies[0] not in found.policies:
        return found
    best = narrow.policies[0]
    runner_up = narrow.scores[1] if len(narrow.scores) > 1 else 0.0
    if best == found.policies[0]:
        if runner_up > narrow.scores[0] * t.part_clear_ratio:
            return found
        return Resolution("answer", (best,), evidence="search", scores=found.scores)
    rest = tuple(p for p in found.policies if p != best)
    return Resolution("ask", (best, *rest), evidence="search", scores=found.scores)


def _refer_or_story(
    catalogue: Catalogue,
    referrals: ReferralTable,
    text: str,
    match: Match,
    told: str | None,
    t: Thresholds,
) -> Resolution:
    """Refer to another department, unless its matter is only in the story of a long question
    ("我孙女…家里是低保户听说这种家庭的孩子毕业那年找工作政府会给一笔钱这个钱什么时候申请":
    低保 is 民政's, the question 人社's): then a situation told answers, else retrieval when it
    answers clearly or asks; a name heard in the story is no evidence ("干保洁干了" is not
    保洁岗)."""
    if len(text) >= t.long_question:
        part = question_part(text)
        if part is not None and referrals.match(part) is None:
            if told is not None:
                return Resolution("answer", (catalogue[told],), evidence="situation")
            found = _long_question(
                catalogue, text, _by_retrieval(catalogue, plain(text), t), t
            )
            if found.decision in {"answer", "ask"}:
                return found
    return Resolution("refer", referral=match)


def _told_over_story_name(
    catalogue: Catalogue, policy: Policy, text: str
) -> Resolution | None:
    """The policy of the situation `text` tells when that situation reads the one name said
    as part of its story: a word it looks for (three characters or more) lies inside the name
    ("…四十多五十多岁的人自己交社保政府能补一点": the 4050 subsidy's situation looks for
    自己交, so 自己交社保, which names 参保登记, is its story; the question asks for the help
    with paying). Shorter words are too common in names to say so."""
    told = load_situations().told(text)
    if told is None or told.policy == policy.key or told.policy not in catalogue:
        return None
    said = [normalise(n) for n in policy.names if normalise(n) in normalise(text)]
    found = [w for w in told.words_found(text) if len(w) >= 3 and "…" not in w]
    if not any(w in n for w in found for n in said):
        return None
    return Resolution("answer", (catalogue[told.policy],), evidence="situation")


def _named_where_asked(catalogue: Catalogue, policy: Policy, text: str, t: Thresholds) -> bool:
    """A long question names `policy` in the part that asks, and nothing there outweighs it:
    the look-alike that retrieval finds over the whole question comes from the story ("…厂子
    改制以后档案一直在人才中心放着…我想先问清楚办退休到时候要准备哪些材料": 档案 is the story,
    办退休 the question), so the name is trusted."""
    if len(text) < t.long_question:
        return False
    part = question_part(text)
    if part is None or not any(normalise(n) in normalise(part) for n in policy.names):
        return False
    return _outweighed(catalogue, policy, part, t) is None


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
    # Any of the names said counts: "交社保有补贴…用人单位的社保补贴" says 社保补贴 too.
    # A name said that is part of the other's name is the other named loosely ("…不裁人的厂
    # 政府会把交的失业保险退一部分回来": 失业保险 is in 失业保险稳岗返还).
    loosely = any(w in normalise(n) for w in said for n in other.names)
    if not loosely and not _names_share(catalogue, other, plain(plain_text.replace(name, ""))):
        return None
    scores = tuple(h.score for h in hits[: t.max_choices])
    if rivals[0].score > own and loosely:
        return Resolution("answer", (other,), evidence="name", scores=scores)
    return Resolution("ask", (other, policy), evidence="doubt", scores=scores)


def _names_share(catalogue: Catalogue, policy: Policy, text: str) -> bool:
    """The question shares a specific word with one of the policy's names (not only with its
    summary: "被裁员" matches the summary of 稳岗返还, "不裁员…的企业", but asks something else)."""
    terms = catalogue.index().tokenizer.terms
    asked = {w for w in terms(text) if len(w) >= 2 and w not in GENERIC_PARTS}
    return any(asked & set(terms(name)) for name in policy.names)


def _in_text_order(policies: list[Policy], text: str) -> list[Policy]:
    plain = normalise(text)

    def first(policy: Policy) -> int:
        spots = [plain.find(normalise(n)) for n in policy.names]
        return min((s for s in spots if s >= 0), default=len(plain))

    return sorted(policies, key=first)
