"""Guide data: the shipped guides load, and bad files are reported by file and field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from huimin.guides import GuideStore, GuideValidationError, Problem, load_guides

GUIDES_DIR = Path(__file__).resolve().parent.parent / "guides"

EXPECTED_TITLES = {
    "pension_certification": "养老金领取资格认证",
    "social_security_card": "电子社保卡申领",
    "contribution_record": "社保缴费记录查询",
    "unemployment_claim": "失业保险金网上申领",
    "retirement_application": "退休申请",
    "employment_code": "就业码申领",
}


# ---- shipped data -----------------------------------------------------------------


def test_every_shipped_guide_loads_with_its_title() -> None:
    guides = load_guides(GUIDES_DIR)
    assert {k: g.title for k, g in guides.items()} == EXPECTED_TITLES


@pytest.mark.parametrize("key", sorted(EXPECTED_TITLES))
def test_shipped_guide_shape(key: str) -> None:
    guide = load_guides(GUIDES_DIR)[key]
    assert 8 <= len(guide.steps) <= 15
    assert guide.for_whom and guide.prepare
    checks = [s for s in guide.steps if s.check]
    helps = [s for s in guide.steps if s.help]
    assert checks, "older residents need check questions where they get stuck"
    assert helps, "every guide needs at least one help branch"
    for step in guide.steps:
        assert len(step.text) <= 60
        assert step.care_text is None or len(step.care_text) <= 60
    # Every help step is reached from some check answer.
    targets = {o.goto for s in checks for o in s.check.options}  # type: ignore[union-attr]
    assert {h.id for h in helps} <= targets


# ---- bad files --------------------------------------------------------------------


def _guide(key: str = "sample") -> dict[str, Any]:
    return {
        "key": key,
        "title": "示例指南",
        "for_whom": "测试用的人。",
        "prepare": ["身份证"],
        "steps": [
            {"id": "a", "text": "打开微信。"},
            {
                "id": "b",
                "text": "点“服务”。",
                "check": {
                    "question": "看到了吗？",
                    "options": [
                        {"label": "看到了", "goto": "c"},
                        {"label": "没看到", "goto": "help_b"},
                    ],
                },
            },
            {"id": "help_b", "help": True, "text": "往下翻一翻。", "next": "b"},
            {"id": "c", "text": "点“城市服务”。"},
        ],
    }


def _write(folder: Path, data: Any, name: str = "sample.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _problems(folder: Path) -> list[Problem]:
    with pytest.raises(GuideValidationError) as caught:
        load_guides(folder)
    return caught.value.problems


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_minimal_guide_loads(tmp_path: Path) -> None:
    _write(tmp_path, _guide())
    guide = load_guides(tmp_path)["sample"]
    assert [s.id for s in guide.steps] == ["a", "b", "help_b", "c"]
    assert guide.main_count == 3
    assert guide.main_number("c") == 3
    assert guide.main_number("help_b") is None


def test_step_text_limit_is_60_characters(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["text"] = "点" * 60
    _write(tmp_path, data)
    assert load_guides(tmp_path)["sample"].steps[0].text == "点" * 60

    data["steps"][3]["text"] = "点" * 61
    _write(tmp_path, data)
    problem = _only(_problems(tmp_path))
    assert problem.file == "sample.yaml"
    assert problem.field == "steps[3].text (step 'c')"
    assert "61 characters" in problem.message and "60" in problem.message
    assert str(problem).startswith("sample.yaml: steps[3].text")


def test_care_text_and_question_are_limited_too(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["care_text"] = "慢" * 70
    data["steps"][1]["check"]["question"] = "吗" * 61
    _write(tmp_path, data)
    fields = {p.field for p in _problems(tmp_path)}
    assert fields == {"steps[0].care_text (step 'a')", "steps[1].check.question (step 'b')"}


def test_multi_line_step_is_rejected(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["text"] = "打开微信。\n点“我”。"
    _write(tmp_path, data)
    problem = _only(_problems(tmp_path))
    assert problem.field == "steps[0].text (step 'a')"
    assert "single line" in problem.message


def test_dangling_goto_names_the_option(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][1]["check"]["options"][0]["goto"] = "nowhere"
    _write(tmp_path, data)
    problems = _problems(tmp_path)
    assert problems[0].file == "sample.yaml"
    assert problems[0].field == "steps[1].check.options[0].goto (step 'b')"
    assert "'nowhere' is not the id of any step" in problems[0].message


def test_dangling_next_is_rejected(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][2]["next"] = "gone"
    _write(tmp_path, data)
    problem = _problems(tmp_path)[0]
    assert problem.field == "steps[2].next (step 'help_b')"
    assert "'gone'" in problem.message


def test_unreachable_step_is_rejected(tmp_path: Path) -> None:
    data = _guide()
    data["steps"].append({"id": "orphan", "help": True, "text": "没人能到这里。"})
    _write(tmp_path, data)
    problem = _only(_problems(tmp_path))
    assert problem.field == "steps[4] (step 'orphan')"
    assert "nobody can reach it" in problem.message


def test_missing_fields_are_named(tmp_path: Path) -> None:
    data = _guide()
    del data["title"]
    del data["steps"][1]["text"]
    _write(tmp_path, data)
    problems = {p.field: p.message for p in _problems(tmp_path)}
    assert problems == {
        "title": "is missing; it is required",
        "steps[1].text (step 'b')": "is missing; it is required",
    }


def test_misspelt_field_is_reported(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["chek"] = {"question": "?"}
    _write(tmp_path, data)
    problem = _only(_problems(tmp_path))
    assert problem.field == "steps[0].chek (step 'a')"
    assert "not a known field" in problem.message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text("key: sample\ntitle: [unclosed\n", encoding="utf-8")
    problem = _only(_problems(tmp_path))
    assert problem.file == "sample.yaml"
    assert "not valid YAML at line" in problem.message


def test_file_must_hold_a_mapping(tmp_path: Path) -> None:
    _write(tmp_path, ["a", "b"])
    assert "must be a mapping" in _only(_problems(tmp_path)).message


def test_key_must_match_file_name(tmp_path: Path) -> None:
    _write(tmp_path, _guide("other"))
    problem = _only(_problems(tmp_path))
    assert (problem.file, problem.field) == ("sample.yaml", "key")
    assert "'other'" in problem.message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d["steps"][1].update(next="c"), "steps[1].next (step 'b')", "remove next"),
        (lambda d: d["steps"][3].update(id="a"), "steps[3].id (step 'a')", "more than one"),
        (lambda d: d["steps"][2].update(next="help_b"), "steps[2].next (step 'help_b')",
         "itself"),
        (lambda d: d["steps"][0].update(id="Open-WeChat"), "steps[0].id (step 'Open-WeChat')",
         "not a valid id"),
        (lambda d: d["steps"][1]["check"]["options"][1].update(label="1"),
         "steps[1].check.options[1].label (step 'b')", "only a number"),
        (lambda d: d["steps"][1]["check"]["options"][1].update(label="看到了"),
         "steps[1].check.options[1] (step 'b')", "used by two answers"),
        (lambda d: d["steps"][1]["check"].update(options=[{"label": "好", "goto": "c"}]),
         "steps[1].check.options (step 'b')", "needs at least 2 item(s); found 1"),
        (lambda d: d["steps"][0].update(image="/etc/passwd"), "steps[0].image (step 'a')",
         "relative"),
    ],
)  # fmt: skip
def test_structural_rules(tmp_path: Path, change: Any, field: str, words: str) -> None:
    data = _guide()
    change(data)
    _write(tmp_path, data)
    problems = _problems(tmp_path)
    matching = [p for p in problems if p.field.startswith(field)]
    assert matching, [str(p) for p in problems]
    assert words in matching[0].message


def test_first_step_cannot_be_help(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["help"] = True
    _write(tmp_path, data)
    assert any(
        p.field == "steps[0].help (step 'a')" and "first step" in p.message
        for p in _problems(tmp_path)
    )


def test_loop_that_never_ends_is_rejected(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][1]["check"]["options"][0]["goto"] = "help_b"
    data["steps"][3]["help"] = True
    data["steps"][3]["next"] = "b"
    data["steps"][1]["check"]["options"][1]["goto"] = "c"
    _write(tmp_path, data)
    messages = {p.field: p.message for p in _problems(tmp_path)}
    assert "can never reach the end" in messages["steps[1] (step 'b')"]


def test_images_may_be_urls_or_existing_relative_files(tmp_path: Path) -> None:
    data = _guide()
    data["steps"][0]["image"] = "https://example.org/step1.png"
    data["steps"][3]["image"] = "images/sample/city.png"
    _write(tmp_path, data)
    problem = _only(_problems(tmp_path))
    assert problem.field == "steps[3].image (step 'c')"
    assert "'images/sample/city.png' is not a file" in problem.message

    (tmp_path / "images" / "sample").mkdir(parents=True)
    (tmp_path / "images" / "sample" / "city.png").write_bytes(b"\x89PNG")
    guide = load_guides(tmp_path)["sample"]
    assert guide.steps[0].image == "https://example.org/step1.png"
    assert guide.steps[3].image == "images/sample/city.png"


def test_every_bad_file_is_reported(tmp_path: Path) -> None:
    one = _guide("one")
    one["steps"][0]["text"] = "长" * 80
    two = _guide("two")
    del two["prepare"]
    _write(tmp_path, one, "one.yaml")
    _write(tmp_path, two, "two.yml")
    _write(tmp_path, _guide("fine"), "fine.yaml")
    problems = _problems(tmp_path)
    assert {(p.file, p.field) for p in problems} == {
        ("one.yaml", "steps[0].text (step 'a')"),
        ("two.yml", "prepare"),
    }
    assert "one.yaml: steps[0].text" in str(GuideValidationError(problems))


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    assert "no guide files" in _only(_problems(tmp_path)).message
    assert "not a folder" in _only(_problems(tmp_path / "absent")).message


# ---- store ------------------------------------------------------------------------


def _touch_later(path: Path) -> None:
    """Make sure the change is visible to an mtime check on coarse file systems."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_store_keeps_previous_good_set_on_bad_reload(tmp_path: Path) -> None:
    path = _write(tmp_path, _guide())
    store = GuideStore(tmp_path)
    assert "sample" in store and store.get("sample").title == "示例指南"  # type: ignore[union-attr]

    broken = _guide()
    broken["steps"][1]["check"]["options"][0]["goto"] = "nowhere"
    broken["title"] = "坏了的"
    _write(tmp_path, broken)
    _touch_later(path)
    problems = store.reload_if_changed()
    assert problems and problems[0].file == "sample.yaml"
    assert store.problems == problems
    assert store.get("sample").title == "示例指南"  # type: ignore[union-attr]

    fixed = _guide()
    fixed["title"] = "新的指南"
    _write(tmp_path, fixed)
    _touch_later(path)
    _touch_later(path)
    assert store.reload_if_changed() == []
    assert store.get("sample").title == "新的指南"  # type: ignore[union-attr]
    assert store.problems == []


def test_store_reload_if_changed_skips_unchanged_folder(tmp_path: Path) -> None:
    _write(tmp_path, _guide())
    store = GuideStore(tmp_path)
    first = store.guides
    assert store.reload_if_changed() == []
    assert store.guides is first
    assert store.reload() == []
    assert store.guides is not first


def test_store_refuses_to_start_with_bad_files(tmp_path: Path) -> None:
    data = _guide()
    del data["steps"]
    _write(tmp_path, data)
    with pytest.raises(GuideValidationError) as caught:
        GuideStore(tmp_path)
    assert caught.value.problems[0].field == "steps"


def test_store_serves_shipped_guides() -> None:
    store = GuideStore(GUIDES_DIR)
    assert set(store.guides) == set(EXPECTED_TITLES)
    assert store.get("missing") is None
