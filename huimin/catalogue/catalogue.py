"""Loading and querying the policy catalogue (`policies/<key>.yml`, one file per policy)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from huimin.catalogue.certificates import load_certificates
from huimin.catalogue.figures import RuleFigures
from huimin.catalogue.handovers import load_handovers
from huimin.catalogue.schema import Policy
from huimin.catalogue.search import PolicyIndex, PolicyTokenizer, SearchHit
from huimin.catalogue.situations import load_situations
from huimin.catalogue.text import normalise

POLICY_SUFFIXES = (".yml", ".yaml")

# Plain-English wording for the pydantic error types ops staff meet most often.
_MESSAGES = {
    "missing": "field required",
    "extra_forbidden": "unknown field (check the spelling; see policies/README.md)",
}


class CatalogueError(ValueError):
    """One or more policy files are invalid. `problems` holds one line per problem,
    each naming the file and the field, e.g. "policies/x.yml: field 'title': field required"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid policy catalogue:\n" + "\n".join(problems))


class Catalogue:
    """An immutable, validated set of policies with lookup and search."""

    def __init__(self, policies: list[Policy], source: Path | None = None) -> None:
        self.source = source
        self._policies = {p.key: p for p in sorted(policies, key=lambda p: p.key)}
        self._names: dict[str, str] = {}
        for policy in self._policies.values():
            self._names[normalise(policy.key)] = policy.key
            for name in policy.names:
                self._names[normalise(name)] = policy.key
        self._index: PolicyIndex | None = None
        self._index_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._policies)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._policies.values())

    def __contains__(self, key: object) -> bool:
        return key in self._policies

    @property
    def keys(self) -> list[str]:
        return list(self._policies)

    def get(self, key: str) -> Policy | None:
        return self._policies.get(key)

    def __getitem__(self, key: str) -> Policy:
        return self._policies[key]

    def find(self, text: str) -> Policy | None:
        """Exact lookup by key, title or alias, ignoring width, case, spaces and punctuation."""
        key = self._names.get(normalise(text))
        return self._policies[key] if key else None

    def mentions(self, text: str) -> list[Policy]:
        """Policies whose title or alias occurs in `text`, longest name first, no overlaps."""
        plain = normalise(text)
        found: list[Policy] = []
        for name in sorted(self._names, key=len, reverse=True):
            if len(name) >= 2 and name in plain:
                policy = self._policies[self._names[name]]
                if policy not in found:
                    found.append(policy)
                plain = plain.replace(name, "\0")
        return found

    def effective(self, on: date) -> list[Policy]:
        return [p for p in self if p.is_effective(on)]

    def search(self, text: str, k: int = 5) -> list[SearchHit]:
        """Ranked candidates (BM25 over Jieba tokens of title, aliases and summary)."""
        return self.index().search(text, k)

    def index(self) -> PolicyIndex:
        """The search index, built on first use (it loads a Jieba dictionary, ~1 s)."""
        with self._index_lock:
            if self._index is None:
                from huimin.catalogue.nlu import jieba_userdict_lines

                tokenizer = PolicyTokenizer(jieba_userdict_lines(self))
                self._index = PolicyIndex(
                    tokenizer, [(p.key, p.title, p.aliases, p.summary) for p in self]
                )
            return self._index


def load_catalogue(directory: str | Path, rules_dir: Path | None = None) -> Catalogue:
    """Read and validate every policy file in `directory`, its figures filled from the rules
    in `rules_dir` (default rules/; huimin.catalogue.figures); raise CatalogueError listing
    every problem (file and field) if any file is invalid."""
    directory = Path(directory)
    figures = RuleFigures(rules_dir)
    problems: list[str] = []
    if not directory.is_dir():
        raise CatalogueError([f"{directory}: policy folder not found"])
    files = sorted(
        f
        for f in directory.iterdir()
        if f.suffix in POLICY_SUFFIXES and not f.name.startswith(("_", "."))
    )
    if not files:
        raise CatalogueError([f"{directory.name}: no policy files (*.yml) found"])
    policies: list[tuple[str, Policy]] = []
    for path in files:
        label = f"{directory.name}/{path.name}"
        policy = _load_file(path, label, problems, figures)
        if policy is not None:
            policies.append((label, policy))
    _check_across_files(policies, problems)
    # Against every policy file, valid or not: a file with a mistake is reported once, above.
    _check_rule_keys(directory, {f.stem for f in files}, problems)
    if problems:
        raise CatalogueError(problems)
    return Catalogue([p for _, p in policies], source=directory)


def _load_file(
    path: Path, label: str, problems: list[str], figures: RuleFigures
) -> Policy | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(f"{label}: file is not UTF-8 text")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(f"{label}: not valid YAML{where}: {reason}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{label}: expected the policy's fields (key: value lines) at top level")
        return None
    data, unfilled = figures.fill(path.stem, data)
    if unfilled:
        problems.extend(f"{label}: {problem}" for problem in unfilled)
        return None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{label}: field '{_field(err['loc'])}': {_message(err)}")
        return None
    if policy.key != path.stem:
        problems.append(
            f"{label}: field 'key': '{policy.key}' must match the file name '{path.stem}'"
        )
        return None
    return policy


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(whole file)"


def _message(err: dict) -> str:
    msg = _MESSAGES.get(err["type"], err["msg"]).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _check_across_files(policies: list[tuple[str, Policy]], problems: list[str]) -> None:
    """A name (title or alias) may belong to one policy only, or lookups become ambiguous."""
    owner: dict[str, tuple[str, str]] = {}
    for label, policy in policies:
        for field, name in [("title", policy.title)] + [("aliases", a) for a in policy.aliases]:
            norm = normalise(name)
            if norm in owner and owner[norm][0] != label:
                problems.append(
                    f"{label}: field '{field}': '{name}' is already used by {owner[norm][0]}"
                )
            else:
                owner.setdefault(norm, (label, policy.key))


def _check_rule_keys(directory: Path, keys: set[str], problems: list[str]) -> None:
    """The rule files beside the policies (`_certificates.yml`, `_situations.yml`,
    `_handovers.yml`) may name only policies of this catalogue: the resolver would otherwise
    skip a mistyped key silently and the questions it should catch would go unanswered."""
    named: list[tuple[str, str, str]] = []  # (file, field, key)
    rule_files = (("_certificates.yml", load_certificates), ("_situations.yml", load_situations),
                  ("_handovers.yml", load_handovers))
    try:
        for name, load in rule_files:
            path = directory / name
            if path.is_file():  # read afresh, not from the loader's cache
                named += [(name, field, key) for field, key in load.__wrapped__(path).policy_keys()]
    except ValueError as exc:
        problems.extend(f"{directory.name}/{line}" for line in str(exc).splitlines())
        return
    problems.extend(
        f"{directory.name}/{file}: field '{field}': unknown policy key '{key}' "
        f"(no {directory.name}/{key}.yml)"
        for file, field, key in named if key not in keys
    )
