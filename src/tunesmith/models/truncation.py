"""How many encoded rows max_seq_length cut, and the one line that tells the user.

Training and evaluation both cut long rows (models/formatting.py); a cut is silent in the
numbers (a shorter answer, a prompt without its middle), so both stages count and say it.
"""

from __future__ import annotations

from tunesmith.models.formatting import IGNORE


def supervised(item) -> bool:
    """Whether the item has a token to learn or score (a row without one trains on nothing
    and its perplexity would be exp(0 / 0))."""
    return any(label != IGNORE for label in item.labels)


def cut_counts(items) -> dict:
    """{"rows", "cut", "prompt_cut", "answer_cut"} over encoded items."""
    return {
        "rows": len(items),
        "cut": sum(bool(item.prompt_cut or item.answer_cut) for item in items),
        "prompt_cut": sum(bool(item.prompt_cut) for item in items),
        "answer_cut": sum(bool(item.answer_cut) for item in items),
    }


def cut_warning(what: str, counts: dict, max_length: int) -> str | None:
    """One line for the console when rows were cut (None when none was)."""
    if not counts.get("cut"):
        return None
    share = counts["cut"] / max(counts["rows"], 1)
    return (
        f"{what}: {counts['cut']} of {counts['rows']} rows ({share:.0%}) longer than "
        f"max_seq_length {max_length} were cut (prompt cut: {counts['prompt_cut']}, answer cut: "
        f"{counts['answer_cut']}; a cut answer loses its end and its stop token)"
    )
