"""Policy names heard or typed wrongly: the same pinyin (失叶金 = 失业金, 工商认定 = 工伤认定),
one character off in a name of four or more (劳动冲裁), one left out of a name of five or
more (创业场补贴), one typed twice (社保保卡), syllables left in letters by the pinyin input
method (失业jin, shebao卡), or the name's pinyin initials (sydj = 失业登记). Step 4 of the
resolver's evidence (huimin/catalogue/resolver.py); a match must agree on the
policy-specific part of the name, not only on a generic ending ("补贴")."""

from __future__ import annotations

from functools import lru_cache

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.schema import Policy
from huimin.catalogue.sounds import loosen
from huimin.catalogue.sounds import sounds as _sounds
from huimin.catalogue.text import normalise

# Endings many policy names share; a name matched only on these says nothing about which
# policy ("人的补贴" is not "人才补贴"), so fuzzy matches must agree on the rest.
GENERIC_PARTS = ("补贴", "补助", "津贴", "登记", "认定", "申请", "保险", "待遇", "办理", "岗位")


# A name this long with one character off ("创业场地数金补贴") is still more specific than any
# situation's words it shares, so it counts even where only sound-alike names do.
_LONG_NAME = 6

# Names holding a negation are matched verbatim only.
_NEGATIONS = frozenset("不没无未")

# Particles of the citizen's own sentence: a window that differs from a name only by one of
# these is the name's words in a story, not the name mistyped ("四零五零的人交社保" is not
# "个人交社保", 灵活就业人员参保登记).
_PARTICLES = frozenset("的地得了吗呢吧啊呀嘛")


@lru_cache(maxsize=4096)
def _specific(name: str) -> tuple[bool, ...]:
    """Per character of `name`: True unless it is part of a generic ending. Cached: it is
    asked for every window of the text compared with every policy name."""
    mask = [True] * len(name)
    for part in GENERIC_PARTS:
        start = name.find(part)
        while start >= 0:
            for i in range(start, start + len(part)):
                mask[i] = False
            start = name.find(part, start + 1)
    return tuple(mask)


def _near(name: str, window: str, sound_only: bool = False) -> bool:
    """Same length, the same characters on the policy-specific part at least once (twice when
    one is off), and every character sounding alike, or (names of 4+; of `_LONG_NAME`+ when
    `sound_only`) all but one equal. Asked for every window of the text against every name,
    so a second character that sounds unlike ends it at once."""
    differ = 0
    off = -1  # the one character that sounds unlike, if any
    for i, (a, b) in enumerate(zip(name, window, strict=True)):
        if a == b:
            continue
        differ += 1
        if not (_sounds(a) & _sounds(b)):
            if off >= 0:
                return False
            off = i
    if not differ:
        return False  # verbatim: catalogue.mentions already found it
    specific = _specific(name)
    same_specific = sum(a == b and k for a, b, k in zip(name, window, specific, strict=True))
    if off < 0:
        return same_specific >= 1 or not any(specific)
    if (sound_only and len(name) < _LONG_NAME) or len(name) < 4 or differ != 1:
        return False
    if window[off] in _PARTICLES:
        return False
    return same_specific >= 2 and specific[off]


def _dropped(name: str, window: str) -> bool:
    """A name of five or more typed with one of its policy-specific characters left out
    ("创业场补贴" for 创业场地补贴, "技能提补贴" for 技能提升补贴), keeping at least three
    others: too much of the name is left to be another's."""
    if len(name) < 5 or len(window) != len(name) - 1:
        return False
    specific = _specific(name)
    for i in range(1, len(name)):
        if specific[i] and name[:i] + name[i + 1 :] == window:
            return sum(specific) - 1 >= 3
    return False


def _doubled(name: str, window: str) -> bool:
    """A name of three or more typed with one inner character twice ("社保保卡" for 社保卡,
    "工伤认认定"): the input method repeats a character when a key is pressed twice. Doubled at
    either end the name is still verbatim in the text, so only inner ones are looked for."""
    if len(name) < 3 or len(window) != len(name) + 1:
        return False
    return any(
        window[i] == window[i - 1] and window[:i] + window[i + 1 :] == name
        for i in range(2, len(name))
    )


def _latin(ch: str) -> bool:
    return "a" <= ch <= "z"


# The longest toneless pinyin syllable ("zhuang", "shuang") has six letters.
_LONGEST_SYLLABLE = 6


def _spelled(name: str, plain: str, start: int) -> bool:
    """`name` at `start` of `plain` with some of its characters left as pinyin letters ("失业
    jin", "shebao卡", "shiyejin"): each run of letters reads as whole syllables of the name's
    characters, a run is never cut in the middle, and the characters still typed must agree
    on the policy-specific part at least once, unless the whole name is in letters."""
    if _latin(plain[start]) and start > 0 and _latin(plain[start - 1]):
        return False
    specific = _specific(name)

    def match(i: int, j: int, letters: bool, same: int) -> bool:
        if i == len(name):
            cut = _latin(plain[j - 1]) and j < len(plain) and _latin(plain[j])
            return (
                letters
                and not cut
                and (same >= 1 or all(_latin(ch) for ch in plain[start:j]))
            )
        if j >= len(plain):
            return False
        if not _latin(plain[j]):
            if plain[j] == name[i]:
                return match(i + 1, j + 1, letters, same + specific[i])
            return False
        for size in range(1, _LONGEST_SYLLABLE + 1):
            syllable = plain[j : j + size]
            if len(syllable) < size or not all(map(_latin, syllable)):
                break
            if loosen(syllable) in _sounds(name[i]) and match(i + 1, j + size, True, same):
                return True
        return False

    return match(0, start, False, 0)


