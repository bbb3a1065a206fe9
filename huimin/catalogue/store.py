"""Keeps a catalogue live while ops staff edit policy files.

A reload that finds a bad file reports the problems and keeps serving the last good
catalogue, so a typo in one file never takes the assistant's answers offline.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from huimin.catalogue.catalogue import POLICY_SUFFIXES, Catalogue, CatalogueError, load_catalogue
from huimin.rules import DEFAULT_RULES_DIR


class CatalogueStore:
    """Thread-safe holder of the current catalogue. The first load must succeed."""

    def __init__(self, directory: str | Path, rules_dir: Path | None = None) -> None:
        self.directory = Path(directory)
        # The policies' figures come from the rules (huimin.catalogue.figures): an edited
        # rule reloads the catalogue too. None: the default rules folder.
        self.rules_dir = rules_dir or DEFAULT_RULES_DIR
        self._lock = threading.Lock()
        self._catalogue = load_catalogue(self.directory, self.rules_dir)
        self._signature = self._scan()
        self.loaded_at = datetime.now(UTC)
        self.last_errors: list[str] = []

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    def reload(self) -> list[str]:
        """Load the folder again. Returns the problems found (empty on success); on problems
        the previous catalogue stays live."""
        signature = self._scan()
        try:
            fresh = load_catalogue(self.directory, self.rules_dir)
        except CatalogueError as exc:
            with self._lock:
                self.last_errors = list(exc.problems)
                self._signature = signature
            return list(exc.problems)
        with self._lock:
            self._catalogue = fresh
            self._signature = signature
            self.loaded_at = datetime.now(UTC)
            self.last_errors = []
        return []

    def reload_if_changed(self) -> list[str]:
        """Cheap check (file names, sizes, mtimes) before a reload; call it per request."""
        if self._scan() == self._signature:
            return []
        return self.reload()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        # One stat per file (this runs several times per message in the action server).
        return tuple(
            sorted(
                (str(f), st.st_size, st.st_mtime_ns)
                for folder in (self.directory, self.rules_dir)
                if folder.is_dir()
                for f in folder.iterdir()
                if f.suffix in POLICY_SUFFIXES
                for st in (f.stat(),)
            )
        )
