"""The live rule book and policy titles for long-running processes (web, action server).

A rule file edited by ops staff is picked up on the next request; a bad edit is reported
and the last good rule book keeps serving, like the catalogue (huimin.catalogue.store).
Batch jobs load the rules afresh instead, so a bad file fails the job where it shows.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from huimin.catalogue import Catalogue, CatalogueStore, Policy
from huimin.rules import RuleBook, RuleFileError, load_rules

log = logging.getLogger(__name__)


class RuleStore:
    """Thread-safe holder of the current rule book. The first load must succeed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._book = load_rules(directory)
        self._signature = self._scan()
        self.last_errors: list[str] = []

    @property
    def book(self) -> RuleBook:
        self.reload_if_changed()
        return self._book

    def reload_if_changed(self) -> list[str]:
        signature = self._scan()
        if signature == self._signature:
            return []
        try:
            fresh = load_rules(self.directory)
        except RuleFileError as exc:
            with self._lock:
                self._signature = signature
                self.last_errors = list(exc.problems)
            log.error("rule files have problems; still using the previous rules: %s",
                      "; ".join(exc.problems))
            return list(exc.problems)
        with self._lock:
            self._book, self._signature, self.last_errors = fresh, signature, []
        return []

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        return tuple(sorted(  # one stat per file: this runs on every benefit check
            (f.name, st.st_size, st.st_mtime_ns)
            for f in self.directory.glob("*.yml") for st in (f.stat(),)
        ))


@lru_cache(maxsize=4)
def rule_store(directory: Path) -> RuleStore:
    return RuleStore(directory)


@lru_cache(maxsize=4)
def _catalogue_store(directory: Path) -> CatalogueStore:
    return CatalogueStore(directory)


def catalogue(directory: Path) -> Catalogue:
    store = _catalogue_store(directory)
    store.reload_if_changed()
    return store.catalogue


def titles(catalogue: Catalogue) -> dict[str, str]:
    """Policy key -> Chinese title, from the catalogue."""
    return {policy.key: policy.title for policy in catalogue}


def policy_title(directory: Path, key: str) -> str:
    """One policy's title without loading the whole catalogue (push jobs run one per
    process): the file is read and checked with the catalogue's own schema."""
    path = directory / f"{key}.yml"
    try:
        policy = Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        log.warning("policy file %s unusable (%s); showing the key as title", path.name,
                    type(exc).__name__)
        return key
    return policy.title
