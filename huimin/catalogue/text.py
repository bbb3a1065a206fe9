"""Text normalisation shared by lookup, search and the NLU build.

Citizens type full-width digits, stray spaces and punctuation ("４０５０ 补贴？"), and some
write traditional characters ("創業補貼"); lookups compare the normalised forms so those
variants still match.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from huimin.catalogue.dialect import simplified


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """NFKC (full-width to half-width), case-folded, simplified characters, without whitespace
    or punctuation. Cached (a pure function of the text): the resolver normalises every
    policy's names for each message."""
    folded = simplified(unicodedata.normalize("NFKC", text).casefold())
    return "".join(
        ch
        for ch in folded
        if not ch.isspace() and not unicodedata.category(ch).startswith(("P", "S"))
    )
