"""Ctrl-C is never lost: a requested interrupt is remembered and raised again at a checkpoint.

Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be.
When that is a finaliser (`__del__`, a weakref or GC callback: a regex object collected
mid-step, say), the interpreter prints "Exception ignored in ..." with a traceback and carries
on, so the user's Ctrl-C is silently dropped and the run goes to its end. Here the handler
still raises at once (a long call is interrupted as before) but also records the request; the
driver's checkpoints (every progress step and every stage boundary) raise it again if it was
swallowed, and the ignored copy is not printed.
"""

from __future__ import annotations

import signal
import sys
import threading

_requested = threading.Event()
# The signal that asked for the stop, so the exit code tells SIGTERM (143) from Ctrl-C (130).
_signal: int = signal.SIGINT


def install() -> None:
    """Replace Python's default SIGINT handler, and SIGTERM's (only those: an inherited SIG_IGN
    or a host program's own handler is kept), and hide the finaliser's ignored
    KeyboardInterrupt. SIGTERM (kill, `timeout`, a batch scheduler's time limit) stops the run
    as Ctrl-C does: before, it killed the process on the spot, so no stage was marked
    failed and every tracker run stayed open (an MLflow run RUNNING for good). Only the exit
    code tells them apart (`exit_code`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    ours = []
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        ours.append(signal.SIGINT)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        ours.append(signal.SIGTERM)
    for signum in ours:
        signal.signal(signum, _on_sigint)
    if ours:
        sys.unraisablehook = _quiet_when_requested(sys.unraisablehook)


def raise_if_interrupted() -> None:
    """A checkpoint: raise KeyboardInterrupt if Ctrl-C was pressed and its first raise was lost."""
    if _requested.is_set():
        raise KeyboardInterrupt


def requested() -> bool:
    """Whether Ctrl-C was pressed in this process (even if its KeyboardInterrupt was lost)."""
    return _requested.is_set()


def exit_code() -> int:
    """What shells, systemd and CI runners expect of a process a signal stopped: 128 + its
    number (130 for Ctrl-C, 143 for SIGTERM). A KeyboardInterrupt no handler recorded (typer's
    Abort, a test) is Ctrl-C's."""
    return 128 + int(_signal if _requested.is_set() else signal.SIGINT)


def stop_reason() -> str:
    """What a run's records say of a stage or trial a signal stopped (the manifest's error):
    which signal, not the KeyboardInterrupt both become."""
    stopped_by = "SIGTERM" if exit_code() == 128 + signal.SIGTERM else "Ctrl-C (SIGINT)"
    return f"interrupted by {stopped_by}"


def _on_sigint(signum, frame) -> None:
    global _signal
    if not _requested.is_set():  # the first request decides; a later Ctrl-C changes nothing
        _signal = signum
    _requested.set()
    raise KeyboardInterrupt


def _quiet_when_requested(previous):
    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _requested.is_set():
            return  # raised again at the next checkpoint; its traceback would only alarm
        previous(unraisable)

    return hook
