"""Shared helpers for the benefits tests: residents with given facts, rule folders, tokens."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from huimin.platform.db import Database
from huimin.platform.settings import ROOT
from huimin.residents.models import Resident

AS_OF = date(2025, 6, 30)
# Aged 85 on AS_OF, local hukou: elderly_allowance 100 元/月, and nothing else decided.
ELDER = {"birth_date": date(1940, 3, 1), "local_hukou": True}


def add_resident(db: Database, external_id: str, **facts: Any) -> int:
    with db.session() as s:
        resident = Resident(external_id=external_id, **facts)
        s.add(resident)
        s.flush()
        return resident.id


def copy_rules(tmp_path: Path) -> Path:
    """A writable copy of rules/ (tests change rule versions in it)."""
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


ELDERLY_V2 = """\
policy: elderly_allowance
versions:
  - version: 1
    effective_from: 2024-01-01
    effective_to: 2025-06-30
    condition:
      all:
        - {fact: local_hukou, is: true}
        - {age_at_least: 80}
    amount:
      unit: 元/月
      by: age
      bands:
        - {min: 80, max: 89, value: 100}
        - {min: 90, max: 99, value: 300}
        - {min: 100, value: 600}
  - version: 2
    effective_from: 2025-07-01
    effective_to: null
    condition:
      all:
        - {fact: local_hukou, is: true}
        - {age_at_least: 80}
    amount:
      unit: 元/月
      by: age
      bands:
        - {min: 80, max: 89, value: 150}
        - {min: 90, max: 99, value: 350}
        - {min: 100, value: 800}
"""
