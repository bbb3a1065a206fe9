"""The policy catalogue, its search, the generated NLU artefacts and the NLU data files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import jieba
import pytest
import yaml

from huimin.catalogue import (
    ASPECT_WORDS,
    ASPECTS,
    DOMAIN_WORDS,
    Catalogue,
    CatalogueError,
    CatalogueStore,
    aspect_of,
    jieba_userdict_lines,
    load_catalogue,
    normalise,
    read_nlu,
    training_yaml,
    write_training,
)
from huimin.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
NLU_DATA = ROOT / "nlu_data"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"

REQUIRED = {
    "unemployment_insurance": "失业保险金",
    "unemployment_registration": "失业登记",
    "flexible_employment_subsidy": "灵活就业人员社会保险补贴",
    "startup_subsidy": "一次性创业补贴",
    "startup_guarantee_loan": "创业担保贷款",
    "vocational_training_subsidy": "职业培训补贴",
    "skill_upgrade_subsidy": "技能提升补贴",
    "graduate_job_search_subsidy": "求职创业补贴",
    "employment_hardship_recognition": "就业困难人员认定",
    "public_welfare_post": "公益性岗位",
    "hiring_subsidy": "吸纳就业补贴",
    "elderly_allowance": "高龄津贴",
    "residents_basic_pension": "城乡居民基本养老保险",
    "work_injury_insurance": "工伤保险待遇",
    "wage_arrears_complaint": "欠薪投诉",
}
# Intents of the contract (issue 5) and the minimum number of training examples each.
MIN_EXAMPLES = {
    "ask_policy": 40, "check_benefits": 40, "start_guide": 40, "human_handoff": 40,
    "out_of_scope": 40, "greet": 40, "goodbye": 20, "thank": 20, "affirm": 20, "deny": 20,
    "bot_challenge": 20, "show_employment_code": 20, "check_application": 20,
    "next_step": 20, "repeat": 20, "go_back": 20, "stop": 20,
}  # fmt: skip
GUIDES = {
    "pension_certification", "social_security_card", "contribution_record",
    "unemployment_claim", "retirement_application", "employment_code",
}  # fmt: skip



@pytest.fixture(scope="module")
def training(catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("training")
    write_training(catalogue, out)
    return out


@pytest.fixture(scope="module")
def nlu(training: Path):
    return read_nlu([NLU_DATA, training])


@pytest.fixture(scope="module")
def heldout():
    return read_nlu([HELDOUT])[0]


# --- the catalogue ---------------------------------------------------------------------


def test_real_catalogue_has_the_required_policies(catalogue: Catalogue) -> None:
    assert len(catalogue) >= 30
    for key, title in REQUIRED.items():
        assert catalogue[key].title == title
    titles = [p.title for p in catalogue]
    assert len(titles) == len(set(titles))


def test_every_policy_is_complete_and_phone_sized(catalogue: Catalogue) -> None:
    for policy in catalogue:
        assert len(policy.aliases) >= 3, policy.key
        assert policy.hotline == "12333", policy.key
        assert policy.process.online or policy.process.offline
        assert all("《" in doc for doc in policy.legal_basis)
        assert policy.rule is None  # rules are added with the eligibility engine
        assert len(policy.summary) <= 90


def test_figures_match_the_eligibility_rules(catalogue: Catalogue) -> None:
    """Where the catalogue and the issue-6 rules overlap, the catalogue shows the rule's
    figures (filled from rules/*.yml, where each is stated once)."""
    def rows(key: str) -> list[str]:
        return [r.amount for r in catalogue[key].amount_table or []]

    def figures(key: str, kind: str = "amount") -> list[int]:
        quantity = getattr(load_rules().get(key, date.today()), kind)
        return [b.value for b in quantity.bands] if quantity.bands else [quantity.value]

    assert rows("elderly_allowance") == [f"每月{v}元" for v in figures("elderly_allowance")]
    assert rows("unemployment_insurance") == [
        f"最多领{v}个月" for v in figures("unemployment_insurance", "duration")]
    assert f"{figures('startup_subsidy')[0]}元" in catalogue["startup_subsidy"].amount
    assert f"{figures('graduate_job_search_subsidy')[0]}元" in \
        catalogue["graduate_job_search_subsidy"].amount
    for key in ("vocational_training_subsidy", "skill_upgrade_subsidy"):
        # the table lists level 5 first; the rule's bands run from level 1
        assert rows(key) == [f"{v}元" for v in reversed(figures(key))]


def test_aspect_text_comes_from_the_catalogue(catalogue: Catalogue) -> None:
    policy = catalogue["unemployment_insurance"]
    materials = policy.aspect_text("materials")
    assert materials.splitlines() == [f"{i}. {m}" for i, m in enumerate(policy.materials, 1)]
    assert policy.aspect_text("deadline") == policy.time_limit
    assert policy.where.address in policy.aspect_text("where")
    process = policy.aspect_text("process")
    assert all(step in process for step in policy.process.online + policy.process.offline)
    for p in catalogue:
        for aspect in ASPECTS:
            assert p.aspect_text(aspect).strip(), (p.key, aspect)
    with pytest.raises(ValueError, match="unknown aspect"):
        policy.aspect_text("colour")


def test_lookup_by_key_title_and_alias(catalogue: Catalogue) -> None:
    assert catalogue.find("失业金").key == "unemployment_insurance"
    assert catalogue.find("失业保险金").key == "unemployment_insurance"
    assert catalogue.find("unemployment_insurance").key == "unemployment_insurance"
    assert catalogue.find("４０５０ 补贴").key == "flexible_employment_subsidy"
    assert catalogue.find("创业贷").key == "startup_guarantee_loan"
    assert catalogue.find("社保补贴").key == "flexible_employment_subsidy"
    assert catalogue.find("高龄补贴？").key == "elderly_allowance"
    assert catalogue.find("火车票") is None
    found = [p.key for p in catalogue.mentions("我想问问4050补贴和失业金的事")]
    assert found == ["flexible_employment_subsidy", "unemployment_insurance"]


@pytest.mark.parametrize(
    ("query", "expected", "within"),
    [
        ("失业了能领钱吗", "unemployment_insurance", 3),
        ("4050", "flexible_employment_subsidy", 3),
        ("工资被拖欠了", "wage_arrears_complaint", 1),
        ("老人补贴", "elderly_allowance", 1),
        ("社保卡丢了", "social_security_card", 1),
        ("我八十岁了有什么补贴", "elderly_allowance", 1),
        ("个体户怎么交社保", "flexible_worker_enrollment", 1),
        ("被公司辞退了", "labor_arbitration", 3),
    ],
)
def test_search_ranks_the_right_policy(
    catalogue: Catalogue, query: str, expected: str, within: int
) -> None:
    hits = catalogue.search(query, k=5)
    assert expected in [h.key for h in hits[:within]], hits
    scores = [h.score for h in hits if not h.mentioned]
    assert scores == sorted(scores, reverse=True)


def test_search_with_nothing_to_match_returns_nothing(catalogue: Catalogue) -> None:
    assert catalogue.search("？？ 。。") == []
    assert len(catalogue.search("补贴", k=3)) == 3


def test_domain_words_stay_whole_in_search_tokens(catalogue: Catalogue) -> None:
    words = catalogue.index().tokenizer.words("我想申请灵活就业社保补贴和4050补贴")
    assert "灵活就业社保补贴" in words and "4050补贴" in words


# --- bad files and the live store ----------------------------------------------------------


def _copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_file_is_rejected_and_the_previous_catalogue_keeps_serving(tmp_path: Path) -> None:
    folder = _copy_policies(tmp_path)
    store = CatalogueStore(folder)
    before = store.catalogue
    bad = folder / "startup_subsidy.yml"
    _edit(bad, "title: 一次性创业补贴\n", "")

    problems = store.reload()

    assert problems == ["policies/startup_subsidy.yml: field 'title': field required"]
    assert store.last_errors == problems
    assert store.catalogue is before
    assert store.catalogue["startup_subsidy"].title == "一次性创业补贴"
    assert store.catalogue.find("创业补贴").key == "startup_subsidy"

    _edit(bad, "key: startup_subsidy\n", "key: startup_subsidy\ntitle: 一次性创业补助金\n")
    _edit(bad, "  - 创业补助\n", "")
    assert store.reload_if_changed() == []
    assert store.catalogue is not before
    assert store.catalogue["startup_subsidy"].title == "一次性创业补助金"
    assert store.last_errors == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("category: 就业创业\n", "category: 吃喝玩乐\n", "field 'category': input should be"),
        ("effective_to: null\n", "effective_to: 2020-01-01\n", "field 'effective_to': 2020-01-01"),
        ("hotline: \"12333\"\n", "hotline: \"12333\"\nhotlne: x\n", "field 'hotlne': unknown"),
        ("  - 本人身份证\n", "  - \n", "field 'materials[0]': input should be a valid string"),
        ("key: startup_subsidy\n", "key: startup_grant\n", "field 'key': 'startup_grant' must"),
        ("  - 创业补助\n", "  - 失业金\n", "field 'aliases': '失业金' is already used by"),
        ("  online:\n", "  onlin:\n", "field 'process.onlin': unknown field"),
        ("summary: ", "summary: [", "not valid YAML (line"),
    ],
)
def test_each_kind_of_mistake_names_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    folder = _copy_policies(tmp_path)
    _edit(folder / "startup_subsidy.yml", old, new)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(folder)
    # A name used twice is reported on whichever file comes second; both files are named.
    assert any(
        "policies/startup_subsidy.yml" in p and message in p for p in caught.value.problems
    ), caught.value.problems


def test_first_load_must_succeed(tmp_path: Path) -> None:
    folder = _copy_policies(tmp_path)
    (folder / "broken.yml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="policies/broken.yml: expected"):
        CatalogueStore(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogueError, match="no policy files"):
        load_catalogue(empty)


# --- generated NLU artefacts -----------------------------------------------------------


def test_generated_synonyms_and_lookup_cover_every_name(catalogue: Catalogue) -> None:
    data = yaml.safe_load(training_yaml(catalogue))
    assert data["version"] == "3.1"
    synonyms = {b["synonym"]: b["examples"] for b in data["nlu"] if "synonym" in b}
    lookup = next(b["examples"] for b in data["nlu"] if b.get("lookup") == "policy")
    for policy in catalogue:
        for name in policy.names:
            assert f"- {name}\n" in synonyms[policy.key]
            assert f"- {name}\n" in lookup
    aspect_lookup = next(b["examples"] for b in data["nlu"] if b.get("lookup") == "aspect")
    for aspect, words in ASPECT_WORDS.items():
        assert all(f"- {w}\n" in synonyms[aspect] for w in words)
        assert all(f"- {w}\n" in aspect_lookup for w in words)


def test_aspect_words_are_unambiguous_and_found_in_text() -> None:
    owners = Counter(w for words in ASPECT_WORDS.values() for w in words)
    assert [w for w, n in owners.items() if n > 1] == []
    assert aspect_of("失业金要带啥东西") == "materials"
    assert aspect_of("高龄补贴一个月多少钱") == "amount"
    assert aspect_of("社保卡在哪办") == "where"
    assert aspect_of("你好") is None


def test_userdict_keeps_titles_aliases_and_domain_words(catalogue: Catalogue) -> None:
    lines = jieba_userdict_lines(catalogue)
    words = {}
    for line in lines:
        word, freq, tag = line.split(" ")
        assert int(freq) > 0 and tag in {"n", "nz"}
        words[word] = int(freq)
    for policy in catalogue:
        assert set(policy.names) <= set(words)
    assert {"失业登记", "灵活就业", "4050", "社保卡", "养老金"} <= set(words) <= (
        set(DOMAIN_WORDS) | {n for p in catalogue for n in p.names}
    )


def test_build_script_writes_only_the_generated_files(tmp_path: Path) -> None:
    out = tmp_path / "training"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_nlu.py"), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["catalogue_nlu.yml", "jieba/userdict.txt"]
    assert "wage_arrears_complaint" in (out / "catalogue_nlu.yml").read_text(encoding="utf-8")


def test_build_script_reports_a_bad_catalogue(tmp_path: Path) -> None:
    folder = _copy_policies(tmp_path)
    _edit(folder / "elderly_allowance.yml", "title: 高龄津贴\n", "")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_nlu.py"), "--out", str(tmp_path / "o"),
         "--policies", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "policies/elderly_allowance.yml: field 'title': field required" in result.stderr


# --- NLU training data and the held-out set ---------------------------------------------


def test_nlu_files_are_rasa_3_yaml() -> None:
    for path in [*NLU_DATA.glob("*.yml"), HELDOUT]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["version"] == "3.1", path
        assert isinstance(data["nlu"], list) and data["nlu"], path


def test_each_intent_has_enough_varied_examples(nlu) -> None:
    examples, _ = nlu
    counts = Counter(e.intent for e in examples)
    for intent, minimum in MIN_EXAMPLES.items():
        assert counts[intent] >= minimum, (intent, counts[intent])
    texts = [normalise(e.text) for e in examples]
    assert len(texts) == len(set(texts)), [t for t, n in Counter(texts).items() if n > 1]


def test_ask_policy_covers_most_policies_and_every_aspect(nlu, catalogue: Catalogue) -> None:
    examples, _ = nlu
    asked = [e for e in examples if e.intent == "ask_policy"]
    policies = {s.value for e in asked for s in e.entities if s.entity == "policy"}
    aspects = {s.value for e in asked for s in e.entities if s.entity == "aspect"}
    assert len(policies) >= 0.9 * len(catalogue)
    assert set(REQUIRED) <= policies
    assert aspects == set(ASPECTS)


def test_heldout_has_every_intent_and_no_training_example(nlu, heldout) -> None:
    examples, _ = nlu
    counts = Counter(e.intent for e in heldout)
    for intent in MIN_EXAMPLES:
        assert counts[intent] >= 12, (intent, counts[intent])
    training = {normalise(e.text) for e in examples}
    overlap = [e.text for e in heldout if normalise(e.text) in training]
    assert overlap == []


def test_entity_annotations_normalise_to_known_values(nlu, heldout, catalogue: Catalogue) -> None:
    examples, _ = nlu
    for example in [*examples, *heldout]:
        for span in example.entities:
            where = f"{example.source}: {example.text}"
            if span.entity == "policy":
                assert span.value in catalogue, where
                assert span.text in catalogue[span.value].names, where
            elif span.entity == "aspect":
                assert span.text in ASPECT_WORDS.get(span.value, ()), where
            elif span.entity == "guide":
                assert span.value in GUIDES, where
                policy = catalogue.find(span.text)
                assert policy is None or policy.key == span.value, where


def test_no_text_is_a_synonym_for_two_values(nlu) -> None:
    """Rasa's synonym mapper ignores the entity type: one text must map to one value."""
    examples, tables = nlu
    seen: dict[str, str] = {}
    pairs = [(t, v) for t, v in tables["synonym"].items()]
    pairs += [(s.text, s.value) for e in examples for s in e.entities if s.text != s.value]
    for text, value in pairs:
        key = text.lower()
        assert seen.setdefault(key, value) == value, (text, seen[key], value)


def test_entity_spans_fall_on_jieba_token_boundaries(nlu, heldout, training: Path) -> None:
    """Rasa's JiebaTokenizer (with the generated dictionary) must see each entity as whole
    tokens, or the annotation is dropped in training."""
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(training / "jieba" / "userdict.txt"))
    misaligned = []
    for example in [*nlu[0], *heldout]:
        tokens = list(tokenizer.tokenize(example.text))
        starts, ends = {t[1] for t in tokens}, {t[2] for t in tokens}
        misaligned += [
            (example.text, s.text) for s in example.entities
            if s.start not in starts or s.end not in ends
        ]  # fmt: skip
    assert misaligned == []


@pytest.mark.parametrize(
    ("name", "right", "wrong", "problem"),
    [
        ("_certificates.yml", "policy: skill_upgrade_subsidy", "policy: skill_upgrade_subsidyy",
         "field 'when[1].policy': unknown policy key 'skill_upgrade_subsidyy' "
         "(no policies/skill_upgrade_subsidyy.yml)"),
        ("_situations.yml", "policy: personnel_archive", "policy: personal_archive",
         "field 'situations[N].policy': unknown policy key 'personal_archive' "
         "(no policies/personal_archive.yml)"),
        ("_handovers.yml", "to: labor_arbitration", "to: labour_arbitration",
         "field 'handovers[7].to': unknown policy key 'labour_arbitration' "
         "(no policies/labour_arbitration.yml)"),
    ],
)
def test_a_rule_file_naming_an_unknown_policy_fails_the_load(
    tmp_path, name: str, right: str, wrong: str, problem: str
) -> None:
    """The resolver would skip an unknown key silently; the catalogue load names file, field
    and key (the situations' index depends on the file's order)."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    rules = folder / name
    rules.write_text(rules.read_text(encoding="utf-8").replace(right, wrong, 1),
                     encoding="utf-8")
    with pytest.raises(CatalogueError) as failed:
        load_catalogue(folder)
    [found] = failed.value.problems
    assert re.sub(r"situations\[\d+\]", "situations[N]", found) == f"policies/{name}: {problem}"
