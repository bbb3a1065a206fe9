"""The policy catalogue: schema-checked policy files, lookup, search and NLU artefacts.

    store = CatalogueStore(settings.policies_dir)  # keeps the last good catalogue live
    policy = store.catalogue.find("失业金")             # by key, title or alias
    hits = store.catalogue.search("失业了能领钱吗", k=3)  # BM25 candidates with scores
    policy.aspect_text("materials")                     # catalogue text for one aspect
"""

from huimin.catalogue.catalogue import Catalogue, CatalogueError, load_catalogue
from huimin.catalogue.nlu import (
    EntitySpan,
    NluExample,
    jieba_userdict_lines,
    parse_example,
    read_nlu,
    training_yaml,
    write_training,
)
from huimin.catalogue.schema import CATEGORIES, AmountRow, Policy, Process, Where
from huimin.catalogue.search import SearchHit
from huimin.catalogue.store import CatalogueStore
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import (
    ASPECT_LABELS,
    ASPECT_WORDS,
    ASPECTS,
    DOMAIN_WORDS,
    aspect_of,
)

__all__ = [
    "ASPECTS",
    "ASPECT_LABELS",
    "ASPECT_WORDS",
    "CATEGORIES",
    "DOMAIN_WORDS",
    "AmountRow",
    "Catalogue",
    "CatalogueError",
    "CatalogueStore",
    "EntitySpan",
    "NluExample",
    "Policy",
    "Process",
    "SearchHit",
    "Where",
    "aspect_of",
    "jieba_userdict_lines",
    "load_catalogue",
    "normalise",
    "parse_example",
    "read_nlu",
    "training_yaml",
    "write_training",
]
