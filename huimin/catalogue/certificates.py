"""Questions that name an occupation's certificate instead of a policy ("考电工证去哪报名").

Citizens say 电工证, 厨师证, 育婴师证 where the catalogue says 职业技能等级认定 or 技能提升补贴;
no alias can hold every occupation, and the same certificate means the certification, the
training subsidy or the upgrade subsidy depending on the other words. The occupations and those
words are data (`policies/_certificates.yml`), read here; the resolver asks `certificate_policy`
only when the question names no policy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from huimin.catalogue.data_file import PolicyKey, Words, load_checked

CERTIFICATES_FILE: Final[Path] = (
    Path(__file__).resolve().parents[2] / "policies" / "_certificates.yml"
)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: Words
    policy: PolicyKey


class Certificates(BaseModel):
    """policies/_certificates.yml: every field required, no unknown field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    occupations: Words
    certificate_words: Words
    default: PolicyKey
    when: list[_Rule]

    def policy_for(self, text: str) -> str | None:
        """The policy key a question about an occupation's certificate is about, else None."""
        if not any(o in text for o in self.occupations):
            return None
        if not any(w in text for w in self.certificate_words):
            return None
        for rule in self.when:
            if any(w in text for w in rule.words):
                return rule.policy
        return self.default

    def policy_keys(self) -> list[tuple[str, str]]:
        """(field, key) for every policy key the file names, for the catalogue's check."""
        return [("default", self.default),
                *((f"when[{i}].policy", rule.policy) for i, rule in enumerate(self.when))]


@lru_cache(maxsize=4)
def load_certificates(path: Path = CERTIFICATES_FILE) -> Certificates:
    """The certificate rules; raises ValueError naming the file and field when wrong."""
    return load_checked(path, Certificates, "certificate rules")
