"""Measure the policy resolver on the development set (tests/dev/*.yml), for tuning.

    .venv/bin/python scripts/dev_eval.py [--show wrong,menu,...] [--set tests/dev]

Each case's turns go through `huimin.catalogue.answers.reply_to_question` in order, the policy
slot carried from one turn to the next as the bot does, and the last reply is judged the way
the issue 14 evaluation contract describes (menu, direct-right, wrong, referral right,
out-of-scope handled, else fallback / aspect_missed / other). This is the domain path only:
the NLU's intent and entities are not used, so it measures what the resolver decides from the
words alone. The honest end-to-end measure is `make eval` (tests/eval/), never tuned on.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huimin.catalogue import Catalogue, Policy, load_catalogue  # noqa: E402
from huimin.catalogue.answers import Outcome, answer, reply_to_question  # noqa: E402
from huimin.catalogue.follow_ups import asked_of_previous  # noqa: E402
from huimin.catalogue.referrals import ReferralTable, load_referrals  # noqa: E402
from huimin.catalogue.resolver import resolve  # noqa: E402

# The contract's department keys and the short name a referral reply must contain.
DEPARTMENTS = {
    "civil_affairs": "民政", "medical_insurance": "医保", "housing_fund": "公积金",
    "tax": "税务", "public_security": "公安", "disabled_federation": "残联", "health": "卫健",
    "education": "教育", "market_regulation": "市场监管", "housing": "住建",
    "hotline_12345": "12345",
}  # fmt: skip


def load_cases(folder: Path) -> list[dict]:
    cases: list[dict] = []
    for path in sorted(folder.glob("*.yml")):
        cases.extend((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("cases", []))
    return cases


def converse(
    catalogue: Catalogue, referrals: ReferralTable, today: date, turns: list[str]
) -> str:
    """The citizen-visible text of the reply to the last turn (buttons as numbered lines)."""
    previous: str | None = None
    aspect: str | None = None
    text = ""
    for turn in turns:
        # As the ask_policy action does: a follow-up about the previous policy first.
        # The turn is resolved once and the resolution passed along, as the actions do.
        found = resolve(catalogue, referrals, turn)
        asked = asked_of_previous(catalogue, referrals, turn, previous, found=found)
        outcome = Outcome(answer(asked[0], asked[1], today), *asked) if asked else (
            reply_to_question(catalogue, today, text=turn, previous=previous,
                              previous_aspect=aspect, referrals=referrals, resolution=found))
        previous = outcome.policy.key if outcome.policy else None
        aspect = outcome.aspect
        lines = [outcome.reply.text]
        lines += [f"回复 {i}：{c.title}" for i, c in enumerate(outcome.reply.choices, 1)]
        text = "\n".join(lines)
    return text


def evidence(policy: Policy, aspect: str) -> list[str]:
    """Catalogue text whose presence shows the aspect was answered (any one suffices)."""
    if aspect == "where":
        return [policy.where.address]
    if aspect == "materials":
        return [policy.materials[0]]
    if aspect == "fee":
        return [t for t in (getattr(policy, "fee", None), "免费", "不收费") if t]
    if aspect == "amount":
        return [policy.amount[:8]]
    if aspect == "overview":
        return [policy.summary]
    if aspect == "eligibility":
        return [policy.eligibility[0]]
    if aspect == "process":
        return [(policy.process.online or policy.process.offline)[0]]
    if aspect in {"time_limit", "deadline"}:
        return [policy.time_limit.splitlines()[0][:8]]
    raise ValueError(f"unknown aspect {aspect!r}")


def is_menu(catalogue: Catalogue, text: str) -> tuple[bool, str | None]:
    """A choice between policies, and the policy offered first."""
    offered = []
    for line in text.splitlines():
        if line.startswith("回复 "):
            label = line.split("：", 1)[-1]
            for p in catalogue:
                if p.title in label and p.key not in offered:
                    offered.append(p.key)
    menu = len(offered) >= 2 or "您问的是哪一项" in text
    return menu, (offered[0] if offered else None)


def presented(catalogue: Catalogue, text: str) -> set[str]:
    """Policies whose title the reply presents (outside the numbered choice lines)."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("回复 "))
    return {p.key for p in catalogue if p.title in body}


def judge(catalogue: Catalogue, case: dict, text: str) -> str:
    expect = case["expect"]
    menu, first = is_menu(catalogue, text)
    shown = presented(catalogue, text)
    if "referral" in expect:
        if menu:
            return "menu"
        if shown:
            return "wrong"
        return "referral_right" if DEPARTMENTS[expect["referral"]] in text else "other"
    if expect.get("out_of_scope"):
        if menu:
            return "menu"
        if shown:
            return "wrong"
        return "oos_handled" if text.strip() else "other"
    keys = expect.get("policies") or [expect["policy"]]
    if menu:
        return "menu_first_right" if first == keys[0] else "menu"
    wanted = [catalogue[k] for k in keys]
    if not all(p.title in text for p in wanted):
        return "wrong" if shown - set(keys) else ("fallback" if "没明白" in text else "other")
    aspect = expect.get("aspect", "overview")
    if all(any(e in text for e in evidence(p, aspect)) for p in wanted):
        return "direct_right"
    return "aspect_missed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "tests" / "dev")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies")
    parser.add_argument("--show", default="", help="labels whose cases to print, e.g. wrong,menu")
    args = parser.parse_args(argv)
    catalogue = load_catalogue(args.policies)
    referrals = load_referrals(ROOT / "referrals")
    today = date.today()
    show = set(filter(None, args.show.split(",")))
    overall: Counter[str] = Counter()
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for case in load_cases(args.set):
        text = converse(catalogue, referrals, today, case["turns"])
        label = judge(catalogue, case, text)
        overall[label] += 1
        by_category[case["category"]][label] += 1
        if label in show:
            print(f"--- {case['id']} [{label}] {' / '.join(case['turns'])} -> {case['expect']}")
            print("    " + text.replace("\n", "\n    "))
    total = sum(overall.values())
    policy_cases = total - sum(
        by_category[c].total() for c in ("referral", "out_of_scope") if c in by_category
    )
    print(f"cases: {total}")
    for label, count in sorted(overall.items(), key=lambda kv: -kv[1]):
        print(f"  {label:18} {count:4}  {count / total:.3f}")
    direct = overall["direct_right"]
    menus = overall["menu"] + overall["menu_first_right"]
    ref = by_category["referral"]
    print(
        f"direct-right {direct / max(policy_cases, 1):.3f} of policy cases; "
        f"menu {menus / total:.3f}; wrong {overall['wrong'] / total:.3f}; "
        f"referral right {ref['referral_right'] / max(ref.total(), 1):.3f}; "
        f"out-of-scope handled {by_category['out_of_scope']['oos_handled']}"
        f"/{by_category['out_of_scope'].total()}"
    )
    for category, counts in sorted(by_category.items()):
        print(f"  {category:13} " + ", ".join(f"{k}={v}" for k, v in counts.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
