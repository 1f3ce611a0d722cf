"""The dialled number: normalisation to E.164 and the reconcilable test (callflow.md 2.3, 2.1 item 5).

Converter and dial-plan regexes come from documents and config, so they are
compiled with RE2 like callflow patterns, once per distinct string; one RE2
refuses is skipped with a log line.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Mapping

from services.routing.matcher import PatternError, compile_pattern, last_group_or_whole

log = logging.getLogger(__name__)

# KAZOO's default e164_converters, in this order (callflow.md 2.3).
DEFAULT_CONVERTERS: Mapping[str, Mapping[str, str]] = {
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": {"prefix": "+1"},
    r"^011(\d{5,})$|^00(\d{5,})$": {"prefix": "+"},
    r"^[2-9]\d{7,}$": {"prefix": "+"},
}

DEFAULT_RECONCILE_REGEX = r"^(\+?1)?\d{10}$|^\+[2-9]\d{7,}$|^011\d*$|^00\d*$"


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str):
    try:
        return compile_pattern(pattern)
    except PatternError as exc:
        log.warning("number regex %r skipped, RE2 cannot compile it: %s", pattern, exc)
        return None


def _rewrite(number: str, rules: Mapping[str, Any]) -> str:
    """The first rule (in key order) that matches rewrites to prefix + R + suffix."""
    for pattern, rule in rules.items():
        regex = _compiled(pattern) if isinstance(pattern, str) else None
        if regex is None:
            continue
        match = regex.search(number)
        if match is None:
            continue
        rule = rule if isinstance(rule, dict) else {}
        prefix = rule.get("prefix") if isinstance(rule.get("prefix"), str) else ""
        suffix = rule.get("suffix") if isinstance(rule.get("suffix"), str) else ""
        return prefix + last_group_or_whole(match, regex.groups) + suffix
    return number


def normalize(number: str, *, dial_plan: Mapping[str, Any] | None = None,
              converters: Mapping[str, Any] | None = None) -> str:
    """The number routing matches: feature codes and ``+`` numbers unchanged, else the
    account's ``dial_plan`` then the E.164 converters (``DEFAULT_CONVERTERS`` when None)."""
    if not number or number.startswith("*") or number.startswith("+"):
        return number
    if isinstance(dial_plan, dict) and dial_plan:
        number = _rewrite(number, dial_plan)
    return _rewrite(number, converters if isinstance(converters, dict) else DEFAULT_CONVERTERS)


def is_reconcilable(number: str, regex: str | None = None) -> bool:
    """Does the normalised number look like a number KAZOO's number manager would own?"""
    compiled = _compiled(regex if isinstance(regex, str) and regex else DEFAULT_RECONCILE_REGEX)
    if compiled is None:
        compiled = _compiled(DEFAULT_RECONCILE_REGEX)
    return compiled.search(number) is not None


def no_match_allowed_number(number: str) -> bool:
    """Step 4 of callflow.md 2.4: after stripping every leading ``+``, only ASCII digits remain."""
    rest = number.lstrip("+")
    return all("0" <= ch <= "9" for ch in rest)
