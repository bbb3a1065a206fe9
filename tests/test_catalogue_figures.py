"""Figures in policy text are filled from the policy's rule (huimin.catalogue.figures): an
edit to the rule changes what citizens read, and a placeholder the rule cannot fill is
reported by file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from huimin.catalogue import CatalogueError, CatalogueStore, load_catalogue
from huimin.platform.settings import ROOT


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the repository's policies and rules to edit."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "rules", tmp_path / "rules", ignore=shutil.ignore_patterns("tests"))
    return tmp_path / "policies", tmp_path / "rules"


def test_policy_files_state_no_figure_the_rule_states(folders) -> None:
    policies, _ = folders
    for key in ("startup_subsidy", "graduate_job_search_subsidy"):
        text = (policies / f"{key}.yml").read_text(encoding="utf-8")
        assert "{amount}" in text
    elderly = (policies / "elderly_allowance.yml").read_text(encoding="utf-8")
    assert "{amount:1}" in elderly and "100元" not in elderly


def test_an_edited_rule_changes_the_catalogue_text(folders) -> None:
    policies, rules = folders
    path = rules / "startup_subsidy.yml"
    text = path.read_text(encoding="utf-8")
    assert "value: 10000}" in text
    path.write_text(text.replace("value: 10000}", "value: 12000}"), encoding="utf-8")
    elderly = rules / "elderly_allowance.yml"
    elderly.write_text(elderly.read_text(encoding="utf-8").replace(
        "{min: 90, max: 99, value: 300}", "{min: 90, max: 99, value: 350}"), encoding="utf-8")
    catalogue = load_catalogue(policies, rules)
    assert catalogue["startup_subsidy"].amount.startswith("一次性补贴12000元")
    assert "12000元" in catalogue["startup_subsidy"].summary
    assert "90-99周岁：每月350元" in catalogue["elderly_allowance"].aspect_text("amount")


def test_a_placeholder_the_rule_cannot_fill_names_file_and_field(folders) -> None:
    policies, rules = folders
    elderly = policies / "elderly_allowance.yml"
    elderly.write_text(elderly.read_text(encoding="utf-8").replace(
        "每月{amount:3}元", "每月{amount:4}元"), encoding="utf-8")
    startup = policies / "startup_subsidy.yml"
    startup.write_text(startup.read_text(encoding="utf-8").replace(
        "一次性补贴{amount}元", "一次性补贴{amount:1}元"), encoding="utf-8")
    card = policies / "social_security_card.yml"  # a policy with no rule
    card.write_text(card.read_text(encoding="utf-8").replace(
        "\nfee: 免费", "\nfee: 免费{amount}元"), encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(policies, rules)
    problems = "\n".join(error.value.problems)
    assert ("policies/elderly_allowance.yml: field 'amount_table[2].amount': {amount:4}: "
            "the rule's amount has rows 1-3") in problems
    assert ("policies/startup_subsidy.yml: field 'amount': {amount:1}: the rule's amount is a "
            "fixed value; write {amount}") in problems
    assert "policies/social_security_card.yml: field 'fee': {amount}: no rule for " \
        "'social_security_card'" in problems


def test_the_live_catalogue_follows_a_rule_edit(folders) -> None:
    policies, rules = folders
    store = CatalogueStore(policies, rules)
    assert "一次性补贴10000元" in store.catalogue["startup_subsidy"].amount
    path = rules / "startup_subsidy.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("value: 10000}", "value: 12000}"),
                    encoding="utf-8")
    assert store.reload_if_changed() == []
    assert "一次性补贴12000元" in store.catalogue["startup_subsidy"].amount
