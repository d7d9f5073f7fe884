"""The stop strings generation uses in evaluation (`evaluation.generation.stop`).

`auto` is decided by the training answers, never the test references (held-out data does not
pick the decoding rule): when none of them holds a line break, answers are one line and a line
break ends a generated one; otherwise (or with no training answers) only end-of-sequence does.
Every generating scorer of a run (evaluate, checks, search, ensembles) resolves it the same
way, so their outputs agree with the evaluation's.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.config.schema import STOP_AUTO, Recipe

LINE_BREAK = "\n"
TRAIN_FILE = "train.jsonl"

_SEEN: dict[tuple, tuple[str, ...]] = {}  # (file, mtime, size) -> resolved `auto`


def stop_strings(recipe: Recipe, data_dir: Path) -> tuple[str, ...]:
    """The recipe's stop strings, `auto` resolved from `data_dir`'s training answers."""
    asked = recipe.evaluation.generation.stop
    if asked != STOP_AUTO:
        return tuple(asked)
    path = Path(data_dir) / TRAIN_FILE
    if not path.is_file():
        return ()
    status = path.stat()
    key = (str(path.resolve()), status.st_mtime_ns, status.st_size)
    if key not in _SEEN:
        _SEEN[key] = _auto(path)
    return _SEEN[key]


def _auto(path: Path) -> tuple[str, ...]:
    from tunesmith.artifacts import read_jsonl
    from tunesmith.models.formatting import reference

    answers = [answer for example in read_jsonl(path) if (answer := reference(example))]
    if answers and not any(LINE_BREAK in answer for answer in answers):
        return (LINE_BREAK,)
    return ()
