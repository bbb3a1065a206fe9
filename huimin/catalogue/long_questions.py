"""Long questions: the story told first may point elsewhere than the part that asks.

Older citizens often explain their situation at length before asking ("我是下岗的…听说…这个
手续要多长时间能办完"). These rules read the part that asks (`vocabulary.asking_part`) on
its own, against what retrieval made of the whole, so that a word of the story (another
department's matter, a look-alike name) does not decide the answer.
"""

from __future__ import annotations

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.dialect import plain
from huimin.catalogue.misheard import GENERIC_PARTS, fuzzy_names
from huimin.catalogue.referrals import Match, ReferralTable
from huimin.catalogue.retrieval import (
    Resolution,
    Thresholds,
    by_retrieval,
    clear,
    names_share,
    outweighed,
)
from huimin.catalogue.schema import Policy
from huimin.catalogue.situations import load_situations
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import QUESTION_WORDS, asking_part, asks_something


def long_question(
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
    part = asking_part(text)
    if len(part) >= len(plain(text)):
        return found
    narrow = clear(by_retrieval(catalogue, part, t), t)
    if narrow is None:
        return _asked_first(catalogue, part, found, t)
    if narrow.policies[0] not in found.policies:
        return found
    best = narrow.policies[0]
    runner_up = narrow.scores[1] if len(narrow.scores) > 1 else 0.0
    if best == found.policies[0]:
        if runner_up > narrow.scores[0] * t.part_clear_ratio:
            return found
        return Resolution("answer", (best,), evidence="search", scores=found.scores)
    rest = tuple(p for p in found.policies if p != best)
    return Resolution("ask", (best, *rest), evidence="search", scores=found.scores)


def _asked_first(catalogue: Catalogue, part: str, found: Resolution, t: Thresholds) -> Resolution:
    """`found` (a menu) with the candidate that the part that asks ranks first put first,
    still offered, never answered: the part alone is too short to answer on, but it tells
    what is asked better than the story ("…快递公司干了四年…交了好几年保险失业了政府每个月
    会给发点钱能发几个月": the whole ranks 技能提升补贴 first on the story's 保险 and 干了,
    the part 失业保险金)."""
    hits = [h for h in catalogue.search(part, k=1) if h.key in catalogue]
    if not hits or hits[0].score < t.ask_score:
        return found
    best = catalogue[hits[0].key]
    if best not in found.policies[1:]:
        return found
    rest = tuple(p for p in found.policies if p != best)
    return Resolution("ask", (best, *rest), evidence="search", scores=found.scores)


def the_one_asked(policies: list[Policy], text: str, t: Thresholds) -> Policy | None:
    """Of the policies a long question names, the only one named in the part that asks: the
    others are named in the story ("我老伴去年领了失业金领完了还是没找到工作…听人说可以去认定
    一个就业困难人员认定了能有什么照顾要带什么": 失业金 is what happened, 就业困难人员 what is
    asked). None when the part names none or several, or the question is short (two names
    side by side are compared: "失业登记和失业金有什么区别"), or when the name there only
    describes what follows ("…我这种自己交社保的退休要怎么办": 的 makes 自己交社保 the kind of
    retirement asked about). When the part goes on, after that name, to a word of another
    one's title, that other is asked (`_name_word_in`)."""
    if len(text) < t.long_question:
        return None
    part = normalise(asking_part(text))
    asked = [p for p in policies if any(normalise(n) in part for n in p.names)]
    if len(asked) != 1:
        return None
    said = [normalise(n) for n in asked[0].names if normalise(n) in part]
    if any(part[part.rfind(n) + len(n) :].startswith("的") for n in said):
        return None
    after = part[max(part.rfind(n) + len(n) for n in said) :]
    later = [p for p in policies if p != asked[0] and _name_word_in(p, asked[0], after)]
    return later[0] if len(later) == 1 else asked[0]


def _name_word_in(policy: Policy, other: Policy, text: str) -> bool:
    """`text` says two characters of `policy`'s title that are no generic part (补贴, 认定)
    and lie in none of `other`'s names: the part that asks goes on to `policy` after naming
    `other` ("…我明年办退休要用档案现在怎么补办档案": 退休 is what the file is for, 档案 of
    流动人员人事档案管理 what is asked). The title only: aliases hold everyday words (农村 of
    农村养老保险 describes who, "像她这样农村的能不能也领到")."""
    own = [normalise(n) for n in other.names]
    title = normalise(policy.title)
    words = {title[i : i + 2] for i in range(len(title) - 1)}
    return any(
        w in text for w in words if w not in GENERIC_PARTS and not any(w in n for n in own)
    )


def named_after_question(
    catalogue: Catalogue,
    policy: Policy,
    referrals: ReferralTable | None,
    text: str,
    t: Thresholds,
) -> Resolution | None:
    """What the question asks when the one name said, `policy`, comes only in a story told
    after it (`asking_part` ends at a story opener): "我交了多少年养老保险到底在哪能查到哎呀我
    失业金领完了…" asks for the contribution record, 失业金 is what happened. The part that
    asks decides, as another department's matter, a situation told, or a policy retrieval
    finds clearly; None when it settles nothing, and the name stands. Whatever the length:
    the opener, not the length, says where the story starts."""
    if not _story_after(text):
        return None
    whole = plain(text)
    part = asking_part(text)
    if any(normalise(n) in normalise(whole[: whole.find(part) + len(part)]) for n in policy.names):
        return None
    match = referrals.match(part) if referrals is not None else None
    if match is not None and match.department.key != "hotline_12345":
        return Resolution("refer", referral=match, evidence="name")
    told = load_situations().told(part)
    if told is not None and told.policy in catalogue and told.policy != policy.key:
        return Resolution("answer", (catalogue[told.policy],), evidence="situation")
    found = clear(by_retrieval(catalogue, part, t), t)
    if found is not None and found.decision == "answer" and found.policies[0] != policy:
        return Resolution("answer", found.policies, evidence="name", scores=found.scores)
    return None


def _story_after(text: str) -> bool:
    """The part that asks ends before the message does: a story opener follows the question
    ("失业金能领几个月我跟你讲我在厂里交了九年…")."""
    whole = plain(text)
    part = asking_part(text)
    return bool(part) and whole.find(part) + len(part) < len(whole)


def heard_where_asked(catalogue: Catalogue, text: str, t: Thresholds) -> list[Policy]:
    """The names `text` holds misheard or mistyped (`misheard.fuzzy_names`), less, in a long
    question, those heard only loosely (one character of another sound) outside the part that
    asks: a story's own words often come within a character of a name ("我前年自己去社保局问过
    …交的年限不够的话能不能再补交几年": 自己去社保 is where the citizen went, not 自己交社保),
    while a name misheard in full sounds alike wherever it stands."""
    heard = fuzzy_names(catalogue, text)
    if len(text) < t.long_question or not heard:
        return heard
    alike = fuzzy_names(catalogue, text, sound_only=True)
    asked = fuzzy_names(catalogue, asking_part(text))
    return [p for p in heard if p in alike or p in asked]


def refer_or_story(
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
        if told is not None and _told_after(match, text):
            return Resolution("answer", (catalogue[told],), evidence="situation")
        if told is not None and _asked_before_told(match, text):
            return Resolution("refer", referral=match)
        part = asking_part(text)
        if referrals.match(part) is None:
            if told is not None:
                return Resolution("answer", (catalogue[told],), evidence="situation")
            found = long_question(
                catalogue, text, by_retrieval(catalogue, plain(text), t), t
            )
            if found.decision == "answer" or _menu_of_the_part(catalogue, found, part, t):
                return found
        condition = _told_as_a_condition(catalogue, match, text, t)
        if condition is not None:
            return condition
    return Resolution("refer", referral=match)


def _menu_of_the_part(
    catalogue: Catalogue, found: Resolution, part: str, t: Thresholds
) -> bool:
    """A menu that outweighs another department's matter told in the story: its first
    candidate scores strongly (`switch_score`), or the part that asks says a word of one of
    its candidates' names ("…医保卡里的钱都用完了…我想问的是我这个退休金每年涨的时候能涨
    多少": 退休 is 退休办理's). A weak menu on no such word reads nothing of 人社's in the
    part ("…慢性病可以办个门诊的待遇报得多一点…这个要怎么办": 待遇 only echoes 工伤保险待遇,
    a generic ending), so the matter told is what is asked about."""
    if found.decision != "ask":
        return False
    if found.scores and found.scores[0] >= t.switch_score:
        return True
    return any(names_share(catalogue, p, part) for p in found.policies)


def _told_as_a_condition(
    catalogue: Catalogue, match: Match, text: str, t: Thresholds
) -> Resolution | None:
    """Retrieval's reading of a long question when the department's matter it says is a
    condition of the policy it finds first, strongly (`switch_score`) and on a word of that
    policy's names outside the matter: the matter tells who the citizen is, not what is
    asked ("…听说毕业生有个求职的补贴他家里是低保户这个他能不能申请": a 低保 family is who
    may have the job-search subsidy). Not when the matter is said after an asking start in
    the part that asks ("…我想问一下低保户的证明去哪里开": the matter is asked)."""
    if _asked_after_a_start(match, asking_part(text)):
        return None
    found = by_retrieval(catalogue, plain(text), t)
    if found.decision not in {"answer", "ask"} or found.scores[0] < t.switch_score:
        return None
    top = found.policies[0]
    said = [w for w in match.matter.words if w in text]
    if not any(w in line for w in said for line in top.eligibility):
        return None
    rest = plain(text)
    for word in sorted(said, key=len, reverse=True):
        rest = rest.replace(word, "")
    if not names_share(catalogue, top, rest):
        return None
    return long_question(catalogue, text, found, t)


def _asked_after_a_start(match: Match, part: str) -> bool:
    """A word of the department's matter follows an asking start ("想问", "到底") in `part`."""
    starts = [part.rfind(w) + len(w) for w in QUESTION_WORDS.starts if w in part]
    return bool(starts) and any(w in part[max(starts) :] for w in match.matter.words)


def _told_after(match: Match, text: str) -> bool:
    """The situation `text` tells goes on, in a word of two characters or more,
    after the last word of the department's matter: the matter is the story, the situation
    what is asked ("…开了个设计工作室营业执照办了八个月了那个那个场地租金补贴怎么申请":
    营业执照 is 市场监管's, 场地…租金 asked after it). A one-character word (钱, 领) says
    too little: "…去世了…火化要花多少钱" stays 民政's. Nor when a question comes between
    them: the matter is asked, the situation a story told after the question."""
    between = _before_situation(match, text)
    return between is not None and not asks_something(between)


def _asked_before_told(match: Match, text: str) -> bool:
    """A question comes right after the last word of the department's matter, before the
    situation `text` tells goes on: the matter is asked, the situation a story told after the
    question ("…这个公积金怎么取出来我的社保上个月已经转回来了": the fund is asked, the
    transfer of the pension insurance told)."""
    between = _before_situation(match, text)
    return between is not None and asks_something(between)


def _before_situation(match: Match, text: str) -> str | None:
    """`text` from the last word of the department's matter (itself included: a matter word
    may hold its question, 公积金怎么取) to the first word (two characters or more) of the
    situation told after it; None when there is none."""
    told = load_situations().told(text)
    said = [w for w in match.matter.words if w in text]
    if told is None or not said:
        return None
    last = max(said, key=lambda w: text.rfind(w) + len(w))
    matter_end = text.rfind(last) + len(last)
    after = [text.rfind(w) for w in told.words_found(text)
             if len(w) >= 2 and "…" not in w and text.rfind(w) >= matter_end]
    return text[text.rfind(last) : min(after)] if after else None


def told_over_story_name(
    catalogue: Catalogue, policy: Policy, text: str
) -> Resolution | None:
    """The policy of the situation `text` tells when that situation reads the one name said
    as part of its story: its words cover the whole name, one of them three characters or
    more ("…四十多五十多岁的人自己交社保政府能补一点": the 4050 subsidy's situation looks for
    自己交 and 交社保, so 自己交社保, which names 参保登记, is its story; the question asks for
    the help with paying). Shorter words are too common in names to say so, and a name with a
    part no word covers says more than the situation: "…老伴前年走了…每年要做的养老金认证…去
    哪里去认证" holds the death situation's 养老金, but 认证 is the certification's own."""
    told = load_situations().told(text)
    if told is None or told.policy == policy.key or told.policy not in catalogue:
        return None
    said = [normalise(n) for n in policy.names if normalise(n) in normalise(text)]
    found = [w for w in told.words_found(text) if "…" not in w]
    if not any(_covered(n, found) for n in said):
        return None
    return Resolution("answer", (catalogue[told.policy],), evidence="situation")


def _covered(name: str, words: list[str]) -> bool:
    """Every character of `name` lies in one of `words` found inside it, one of them three
    characters or more."""
    inside = [w for w in words if w in name]
    if not any(len(w) >= 3 for w in inside):
        return False
    covered = [False] * len(name)
    for word in inside:
        start = name.find(word)
        while start >= 0:
            covered[start : start + len(word)] = [True] * len(word)
            start = name.find(word, start + 1)
    return all(covered)


def misheard_where_asked(
    catalogue: Catalogue, policy: Policy, text: str, t: Thresholds
) -> Resolution | None:
    """Another policy's name misheard in full (every character sounding alike) in the part
    that asks a long question whose story names `policy` verbatim: the question asks about
    the name misheard ("…一直领那个居民养老金…卡里的钱少了一百多就是说那个养老金认正是不是
    没做": 居民养老金 is what she draws, 养老金认证 what is asked). Not when the part names
    `policy` too, nor when it hears several names."""
    if len(text) < t.long_question:
        return None
    part = asking_part(text)
    if any(normalise(n) in normalise(part) for n in policy.names):
        return None
    heard = [p for p in fuzzy_names(catalogue, part, sound_only=True) if p.key != policy.key]
    if len(heard) != 1:
        return None
    return Resolution("answer", (heard[0],), evidence="name")


def named_where_asked(catalogue: Catalogue, policy: Policy, text: str, t: Thresholds) -> bool:
    """A long question names `policy` in the part that asks, and nothing there outweighs it:
    the look-alike that retrieval finds over the whole question comes from the story ("…厂子
    改制以后档案一直在人才中心放着…我想先问清楚办退休到时候要准备哪些材料": 档案 is the story,
    办退休 the question), so the name is trusted. A shorter question too when a story follows
    it (`_story_after`: "失业金要去哪里办手续怎么讲呢…把档案转到人才中心去了")."""
    if len(text) < t.long_question and not _story_after(text):
        return False
    part = asking_part(text)
    if not any(normalise(n) in normalise(part) for n in policy.names):
        return False
    doubt = outweighed(catalogue, policy, part, t)
    if doubt is None:
        return True
    # A look-alike that only the short part raises (社保补贴 inside 单位社保补贴), while the
    # whole question ranks it well below the name, is no doubt: the part leans on one word.
    scores = {h.key: h.score for h in catalogue.search(plain(text), k=len(catalogue))}
    rival = doubt.policies[0].key
    return scores.get(rival, 0.0) < scores.get(policy.key, 0.0) * t.name_doubt_ratio


def referred_past_story_name(
    catalogue: Catalogue,
    policy: Policy,
    referrals: ReferralTable | None,
    text: str,
    t: Thresholds,
) -> Resolution | None:
    """Another department's matter asked at the end of a long question whose story names
    `policy` ("…一直领着高龄津贴…想把他送到养老院去…这个找哪个部门": 高龄津贴 is the story,
    养老院 民政's matter asked): the question decides, so refer; a shorter question too when
    a story opener sets it apart (`_opens_after_story`: "…要去做养老金认证没有身份证不行你听我
    说身份证补办要去哪里"). Not when the part that asks
    names `policy` too or still reads as it first (the part reaches back into the story:
    "…社保卡…去医院看病刷不了…换张新卡就是说换卡怎么办" holds 看病 but asks for the card), nor
    for the 12345 catch-all (it yields to any 人社 evidence), nor when a situation told
    reads the department's words as its own (办丧事的钱 is the funeral grant's, not 民政's)."""
    if referrals is None or (len(text) < t.long_question and not _opens_after_story(text)):
        return None
    part = asking_part(text)
    if any(normalise(n) in normalise(part) for n in policy.names):
        return None
    match = referrals.match(part)
    if match is None or match.department.key == "hotline_12345":
        return None
    hits = catalogue.search(part, k=1)
    if hits and hits[0].key == policy.key:
        return None
    told = load_situations().told(text)
    if told is not None and told.reads_as_its_own(match.matter.words, text, asked=part):
        return None
    # evidence "name": decided with a name in the text weighed, so a policy the NLU tagged
    # (the story's name) does not override it (`resolver.with_named`).
    return Resolution("refer", referral=match, evidence="name")


def _opens_after_story(text: str) -> bool:
    """The part that asks starts right after a story opener ("你听我说", "我跟你讲"): what
    comes before is the citizen's story, however short the whole."""
    whole = plain(text)
    before = whole[: whole.find(asking_part(text))]
    return any(before.endswith(o) for o in QUESTION_WORDS.openers)


def story_name_doubted(
    catalogue: Catalogue, policy: Policy, doubt: Resolution, text: str, t: Thresholds
) -> Resolution:
    """`doubt` (a look-alike of the name `policy` said: `retrieval.outweighed`), settled by
    the situation told: when it is the name's own, the name stands, whatever the length.
    For a long question that names `policy` only in its story, the look-alike is answered when the
    situation told is it, or when the part that asks finds it first and well apart
    (`part_clear_ratio`). "我是就业困难人员街道让我去参加了一个家政培训…培训期间每天还给点
    生活费这个一天给多少" names 就业困难人员 (认定) as who the citizen is, and asks about the
    living allowance during training. A name in the part that asks keeps the menu.
    The answer's evidence is "name", as when `outweighed` answers a look-alike named loosely:
    the text's names were weighed, so a policy the NLU tagged does not override it."""
    told = load_situations().told(text)
    if told is not None and told.policy == policy.key:
        # The story told is the name's own ("…回老家开了个小饭馆…返乡开店的那个创业补贴能不
        # 能领": 创业补贴 is also inside 求职创业补贴, which retrieval ties with it).
        return Resolution("answer", (policy,), evidence="name", scores=doubt.scores)
    if doubt.decision != "ask" or len(text) < t.long_question:
        return doubt
    rival = doubt.policies[0]
    part = asking_part(text)
    if any(normalise(n) in normalise(part) for n in policy.names):
        return doubt
    if told is not None and told.policy == rival.key:
        return Resolution("answer", (rival,), evidence="name", scores=doubt.scores)
    hits = catalogue.search(part, k=2)
    if not hits or hits[0].score < t.ask_score:
        # The part that asks finds nothing: the look-alike rests on the story alone, as the
        # name does, and the name said is the stronger evidence ("…厂里以前发工资都是现金…
        # 要拿社保卡领钱…那个卡从来没用过现在卡上的钱怎么取出来啊": 发工资 reads 欠薪投诉).
        return Resolution("answer", (policy,), evidence="name", scores=doubt.scores)
    if hits[0].key != rival.key or hits[0].score < t.answer_score:
        return doubt
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    if runner_up > hits[0].score * t.part_clear_ratio:
        return doubt
    return Resolution("answer", (rival,), evidence="name", scores=doubt.scores)


def told_or_asked(catalogue: Catalogue, key: str, text: str, t: Thresholds) -> Resolution:
    """The situation told (`key`), unless a long question tells it only in its story and
    asks about another policy that retrieval finds clearly and strongly over the whole
    (`switch_score`) and first in the part that asks ("…一直没有工作家里老人要照顾也走不远听说
    社区有那种公益性的岗位…我要去哪里报名": 老人…照顾 tells home care, 公益性的岗位 is asked)."""
    told = Resolution("answer", (catalogue[key],), evidence="situation")
    if len(text) < t.long_question:
        return told
    part = asking_part(text)
    situation = load_situations().told(text)
    if situation is None or any(w.split("…")[-1] in part for w in situation.words_found(text)):
        return told
    found = clear(by_retrieval(catalogue, plain(text), t), t)
    if found is None or found.policies[0].key == key:
        return told
    hits = catalogue.search(part, k=1)
    if not hits or hits[0].key != found.policies[0].key:
        return told
    return found
