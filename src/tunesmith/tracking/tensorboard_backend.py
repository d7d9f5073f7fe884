"""TensorBoard: one log folder per stage, <run>/tracking/tensorboard/<stage> by default (a
search's or group's run folders: under the parent folder's, see `_stage_folder`)."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import TRACKERS, Backend, StageRun, home, replay
from tunesmith.tracking.checks import writable


def log_dir(config: TrackingConfig, root: Path) -> Path:
    given = config.tensorboard.log_dir
    return Path(given) if given else root / "tracking" / "tensorboard"


def _stage_folder(config: TrackingConfig, run: StageRun) -> Path:
    """<run>/tracking/tensorboard/<stage>; in a log_dir the recipe gives, which run folders may
    share (`tensorboard --logdir` on it compares them), <log_dir>/<run folder group>/<stage>:
    the run folders' stages shared one folder, so each attempt's purge marker hid the other
    run folders' curves (and, before it, their curves zigzagged in one series); by the folder's
    name alone, two projects' runs/exp1 still did. A search's or group's run folder writes
    under its parent's folder instead, by its path there (<search>/tracking/tensorboard/
    trials/trial-0003/train), so one --logdir shows the whole search."""
    shared = config.tensorboard.log_dir is not None
    folder = log_dir(config, run.home) / (run.group if shared else "")
    if run.parent is not None:
        folder = folder / run.parent.relative(run.root)
    return folder / run.stage


def _check(config: TrackingConfig, root: Path) -> None:
    writable(log_dir(config, home(root)), "tracking.tensorboard.log_dir")


# an event file's name: events.out.tfevents.<second created>.<host>.<pid>.<counter>
_EVENT_FILE = re.compile(r"events\.out\.tfevents\.(\d+)\.")


def _after_earlier_files(folder: Path) -> None:
    """Wait, if need be, for the second after the newest event file's in `folder`: readers
    take its files in name order, which is creation time to the second, then host, pid and
    a counter compared as text ('10' before '9'). A purge marker in a file read before the
    earlier attempt's would purge nothing."""
    seconds = [int(m.group(1)) for p in folder.glob("*") if (m := _EVENT_FILE.match(p.name))]
    while seconds and time.time() < max(seconds) + 1:
        time.sleep(0.05)


# what Markdown reads as markup in a table cell: its backslash escapes, and '|' (a new cell)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def _cell(value) -> str:
    """`value` as the text of one cell of the recipe table (TensorBoard renders it as Markdown):
    a newline in a prompt template ended the row (its next line became a key of its own), a
    '|' cut the value there, and '*' or '<em>' in it was markup."""
    text = _MARKDOWN.sub(r"\\\1", html.escape(str(value), quote=False))
    return text.replace("\r\n", "\n").replace("\n", "<br>")


class TensorboardTracker:
    def __init__(self, config: TrackingConfig, run: StageRun) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # A new attempt of the stage in the stage's folder: the purge marker at step 0 makes
        # readers drop every event an earlier attempt wrote there (a stage run again, or one
        # resumed, which replays its kept curve), else both curves showed in one series.
        folder = _stage_folder(config, run)
        self.root = run.root
        _after_earlier_files(folder)
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=0)
        table = "\n".join(f"| {_cell(k)} | {_cell(v)} |" for k, v in run.params.items())
        self.writer.add_text("recipe", "| key | value |\n|---|---|\n" + table)

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, global_step=step or 0)

    def log_artifact(self, path: Path) -> None:
        # TensorBoard stores no files: record where the artefact is, one text tag each (the
        # server shows one text per tag and step: the train stage showed the adapter's path,
        # not summary.json's). Its path in the run folder, which holds it wherever the folder
        # is moved; an absolute path named the training box's folder.
        resolved, root = path.resolve(), self.root.resolve()
        shown = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else resolved
        self.writer.add_text(f"artefacts/{path.name}", str(shown))

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        replay(self, history)

    def close(self, failed: bool) -> None:
        self.writer.close()


TRACKERS.register("tensorboard", Backend("tensorboard", "tensorboard", _check, TensorboardTracker))
