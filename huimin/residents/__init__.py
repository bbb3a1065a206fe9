"""Residents: the facts contract, the `residents` table and a synthetic-data generator."""

from huimin.residents.facts import (
    FACT_NAMES,
    FACTS,
    LABELS,
    FactProblem,
    Facts,
    FactSpec,
    ProfileError,
    choice_label,
    parse_profile,
)

__all__ = [
    "FACTS",
    "FACT_NAMES",
    "LABELS",
    "FactProblem",
    "FactSpec",
    "Facts",
    "ProfileError",
    "choice_label",
    "parse_profile",
]
