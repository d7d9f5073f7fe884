"""A Ctrl-C that Python swallows (it landed in a finaliser) is raised again at a checkpoint."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from tunesmith import interrupts

# Python runs a signal handler between bytecodes of the main thread; sending SIGINT from a
# `__del__` makes the handler's KeyboardInterrupt land inside that finaliser, where the
# interpreter reports it as "Exception ignored" and carries on (what a regex object collected
# mid-step did to a real run).
SWALLOWED_IN_A_FINALISER = textwrap.dedent(
    """
    import os, signal
    from tunesmith import interrupts

    interrupts.install()

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(10_000))

    item = Finalised()
    del item
    print("carried on", flush=True)
    try:
        interrupts.raise_if_interrupted()
    except KeyboardInterrupt:
        print("raised at the checkpoint", flush=True)
    """
)


def test_interrupt_swallowed_by_a_finaliser_is_raised_at_the_next_checkpoint():
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED_IN_A_FINALISER],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_sigint_default,
    )
    assert done.stdout.splitlines() == ["carried on", "raised at the checkpoint"], done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_no_interrupt_no_raise():
    interrupts.raise_if_interrupted()  # nothing requested: a checkpoint is free


@pytest.fixture
def requested(monkeypatch):
    event = threading.Event()
    event.set()
    monkeypatch.setattr(interrupts, "_requested", event)


@pytest.mark.usefixtures("requested")
def test_every_progress_step_is_a_checkpoint():
    from tunesmith.progress import bar

    with bar("train", total=3) as advance, pytest.raises(KeyboardInterrupt):
        advance()


@pytest.mark.usefixtures("requested")
def test_each_stage_boundary_is_a_checkpoint(tiny_recipe, tmp_path):
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_recipe(tiny_recipe()), run_dir)
    assert not (run_dir.root / "data").exists()  # stopped before the first stage ran


def test_a_host_programs_handler_is_kept():
    import signal

    def host_handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, host_handler)
    try:
        interrupts.install()
        assert signal.getsignal(signal.SIGINT) is host_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def _sigint_default() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
