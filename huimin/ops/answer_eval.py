"""End-to-end answer evaluation: the cases, the judge of a reply, and the figures.

A case is a citizen's message (or two, for a follow-up) and what a correct first reply is: a
policy and the aspect asked about, two policies, another department (a referral) or "out of
scope". The judge reads the text the citizen receives, exactly as shown on the phone (passive
reply plus customer-service messages), so menus, fallbacks and wrong answers count as a citizen
would count them. It is shared by the benchmark (`make eval`, bench/answer_eval.py), its gate
in `make test` and the ops gate, so one rule decides what "answered" means.

Case files are YAML (`cases:` list; the format is in tests/eval/README.md); they are checked at
load and a mistake is reported by file, case and field.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from huimin.catalogue.figures import RuleFigures

CATEGORIES: tuple[str, ...] = (
    "colloquial", "voice", "typo", "dialect", "elderly", "followup", "two_policies",
    "referral", "out_of_scope",
    # A policy named beside its neighbour ("工伤认定下来以后能赔多少"): development set only.
    "neighbour",
)
ASPECTS: tuple[str, ...] = (
    "overview", "eligibility", "amount", "materials", "process", "where", "time_limit", "fee",
)
# Department key -> the short name a correct referral reply must contain.
DEPARTMENTS: dict[str, str] = {
    "civil_affairs": "民政", "medical_insurance": "医保", "housing_fund": "公积金",
    "tax": "税务", "public_security": "公安", "disabled_federation": "残联", "health": "卫健",
    "education": "教育", "market_regulation": "市场监管", "housing": "住建",
    "hotline_12345": "12345",
}
# Labels, most harmful first (the report's "worst cases" are sorted by this order).
LABELS: tuple[str, ...] = (
    "wrong", "other", "fallback", "menu", "aspect_missed", "direct_right", "referral_right",
    "oos_handled",
)
GOOD_LABELS = frozenset({"direct_right", "referral_right", "oos_handled"})

# The assistant asking the citizen to choose ("您问的是哪一项？" and its variants).
_ASKS_TO_CHOOSE = re.compile(r"您问的是哪一[项个]|您想问的是哪一[项个]|请选择您要问的")
# Words of a reply that did not understand or found nothing ("please rephrase" and kin).
_FALLBACK = re.compile(r"没太明白|没明白|没听懂|换个说法|没找到和这个有关|答不了|不太理解")
# The channel's apology when the assistant is late; the real answer follows it.
_BUSY = "助手现在有点忙"
_OPTION = re.compile(r"^\s*回复\s*(\d+)\s*[：:]\s*(.+?)\s*$")
_HEADING = re.compile(r"【([^】]+)】")
_FREE_WORDS = ("免费", "不收费", "不收取", "不要钱", "不花钱")


class CaseError(ValueError):
    """A case file mistake, naming the file, the case and the field (for operators)."""


@dataclass(frozen=True)
class Expect:
    policies: tuple[str, ...] = ()
    aspect: str | None = None
    referral: str | None = None
    out_of_scope: bool = False

    @property
    def kind(self) -> str:
        if self.referral:
            return "referral"
        if self.out_of_scope:
            return "out_of_scope"
        return "policy"


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    turns: tuple[str, ...]
    expect: Expect


def load_policies(policies_dir: Path) -> dict[str, dict[str, Any]]:
    """The catalogue as plain data, keyed by policy key. Read as YAML rather than through the
    schema so the judge also sees fields added later (such as `fee`); figures filled from the
    rules, as the catalogue does."""
    policies = {}
    figures = RuleFigures()
    for path in sorted(policies_dir.glob("*.yml")):
        if path.name.startswith("_"):  # the catalogue's own rule: `_aspects.yml` is no policy
            continue
        data, unfilled = figures.fill(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))
        if unfilled:
            raise ValueError(f"{path.name}: {'; '.join(unfilled)}")
        policies[data["key"]] = data
    return policies


def load_cases(directory: Path, policy_keys: Iterable[str]) -> list[Case]:
    """Every case in `directory`/*.yml, checked; ids are unique across the files."""
    keys = set(policy_keys)
    cases: list[Case] = []
    seen: set[str] = set()
    files = sorted(directory.glob("*.yml"))
    if not files:
        raise CaseError(f"{directory}: no case files (*.yml)")
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            raise CaseError(f"{path}: expected a top-level 'cases:' list")
        for n, raw in enumerate(data["cases"], 1):
            case = _case(raw, f"{path.name} case {n}", keys)
            if case.id in seen:
                raise CaseError(f"{path.name} case {n}: field 'id': duplicate id {case.id!r}")
            seen.add(case.id)
            cases.append(case)
    return cases


def _case(raw: Any, where: str, keys: set[str]) -> Case:
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: expected a mapping with id, category, turns, expect")
    unknown = set(raw) - {"id", "category", "turns", "expect"}
    if unknown:
        raise CaseError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise CaseError(f"{where}: field 'id': required text")
    where = f"{where} ({case_id})"
    if raw.get("category") not in CATEGORIES:
        raise CaseError(f"{where}: field 'category': one of {', '.join(CATEGORIES)}")
    turns = raw.get("turns")
    if not isinstance(turns, list) or not turns or not all(
        isinstance(t, str) and t.strip() for t in turns
    ):
        raise CaseError(f"{where}: field 'turns': a non-empty list of messages")
    exp = raw.get("expect")
    if not isinstance(exp, dict):
        raise CaseError(f"{where}: field 'expect': required mapping")
    unknown = set(exp) - {"policy", "policies", "aspect", "referral", "out_of_scope"}
    if unknown:
        raise CaseError(f"{where}: field 'expect': unknown key(s) {', '.join(sorted(unknown))}")
    policies = tuple(exp.get("policies") or ([exp["policy"]] if exp.get("policy") else []))
    for key in policies:
        if key not in keys:
            raise CaseError(f"{where}: field 'expect.policy': unknown policy {key!r}")
    referral = exp.get("referral")
    if referral is not None and referral not in DEPARTMENTS:
        raise CaseError(f"{where}: field 'expect.referral': one of {', '.join(DEPARTMENTS)}")
    oos = exp.get("out_of_scope", False) is True
    if sum([bool(policies), referral is not None, oos]) != 1:
        raise CaseError(f"{where}: field 'expect': exactly one of policy/policies, referral, "
                        "out_of_scope")
    aspect = exp.get("aspect")
    if policies and aspect not in ASPECTS:
        raise CaseError(f"{where}: field 'expect.aspect': one of {', '.join(ASPECTS)}")
    return Case(case_id, raw["category"], tuple(turns),
                Expect(policies, aspect if policies else None, referral, oos))


@dataclass(frozen=True)
class Verdict:
    label: str
    right_first: bool | None = None  # for a menu on a policy case: the expected policy is 1st
    presented: tuple[str, ...] = ()  # policy keys the reply presents as its answer


class Judge:
    """Classifies the text a citizen received against what the case expects (issue 14's
    contract: direct-right, menu, wrong, referral right, out-of-scope handled, and fallback,
    aspect_missed, other for the rest)."""

    def __init__(self, policies: dict[str, dict[str, Any]]) -> None:
        self.policies = policies
        # Longest titles first, so a title inside a longer one is not counted twice.
        self._titles = sorted(((p["title"], k) for k, p in policies.items()),
                              key=lambda tk: -len(tk[0]))

    # -- reading a reply -----------------------------------------------------------------------

    def _titles_in(self, text: str) -> list[str]:
        found: list[str] = []
        rest = text
        for title, key in self._titles:
            if title in rest:
                found.append(key)
                rest = rest.replace(title, "\0")
        return found

    def _split(self, reply: str) -> tuple[list[str], list[str]]:
        """(body lines, numbered option texts)."""
        body, options = [], []
        for line in reply.splitlines():
            match = _OPTION.match(line)
            (options.append(match.group(2)) if match else body.append(line))
        return body, options

    def presented(self, reply: str) -> list[str]:
        """Policies shown as the answer: those in 【title】 headings, or when the reply has no
        heading, the titles named in its body (numbered options are offers, not answers)."""
        body, _ = self._split(reply)
        text = "\n".join(body)
        headed = [k for h in _HEADING.findall(text) for k in self._titles_in(h)]
        found = headed or self._titles_in(text)
        return list(dict.fromkeys(found))

    def menu_options(self, reply: str) -> list[str]:
        """Policy keys offered as numbered choices, in order."""
        _, options = self._split(reply)
        return [keys[0] for keys in (self._titles_in(o) for o in options) if keys]

    def is_menu(self, reply: str) -> bool:
        """Asks to choose between policies. Numbered options that follow an answer (a reply
        with a 【title】 heading) are follow-ups, not a menu."""
        if _ASKS_TO_CHOOSE.search(reply):
            return True
        body, _ = self._split(reply)
        return len(self.menu_options(reply)) >= 2 and not _HEADING.search("\n".join(body))

    def evidence(self, key: str, aspect: str) -> list[str]:
        """Catalogue text whose presence shows the aspect was answered (any one suffices)."""
        p = self.policies[key]
        if aspect == "overview":
            return [p["summary"]]
        if aspect == "eligibility":
            return [p["eligibility"][0]]
        if aspect == "amount":
            return [str(p["amount"])[:8]]
        if aspect == "materials":
            return [p["materials"][0]]
        if aspect == "process":
            return [steps[0] for steps in p["process"].values() if steps]
        if aspect == "where":
            return [p["where"]["address"]]
        if aspect == "time_limit":
            return [str(p["time_limit"]).splitlines()[0][:8]]
        if aspect == "fee":
            return [str(p["fee"])] if p.get("fee") else [str(p["amount"])[:8]]
        raise ValueError(f"unknown aspect {aspect!r}")

    def _fee_in_plain_words(self, key: str, reply: str) -> bool:
        """"免费/不收费" counts for a free policy, outside the summary (which may mention free
        services that are not this policy's fee)."""
        p = self.policies[key]
        words = str(p.get("fee") or "") or " ".join(
            [str(p["amount"]), *(str(x) for x in p["eligibility"])])
        if not any(w in words for w in _FREE_WORDS):
            return False
        rest = reply.replace(p["summary"], "")
        return any(w in rest for w in _FREE_WORDS)

    def answers(self, key: str, aspect: str, reply: str) -> bool:
        if any(e and e in reply for e in self.evidence(key, aspect)):
            return True
        return aspect == "fee" and self._fee_in_plain_words(key, reply)

    # -- the verdict ---------------------------------------------------------------------------

    def judge(self, expect: Expect, reply: str) -> Verdict:
        text = reply.strip()
        if not text or text.replace(" ", "") == "success":
            return Verdict("other")
        presented = tuple(self.presented(text))
        if self.is_menu(text):
            offered = self.menu_options(text)
            first = bool(offered) and bool(expect.policies) and offered[0] in expect.policies
            return Verdict("menu", first if expect.policies else None, presented)
        only_busy = _BUSY in text and not presented and not _FALLBACK.search(text)
        if expect.kind != "policy":
            if presented:
                return Verdict("wrong", None, presented)
            # A policy offered as a numbered option is not an answer, but not a clean one.
            offers = bool(self._titles_in(text))
            if only_busy:
                return Verdict("other")
            if expect.kind == "referral":
                if DEPARTMENTS[expect.referral or ""] in text and not offers:
                    return Verdict("referral_right")
                return Verdict("fallback" if _FALLBACK.search(text) else "other")
            return Verdict("other" if offers else "oos_handled")
        # Another policy's answer that mentions the expected one (in its text, or as a
        # numbered option beneath it) is still another policy presented as the answer.
        if presented and not set(presented) & set(expect.policies):
            return Verdict("wrong", None, presented)
        body = "\n".join(self._split(text)[0])
        titles = {k: self.policies[k]["title"] in body for k in expect.policies}
        if all(titles.values()):
            if all(self.answers(k, expect.aspect or "overview", text) for k in expect.policies):
                return Verdict("direct_right", None, presented)
            return Verdict("aspect_missed", None, presented)
        if any(titles.values()):  # one of two expected policies only
            return Verdict("other", None, presented)
        if any(k not in expect.policies for k in presented):
            return Verdict("wrong", None, presented)
        if _FALLBACK.search(text):
            return Verdict("fallback", None, presented)
        return Verdict("other", None, presented)


@dataclass
class Result:
    id: str
    category: str
    turns: list[str]
    expect: dict[str, Any]
    reply: str
    label: str
    right_first: bool | None = None
    presented: list[str] = field(default_factory=list)
    seconds: float = 0.0


def result_of(case: Case, reply: str, verdict: Verdict, seconds: float = 0.0) -> Result:
    return Result(case.id, case.category, list(case.turns),
                  {k: v for k, v in asdict(case.expect).items() if v},
                  reply, verdict.label, verdict.right_first, list(verdict.presented),
                  round(seconds, 2))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(results: Sequence[Result]) -> dict[str, Any]:
    """Rates as the contract defines them. direct-right, menu and aspect figures are over the
    policy cases (one or two policies expected); wrong is over every case (a referral or
    out-of-scope question answered with a policy is wrong too); referral right over the
    referral cases; out-of-scope handled over the out-of-scope cases."""
    def kind(r: Result) -> str:
        return "referral" if "referral" in r.expect else (
            "out_of_scope" if r.expect.get("out_of_scope") else "policy")

    policy = [r for r in results if kind(r) == "policy"]
    referral = [r for r in results if kind(r) == "referral"]
    oos = [r for r in results if kind(r) == "out_of_scope"]
    menus = [r for r in policy if r.label == "menu"]
    counts = Counter(r.label for r in results)
    return {
        "cases": len(results),
        "policy_cases": len(policy),
        "direct_right": _rate(sum(r.label == "direct_right" for r in policy), len(policy)),
        "menu": _rate(len(menus), len(policy)),
        "menu_right_first": _rate(sum(bool(r.right_first) for r in menus), len(menus)),
        "wrong": _rate(counts["wrong"], len(results)),
        "referral_right": _rate(sum(r.label == "referral_right" for r in referral),
                                len(referral)),
        "oos_handled": _rate(sum(r.label == "oos_handled" for r in oos), len(oos)),
        "labels": {label: counts[label] for label in LABELS if counts[label]},
    }


def report(results: Sequence[Result]) -> dict[str, Any]:
    """Overall and per-category figures."""
    by_category = {c: [r for r in results if r.category == c] for c in CATEGORIES}
    return {
        "overall": figures(results),
        "categories": {c: figures(rs) for c, rs in by_category.items() if rs},
    }


def worst(results: Sequence[Result], n: int = 20) -> list[Result]:
    """The most harmful failures first: wrong, no answer, fallback, menu (right policy not
    first before right policy first), wrong aspect."""
    def severity(r: Result) -> tuple[int, int]:
        return (LABELS.index(r.label), 0 if r.right_first is False else 1)

    bad = [r for r in results if r.label not in GOOD_LABELS]
    return sorted(bad, key=severity)[:n]
