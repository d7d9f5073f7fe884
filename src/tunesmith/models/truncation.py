"""How many encoded rows max_seq_length cut, and the one line that tells the user.

Every stage that encodes rows cuts long ones (models/formatting.py); a cut is silent in the
numbers (a shorter answer, a prompt without its middle), so each counts them here, says it in
one console line and records the counts as `truncation` in its JSON output. Encoded items are
counted directly (`cut_record`); scored rows carry marks of what was cut (`mark_cuts`,
counted by `marked_cuts`), as evaluation's predictions do.
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


def cut_record(what: str, items, max_length: int) -> dict:
    """`cut_counts` with the length cut to, for a stage's `truncation` record; said once on
    the console when a row was cut."""
    counts = {**cut_counts(items), "max_seq_length": max_length}
    warn(cut_warning(what, counts, max_length))
    return counts


def mark_cuts(rows: list[dict], cuts: list[bool], what: str) -> None:
    """Record on each cut row what max_seq_length cut: "prompt" (the prompt the model answered
    from), "scored_prompt" / "scored_answer" (the reference scored for perplexity)."""
    for row, cut in zip(rows, cuts, strict=True):
        if cut:
            row.setdefault("cut", []).append(what)


def marked_cuts(rows: list[dict]) -> dict:
    """{mark: rows with it, "rows": rows with any} over marked rows; {} when none was cut."""
    marks = [mark for row in rows for mark in row.get("cut", [])]
    if not marks:
        return {}
    counts = {mark: marks.count(mark) for mark in sorted(set(marks))}
    counts["rows"] = sum(bool(row.get("cut")) for row in rows)
    return counts


def marked_warning(what: str, counts: dict, total: int, max_length: int) -> str | None:
    """One line for the console about marked rows (None when none was cut)."""
    if not counts:
        return None
    shown = ", ".join(f"{k.replace('_', ' ')} cut: {v}" for k, v in counts.items() if k != "rows")
    return (
        f"{what}: {counts['rows']} of {total} examples longer than max_seq_length {max_length} "
        f"were cut ({shown})"
    )


def prompt_cut_note(max_length: int) -> str:
    """What an answer shown beside a cut prompt says first (the UI's playground)."""
    return (
        f"[the prompt is longer than max_seq_length {max_length} tokens: its middle was cut, "
        "as in evaluation, so the model did not see all of it]"
    )


def warn(line: str | None) -> None:
    """Print a warning line on the console (nothing for None)."""
    if line:
        from tunesmith.progress import console

        console.print(f"[yellow]warning:[/yellow] {line}")
