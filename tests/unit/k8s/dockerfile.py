"""A small reader of the repository's Dockerfile and .dockerignore (no Docker engine runs here)."""

from __future__ import annotations

import fnmatch
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int          # index of the FROM this instruction belongs to

    def words(self) -> list[str]:
        """Exec form (JSON array) or shell words, flags such as --from=... included."""
        text = self.args.strip()
        if text.startswith("["):
            return json.loads(text)
        return shlex.split(text)


def instructions(path: Path = REPO / "Dockerfile") -> list[Instruction]:
    out: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def env_of_final_stage(items: list[Instruction]) -> dict[str, str]:
    last = max(i.stage for i in items)
    env: dict[str, str] = {}
    for item in items:
        if item.stage == last and item.keyword == "ENV":
            for word in item.words():
                key, _, value = word.partition("=")
                env[key] = value
    return env


def ignore_patterns(path: Path = REPO / ".dockerignore") -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def ignored(relpath: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for these patterns: the last matching pattern wins; ``!`` re-includes;
    a pattern matching a parent folder excludes everything under it."""
    result = False
    parts = relpath.strip("/").split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pat) or (pat.startswith("**/") and (
                    fnmatch.fnmatchcase(candidate, pat[3:]) or fnmatch.fnmatchcase(candidate.split("/")[-1], pat[3:]))):
                result = not negate
                break
    return result
