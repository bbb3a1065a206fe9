"""How a character sounds, loosened for the sounds people (and voice input) confuse.

Citizens type by pinyin and dictate by voice, so a word often arrives as its homophone:
失叶金 for 失业金 (the resolver's names), 再哪办 for 在哪办 or 要代什么 for 要带什么 (the
aspect vocabulary). Both read characters through `sounds`.
"""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, pinyin

# Retroflex and flat initials, front and back nasals: confused by many southern speakers.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


@lru_cache(maxsize=8192)
def sounds(char: str, every: bool = True) -> frozenset[str]:
    """Every reading of one character (only its usual one unless `every`), without tones,
    loosened for commonly confused sounds."""
    readings = pinyin(char, style=Style.NORMAL, heteronym=every)[0]
    return frozenset(map(loosen, readings))


def loosen(reading: str) -> str:
    """A toneless pinyin syllable with the commonly confused sounds merged ("sheng" -> "sen"),
    so a syllable the citizen typed in letters ("shebao卡") compares with `sounds`."""
    for a, b in _INITIALS:
        if reading.startswith(a):
            reading = b + reading[len(a) :]
    for a, b in _FINALS:
        if reading.endswith(a):
            reading = reading[: -len(a)] + b
    return reading
