"""Two policies asked together with the words they share said once.

People do not repeat the part two names share: "劳动调解和仲裁哪个快" is 劳动调解 and 劳动仲裁,
"一次性创业补贴和场地补贴" is 一次性创业补贴 and 创业场地补贴. Only the first is a name said in
full, so without this the citizen gets one policy and no word of the other. The second is read
as part of the first name (at least one character) followed by the words right after the
joining word ("和", "跟", "还是" …), which together must make another policy's name of four or
more characters, the citizen's own part at least two.
"""

from __future__ import annotations

import re

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.schema import Policy
from huimin.catalogue.text import normalise

JOINING_WORDS = ("还是", "或者", "以及", "和", "跟", "与", "及", "同", "或")
_SHORTEST = 4  # a name shorter than this shares too much with everyday words
_OWN_PART = 2  # characters the citizen said of the second name, at the least


def elided_second(catalogue: Catalogue, first: Policy, text: str) -> Policy | None:
    """The policy named second with its shared words left out, right after a name of `first`."""
    plain = normalise(text)
    for said in sorted({normalise(n) for n in first.names}, key=len, reverse=True):
        for match in re.finditer(re.escape(said), plain):
            after = plain[match.end():]
            joined = next((w for w in JOINING_WORDS if after.startswith(w)), None)
            if joined is None:
                continue
            found = _completed(catalogue, first, said, after[len(joined):])
            if found is not None:
                return found
    return None


def _completed(catalogue: Catalogue, first: Policy, said: str, rest: str) -> Policy | None:
    """The one other policy whose name is a part of `said` followed by the start of `rest`;
    the longest such name when several fit; none when two policies fit equally."""
    fits: dict[str, int] = {}
    for other in catalogue:
        if other.key == first.key:
            continue
        for name in map(normalise, other.names):
            if len(name) < _SHORTEST:
                continue
            for own in range(_OWN_PART, len(name)):
                shared = name[: len(name) - own]
                if shared in said and rest.startswith(name[len(shared):]):
                    fits[other.key] = max(fits.get(other.key, 0), len(name))
                    break
    if not fits:
        return None
    longest = max(fits.values())
    best = [key for key, n in fits.items() if n == longest]
    return catalogue[best[0]] if len(best) == 1 else None
