"""Counterfactual swap lexicons: {"groups": {group: [[term, counterpart], ...]}} (JSON).

Swaps are whole-word, both ways and case-preserving; a malformed file is a UserError naming
the file and the offending entry.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from tunesmith.errors import UserError

SHIPPED = "counterfactual_lexicon.json"


def lexicon_path(recipe) -> Path | None:
    """The recipe's own lexicon file, or None for the shipped one."""
    name = recipe.checks.bias.lexicon  # made absolute by the recipe loader
    return Path(name) if name else None


def load_lexicon(path: Path | None) -> dict[str, str]:
    """term (lower case) -> its counterpart, both directions, from all groups."""
    where = str(path) if path else f"tunesmith/checks/data/{SHIPPED}"
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else resources.files("tunesmith.checks").joinpath("data", SHIPPED).read_text("utf-8")
        )
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{where}: not a readable JSON lexicon ({exc})") from None
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, dict) or not groups:
        raise UserError(f"{where}: expected an object with a non-empty 'groups' mapping")
    swaps: dict[str, str] = {}
    for group, pairs in groups.items():
        if not isinstance(pairs, list) or not pairs:
            raise UserError(f"{where}: groups.{group}: expected a non-empty list of pairs")
        for i, pair in enumerate(pairs):
            _add_pair(swaps, pair, f"{where}: groups.{group}[{i}]")
    return swaps


def _add_pair(swaps: dict[str, str], pair, where: str) -> None:
    ok = isinstance(pair, list) and len(pair) == 2
    ok = ok and all(isinstance(t, str) and re.fullmatch(r"[\w'-]+", t) for t in pair)
    if not ok:
        raise UserError(f"{where}: expected a pair of two single words, got {pair!r}")
    a, b = (t.lower() for t in pair)
    # First pair wins for a term used twice ("her" is both "him" and "his" -> "him").
    swaps.setdefault(a, b)
    swaps.setdefault(b, a)


def swapper(swaps: dict[str, str]):
    """text -> (swapped text, number of swaps)."""
    pattern = re.compile(
        r"\b(" + "|".join(map(re.escape, sorted(swaps, key=len)[::-1])) + r")\b", re.IGNORECASE
    )

    def swap(match: re.Match) -> str:
        word = match.group(0)
        new = swaps[word.lower()]
        if word.isupper() and len(word) > 1:
            return new.upper()
        return new.capitalize() if word[0].isupper() else new

    def run(text: str) -> tuple[str, int]:
        return pattern.subn(swap, text)

    return run
