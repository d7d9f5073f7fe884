"""`tunesmith cache`: the machine-wide outputs store (evaluate/output_store.py), shown, cleared."""

from __future__ import annotations

import typer


def show_or_clear(clear: bool) -> None:
    from tunesmith.evaluate.output_store import MAX_MB_VARIABLE, max_bytes, outputs_root
    from tunesmith.evaluate.output_store import clear as clear_store

    root = outputs_root()
    if root is None:
        typer.echo("outputs store: off (TUNESMITH_OUTPUTS=off)")
        return
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else []
    size = sum(f.stat().st_size for f in files)
    if clear:
        clear_store(root)
        typer.echo(f"{root}: removed {len(files)} model file(s), {size / 1e6:.1f} MB")
        return
    outputs = sum(_lines(f) for f in files)
    typer.echo(
        f"{root}: {outputs} saved outputs of {len(files)} model(s), {size / 1e6:.1f} MB of at "
        f"most {max_bytes() / 1e6:.0f} MB (${MAX_MB_VARIABLE}; the least recently used go "
        "first) (evaluation.reuse: machine; `tunesmith cache --clear` empties it)"
    )


def _lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
