"""Measure the policy resolver on the development set (tests/dev/*.yml), for tuning.

    .venv/bin/python scripts/dev_eval.py [--show wrong,menu,...] [--set tests/dev]

Each case's turns go through `huimin.catalogue.answers.reply_to_question` in order, the policy
slot carried from one turn to the next as the bot does, and the last reply is judged the way
the evaluation judges it (`huimin.ops.answer_eval.Judge`: menu, direct-right, wrong, referral
right, out-of-scope handled, else fallback / aspect_missed / other), the case files checked
as the evaluation checks them. This is the domain path only:
the NLU's intent and entities are not used, so it measures what the resolver decides from the
words alone. The honest end-to-end measure is `make eval` (tests/eval/), never tuned on.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huimin.catalogue import Catalogue, load_catalogue  # noqa: E402
from huimin.catalogue.answers import Outcome, answer, reply_to_question  # noqa: E402
from huimin.catalogue.follow_ups import (  # noqa: E402
    asked_of_previous,
    aspect_kept,
    still_about_previous,
)
from huimin.catalogue.referrals import ReferralTable, load_referrals  # noqa: E402
from huimin.catalogue.resolver import resolve  # noqa: E402
from huimin.ops.answer_eval import Case, Judge, load_cases, load_policies  # noqa: E402


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
        if asked is None and (kept := still_about_previous(catalogue, referrals, turn, previous,
                                                           found=found)) is not None:
            asked = (kept, aspect_kept(turn, kept, previous, aspect))
        outcome = Outcome(answer(asked[0], asked[1], today), *asked) if asked else (
            reply_to_question(catalogue, today, text=turn, previous=previous,
                              previous_aspect=aspect, referrals=referrals, resolution=found))
        previous = outcome.policy.key if outcome.policy else None
        aspect = outcome.aspect
        lines = [outcome.reply.text]
        lines += [f"回复 {i}：{c.title}" for i, c in enumerate(outcome.reply.choices, 1)]
        text = "\n".join(lines)
    return text


def judge(judge_: Judge, case: Case, text: str) -> str:
    """The evaluation's own verdict (`huimin.ops.answer_eval.Judge`), a menu that offers the
    right policy first told apart from one that does not."""
    verdict = judge_.judge(case.expect, text)
    return "menu_first_right" if verdict.label == "menu" and verdict.right_first else verdict.label


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
    policy_cases = 0
    judge_ = Judge(load_policies(args.policies))
    for case in load_cases(args.set, (p.key for p in catalogue)):
        text = converse(catalogue, referrals, today, list(case.turns))
        label = judge(judge_, case, text)
        overall[label] += 1
        by_category[case.category][label] += 1
        policy_cases += bool(case.expect.policies)  # a referral told as a story is not one
        if label in show:
            expect = {k: v for k, v in asdict(case.expect).items() if v}
            print(f"--- {case.id} [{label}] {' / '.join(case.turns)} -> {expect}")
            print("    " + text.replace("\n", "\n    "))
    total = sum(overall.values())
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