def _initials(name: str, run: str) -> bool:
    """A run of letters that is the name's pinyin initials, one letter a character, for names
    of three or more ("sydj" 失业登记, "gsrd" 工伤认定, "ldzc" 劳动仲裁): how some citizens
    type a name they use often."""
    return (
        len(name) >= 3
        and len(run) == len(name)
        and all(
            any(r[0] == letter for r in _sounds(ch, every=False))
            for ch, letter in zip(name, run, strict=True)
        )
    )


def _letter_runs(plain: str) -> list[str]:
    runs: list[str] = []
    current = ""
    for ch in plain + " ":
        if _latin(ch):
            current += ch
        elif current:
            runs.append(current)
            current = ""
    return runs


def fuzzy_names(
    catalogue: Catalogue, text: str, shortest: int = 3, sound_only: bool = False
) -> list[Policy]:
    """Policies one of whose names (`shortest`+ characters) appears in the text misheard or
    mistyped (only misheard: `sound_only`); those of the longest name found."""
    plain = normalise(text)
    runs = _letter_runs(plain)
    letters = bool(runs)
    found: dict[str, tuple[int, Policy]] = {}
    for policy in catalogue:
        for name in map(normalise, policy.names):
            n = len(name)
            if n < shortest or not all("\u4e00" <= ch <= "\u9fff" for ch in name):
                continue
            if _NEGATIONS & set(name):  # one character off may flip it: 工资不发 / 工资谁发
                continue
            if n <= found.get(policy.key, (0, policy))[0]:
                continue
            misheard = any(
                _near(name, plain[i : i + n], sound_only) for i in range(len(plain) - n + 1)
            )
            if misheard or any(
                _dropped(name, plain[i : i + n - 1]) or _doubled(name, plain[i : i + n + 1])
                for i in range(len(plain) - n + 2)
            ) or (letters and (
                any(_spelled(name, plain, i) for i in range(len(plain)))
                or any(_initials(name, run) for run in runs)
            )):
                found[policy.key] = (n, policy)
    ranked = sorted(found.values(), key=lambda item: -item[0])
    if not ranked:
        return []
    longest = ranked[0][0]
    best = [policy for n, policy in ranked if n == longest]
    return _nearly_said(catalogue, plain, longest, best) + best


def _nearly_said(
    catalogue: Catalogue, plain: str, longest: int, found: list[Policy]
) -> list[Policy]:
    """Policies not `found` with a name of five or more, longer than `longest`, that the text
    holds with one character off or left out anywhere, its generic ending included
    ("灵活就业社保补簿": 灵活就业参保 is one character off, but so is 灵活就业社保补贴, off only
    in 补贴, which `_near` does not take alone). The typo may be in either, so both are
    offered, the longer name first."""
    out: list[Policy] = []
    for policy in catalogue:
        if policy in found:
            continue
        for name in map(normalise, policy.names):
            n = len(name)
            if n <= longest or n < 5 or not all("\u4e00" <= ch <= "\u9fff" for ch in name):
                continue
            off = any(
                sum(a == b for a, b in zip(name, plain[i : i + n], strict=True)) == n - 1
                for i in range(len(plain) - n + 1)
            )
            left_out = any(name[:k] + name[k + 1 :] in plain for k in range(1, n))
            if off or left_out:
                out.append(policy)
                break
    return out


def around_name(catalogue: Catalogue, text: str, policy: Policy) -> tuple[list[Policy], bool]:
    """Policies a longer name of which `text` holds misheard or mistyped around a name of
    `policy` said verbatim, and whether every character of that longer name sounds alike.

    A typo in a long name can leave a shorter name intact inside it: "求直创业补贴" says 创业补贴
    (一次性创业补贴) verbatim, but sounds exactly like 求职创业补贴; "格人社保补贴" says 社保补贴
    and is 个人社保补贴 misheard. The verbatim name alone would give a confidently wrong answer.
    Those of the longest name found; the sound-alike reading when there is one."""
    plain = normalise(text)
    spans = []
    for name in {normalise(n) for n in policy.names}:
        start = plain.find(name)
        while start >= 0:
            spans.append((start, start + len(name)))
            start = plain.find(name, start + 1)
    if not spans:
        return [], False
    found: dict[str, tuple[int, bool, Policy]] = {}
    for other in catalogue:
        for name in map(normalise, other.names):
            n = len(name)
            if (
                n < 4
                or not all("\u4e00" <= ch <= "\u9fff" for ch in name)
                or _NEGATIONS & set(name)
                or n <= max(e - s for s, e in spans)
            ):
                continue
            for i in range(len(plain) - n + 2):
                # "求创业补贴": 求职创业补贴 with 职 left out, another policy's (doubt);
                # "灵就业社保补贴": 灵活就业社保补贴, the name said's own (it confirms it).
                inside = any(i <= s and e <= i + n - 1 and e - s < n - 1 for s, e in spans)
                if inside and _dropped(name, plain[i : i + n - 1]):
                    found.setdefault(other.key, (n, other.key == policy.key, other))
                window = plain[i : i + n]
                if len(window) < n or not any(i <= s and e <= i + n for s, e in spans):
                    continue
                if not _near(name, window):
                    continue
                alike = all(_sounds(a) & _sounds(b) for a, b in zip(name, window, strict=True))
                best = found.get(other.key)
                if best is None or (n, alike) > best[:2]:
                    found[other.key] = (n, alike, other)
    if not found:
        return [], False
    longest = max(n for n, _, _ in found.values())
    top = [(alike, p) for n, alike, p in found.values() if n == longest]
    if any(alike for alike, _ in top):
        return [p for alike, p in top if alike], True
    return [p for _, p in top], False
