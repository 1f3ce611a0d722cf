"""Callflow patterns with RE2: compile, find candidates with one ``re2.Set`` pass, score (callflow.md 2.5).

KAZOO evaluates every pattern of an account one by one with PCRE.  Here the
patterns of an account are compiled once into a ``PatternSet``:

* each pattern is translated (``(?<name>...)`` -> ``(?P<name>...)``) and
  compiled with RE2; one that RE2 cannot compile is left out with one log line
  naming the callflow and the pattern (spec README, policy 4);
* an ``re2.Set`` of all patterns tells in one pass over the number which of
  them match at all; only those are run again to read their groups;
* the winner is the highest score; among equal scores the candidate whose
  (pattern, document id) sorts last in CouchDB collation wins, because KAZOO
  walks the pattern view in reverse and only replaces its pick on a strictly
  higher score.

Scores and captures follow Erlang ``re`` as callflow.md 2.3/2.5 state it: the
group list ends at the highest-numbered group that took part; a grouped
pattern where no group took part scores 0 (KAZOO crashes there; see the spec
README's list of defects we fix).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import re2

log = logging.getLogger(__name__)

# KAZOO's notion of an empty value for captures (props:filter_empty/1).
EMPTY_CAPTURES = frozenset(("", "0", "NULL", "undefined"))


class PatternError(ValueError):
    """RE2 cannot compile this pattern."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def translate(pattern: str) -> str:
    """KAZOO's PCRE named groups ``(?<name>...)`` written the RE2 way, ``(?P<name>...)``.

    Escapes and character classes are skipped, so ``\\(?<x>`` (a literal parenthesis)
    and ``[(?<]`` are left alone; look-behinds ``(?<=``/``(?<!`` are left for RE2 to refuse.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is a member, not the end
                out.append("]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def compile_pattern(pattern: str):
    """The compiled RE2 regexp of a KAZOO pattern; ``PatternError`` if RE2 refuses it."""
    if not isinstance(pattern, str):
        raise PatternError(f"a pattern is a string, not {type(pattern).__name__}")
    try:
        return re2.compile(translate(pattern), _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise PatternError(str(detail)) from None


def erlang_groups(match, group_count: int) -> list[str] | None:
    """What Erlang ``re:run(..., [{capture, all_but_first, binary}])`` gives for a match:
    groups 1..K, K the highest group that took part, non-participants as ``""``.
    ``None`` when the pattern has groups but none took part (Erlang: an empty list)."""
    last = 0
    for index in range(group_count, 0, -1):
        if match.span(index) != (-1, -1):
            last = index
            break
    if last == 0:
        return None
    return [match.group(i) or "" for i in range(1, last + 1)]


def last_group_or_whole(match, group_count: int) -> str:
    """Erlang's ``[whole, g1..gK]`` last element (the R of callflow.md 2.3)."""
    groups = erlang_groups(match, group_count) if group_count else None
    return groups[-1] if groups else match.group(0)


@dataclass(frozen=True)
class PatternHit:
    """The winning pattern of a lookup."""

    callflow_id: str
    pattern: str
    capture_group: str | None              # None when empty in KAZOO's sense
    capture_groups: Mapping[str, str] = field(default_factory=dict)


def _blen(text: str) -> int:
    return len(text.encode("utf-8"))


def score(regex, number: str) -> tuple[int, str] | None:
    """``(score, capture)`` of one pattern against a number, or None if it does not match."""
    match = regex.search(number)
    if match is None:
        return None
    if regex.groups == 0:
        whole = match.group(0)
        return _blen(whole), whole
    groups = erlang_groups(match, regex.groups)
    if groups is None:
        return 0, ""
    best = max(groups, key=_blen)          # max() keeps the first of equal lengths: lowest-numbered
    return _blen(best), best


def named_captures(regex, number: str) -> dict[str, str]:
    match = regex.search(number)
    if match is None:
        return {}
    found = {}
    for name, index in regex.groupindex.items():
        value = match.group(index) if match.span(index) != (-1, -1) else ""
        if value not in EMPTY_CAPTURES:
            found[name] = value
    return found


# ---- CouchDB collation of the pattern view's keys -------------------------------------
# The Unicode Collation Algorithm (CLDR root, non-ignorable, as CouchDB's ICU uses it)
# orders printable ASCII like this at the primary level; letters differ from their
# capitals only at the tertiary level (lower case first).  Other characters sort after
# ASCII by code point (an approximation, docs/deviations.md).
_UCA_ASCII = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {ch: i + 1 for i, ch in enumerate(_UCA_ASCII)}
for _ch in "abcdefghijklmnopqrstuvwxyz":
    _PRIMARY[_ch.upper()] = _PRIMARY[_ch]


def collation_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A sort key ordering strings as CouchDB's view collation does (for ASCII exactly)."""
    primary: list[int] = []
    tertiary: list[int] = []
    for ch in text:
        weight = _PRIMARY.get(ch)
        if weight is None:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                continue                   # control characters are ignorable
            weight = 1000 + code
        primary.append(weight)
        tertiary.append(1 if ch.isascii() and ch.isupper() else 0)
    return tuple(primary), tuple(tertiary)


class PatternSet:
    """All patterns of one account, compiled, ready to pick the winner for a number."""

    def __init__(self, rows: Iterable[tuple[str, str]], *, account_id: str = "") -> None:
        """``rows``: ``(pattern, callflow id)`` pairs as the pattern view gives them (any order)."""
        ordered = sorted(set(rows), key=lambda row: (collation_key(row[0]), collation_key(row[1])))
        self.rejected: list[tuple[str, str, str]] = []
        self._regexes: list = []
        self._patterns: list[str] = []
        # per pattern index: the callflow id that wins ties (sorts last) and its view position
        self._winner: list[tuple[int, str]] = []
        index_of: dict[str, int] = {}
        for position, (pattern, callflow_id) in enumerate(ordered):
            index = index_of.get(pattern)
            if index is None:
                try:
                    regex = compile_pattern(pattern)
                except PatternError as exc:
                    self.rejected.append((callflow_id, pattern, str(exc)))
                    log.warning("callflow %s in account %s: pattern %r rejected, RE2 cannot compile it: %s",
                                callflow_id, account_id, pattern, exc)
                    continue
                index = index_of[pattern] = len(self._regexes)
                self._regexes.append(regex)
                self._patterns.append(pattern)
                self._winner.append((position, callflow_id))
            else:
                self._winner[index] = (position, callflow_id)
        self._set = None
        if self._regexes:
            self._set = re2.Set.SearchSet(_OPTIONS)
            for pattern in self._patterns:
                self._set.Add(translate(pattern))
            self._set.Compile()

    def __len__(self) -> int:
        return len(self._regexes)

    def best(self, number: str) -> PatternHit | None:
        if self._set is None or not number:
            return None
        matched = self._set.Match(number)
        if not matched:
            return None
        best_key: tuple[int, int] | None = None
        best_index = -1
        best_capture = ""
        for index in matched:
            scored = score(self._regexes[index], number)
            if scored is None:  # cannot happen when the Set matched; be safe
                continue
            value, capture = scored
            key = (value, self._winner[index][0])
            if best_key is None or key > best_key:
                best_key, best_index, best_capture = key, index, capture
        if best_index < 0:
            return None
        regex = self._regexes[best_index]
        return PatternHit(
            callflow_id=self._winner[best_index][1],
            pattern=self._patterns[best_index],
            capture_group=None if best_capture in EMPTY_CAPTURES else best_capture,
            capture_groups=named_captures(regex, number) if regex.groupindex else {},
        )
