"""Eligibility rules as data: a small declarative language, evaluated for one resident in
Python (three-valued) and compiled to SQL for batch matching; both must agree exactly."""

from huimin.rules.dates import age_on, back, latest_birth_date
from huimin.rules.evaluate import Result, Status, evaluate, evaluate_all
from huimin.rules.schema import (
    DEFAULT_RULES_DIR,
    Condition,
    Quantity,
    Rule,
    RuleBook,
    RuleFileError,
    load_rules,
    parse_condition,
    parse_rule_file,
)
from huimin.rules.sql import (
    Match,
    compile_condition,
    compile_quantity,
    compile_status,
    match_all,
    status_query,
)
from huimin.rules.text import describe

__all__ = [
    "DEFAULT_RULES_DIR",
    "Condition",
    "Match",
    "Quantity",
    "Result",
    "Rule",
    "RuleBook",
    "RuleFileError",
    "Status",
    "age_on",
    "back",
    "compile_condition",
    "compile_quantity",
    "compile_status",
    "describe",
    "evaluate",
    "evaluate_all",
    "latest_birth_date",
    "load_rules",
    "match_all",
    "parse_condition",
    "parse_rule_file",
    "status_query",
]
