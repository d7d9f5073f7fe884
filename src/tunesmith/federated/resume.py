"""The server's per-round checkpoint: a federation stopped midway (Ctrl-C, kill, a lost client)
goes on from its last finished round when the same command runs again, instead of round 1.

What a round leaves that later rounds need: the released adapter (the next round starts from
it), the best round's adapter and early stopping's counters (stopping.py), and the round rows
already logged. The clients need nothing: each round's batch order, seed and schedule follow
from the round number the server sends (flower_app.py), so the rounds after a resume train as
they would have in an unbroken run. The privacy budget is a function of the rounds run.

Written as one folder replaced whole (folder_swap) after every round: a kill at any moment
leaves the previous round's checkpoint or this one's. Tensors are safetensors, the rest JSON:
nothing is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.artifacts.files import folder_swap, previous_folder, read_json_object, write_json
from tunesmith.errors import UserError

LATEST, BEST, PROGRESS = "latest.safetensors", "best.safetensors", "progress.json"


def checkpoint_dir(train_dir: Path) -> Path:
    return Path(train_dir) / "checkpoints" / "federated"


@dataclass
class Resumed:
    """Where a stopped federation was: `rounds_done` rounds released, the last one `latest`."""

    rounds_done: int
    latest: dict
    rows: list[dict] = field(default_factory=list)  # the round records logged so far
    best_state: dict | None = None
    stopping: dict = field(default_factory=dict)  # RoundStopping's counters


def save_round(folder: Path, strategy, rows: list[dict]) -> None:
    """After a released round: the checkpoint `load` resumes from."""
    from safetensors.numpy import save_file

    stopping = strategy.stopping
    with folder_swap(folder) as staging:
        save_file(_contiguous(strategy.latest), str(staging / LATEST))
        if stopping.best_state is not None:
            save_file(_contiguous(stopping.best_state), str(staging / BEST))
        progress = {
            "rounds_done": strategy.rounds_done,
            "rows": rows,
            "stopping": {
                "best_round": stopping.best_round,
                "best_val_ppl": stopping.best_val_ppl,
                "rounds_without_gain": stopping.rounds_without_gain,
                "stopped_early": stopping.stopped_early,
            },
        }
        write_json(staging / PROGRESS, progress)


def load(folder: Path, expected: dict) -> Resumed | None:
    """The checkpoint in `folder` (or the one a kill between folder_swap's renames left
    aside), None when there is none. `expected` is the adapter's initial state: a checkpoint
    of other tensors is not this federation's, and is refused."""
    for place in (folder, previous_folder(folder)):
        if (place / PROGRESS).is_file():
            return _read(place, expected)
    return None


def _read(place: Path, expected: dict) -> Resumed:
    progress = read_json_object(place / PROGRESS)
    try:
        done, rows, stopping = progress["rounds_done"], progress["rows"], progress["stopping"]
        if not isinstance(done, int) or not isinstance(rows, list) or len(rows) != done:
            raise ValueError
        counters = {k: stopping[k] for k in _COUNTERS}
    except (KeyError, TypeError, ValueError):
        raise UserError(_damaged(place, f"{PROGRESS} is not a round checkpoint")) from None
    best = place / BEST
    return Resumed(
        done,
        _tensors(place / LATEST, expected),
        rows,
        _tensors(best, expected) if best.is_file() else None,
        counters,
    )


_COUNTERS = ("best_round", "best_val_ppl", "rounds_without_gain", "stopped_early")


def _tensors(path: Path, expected: dict) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(_damaged(path.parent, f"{path.name}: {exc}")) from None
    shapes = {name: value.shape for name, value in state.items()}
    if shapes != {name: value.shape for name, value in expected.items()}:
        raise UserError(_damaged(path.parent, f"{path.name} holds another adapter's tensors"))
    return state


def _damaged(place: Path, what: str) -> str:
    return f"{place}: {what}; delete {place} to start the federation over"


def _contiguous(state: dict) -> dict:
    import numpy as np

    return {name: np.ascontiguousarray(value) for name, value in state.items()}
