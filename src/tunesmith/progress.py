"""Progress bars (rich) handed to stages as small callbacks."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tunesmith.interrupts import raise_if_interrupted

# soft_wrap: a line longer than the terminal (a path, a warning, an energy line) is printed
# whole, not broken at 80 columns when stderr is a log file or a pipe
console = Console(stderr=True, soft_wrap=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not sys.stderr.isatty() and False,
    )


@contextlib.contextmanager
def bar(description: str, total: int, completed: int = 0):
    """A progress bar; yields advance(n=1, info='')."""
    with _progress() as progress:
        task = progress.add_task(description, total=total, completed=completed, info="")

        def advance(n: int = 1, info: str = "") -> None:
            raise_if_interrupted()  # every step and batch is a checkpoint for a lost Ctrl-C
            progress.update(task, advance=n, info=info)

        yield advance


class TrainingBar:
    """`progress(total, done)` -> on_step(state, loss) callback, for a training loop."""

    def __init__(self, description: str = "train") -> None:
        self._stack = contextlib.ExitStack()
        self.description = description

    def __call__(self, total: int, done: int):
        advance = self._stack.enter_context(bar(self.description, total, done))

        def on_step(state, loss: float) -> None:
            rate = state.tokens / max(state.seconds, 1e-9)
            advance(1, f"loss {loss:.3f}  {rate:.0f} tok/s")

        return on_step

    def close(self) -> None:
        self._stack.close()


class GenerationBars:
    """`progress(variant, total)` -> on_batch(n) callback, for the evaluate stage."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def __call__(self, variant: str, total: int):
        # rows generate one after another: the previous row's bar ends here. Left open, each
        # new bar was a live display inside the last one, printed (to a log) in reverse order
        # with blank lines between them.
        self._stack.close()
        return self._stack.enter_context(bar(f"generate ({variant})", total))

    def close(self) -> None:
        self._stack.close()


def run_with_bars(bars, run, recipe, run_dir):
    """`run(recipe, run_dir, progress=bars)`, closing the bars however it ends (stage hook)."""
    try:
        return run(recipe, run_dir, progress=bars)
    finally:
        bars.close()
