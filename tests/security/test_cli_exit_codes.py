"""The CLI's own failure modes: usage mistakes, --version, Ctrl-C, unwritable output."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "tunesmith.cli"]


def tunesmith(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["runn"], "No such command 'runn'"),
        (["run", "--bogus"], "No such option: --bogus"),
        (["validate"], "Missing argument"),
        (["data", "curate", "--nope"], "No such option"),
    ],
    ids=["unknown-command", "unknown-option", "missing-argument", "subcommand-option"],
)
def test_usage_mistake_is_a_short_usage_line_and_exit_2(args, fragment):
    done = tunesmith(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Usage: tunesmith"), done.stderr
    assert lines[1].startswith("error: ") and fragment in lines[1]


def test_version():
    done = tunesmith("--version")
    assert done.returncode == 0
    from importlib.metadata import version

    assert done.stdout.strip() == f"tunesmith {version('tunesmith')}"


def test_read_only_output_is_one_line_exit_2(tiny_recipe):
    done = tunesmith("run", tiny_recipe(), "--output", "/sys/tunesmith-run")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --output: /sys/tunesmith-run")
    assert "not writable" in done.stderr


def test_validate_checks_the_output_folder(tiny_recipe):
    done = tunesmith("validate", tiny_recipe(), "--output", "/sys/tunesmith-run")
    assert done.returncode == 2 and "not writable" in done.stderr


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_a_signal_stops_the_run_with_128_plus_its_number_and_the_resume_hint(
    tiny_recipe, tmp_path, signum, code
):
    """SIGTERM exited 130 like Ctrl-C; shells, systemd, Kubernetes and CI runners read 143
    (128 + 15) as 'terminated'. Both stop cleanly: one line, the stage marked failed."""
    recipe = tiny_recipe(**{"training.epochs": 200, "training.eval_every": 1000})
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*CLI, "run", str(recipe), "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background of a non-interactive shell inherits SIGINT ignored
        # (POSIX), and Python keeps it so: Ctrl-C is what this test sends, so undo that
        preexec_fn=_sigint_default,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not _training(out):
        time.sleep(0.2)
    assert _training(out), "training never started"
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; run the same command again to resume"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["train"]["status"] == "failed"
    # the record says which signal stopped it (it said "KeyboardInterrupt" for both)
    stopped_by = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}[signum]
    assert manifest["stages"]["train"]["error"] == f"interrupted by {stopped_by}"


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_the_exit_code_is_that_of_the_signal_the_handler_recorded(
    monkeypatch, capsys, signum, code
):
    """The handler's KeyboardInterrupt, however it reaches the CLI, exits 128 + its signal."""
    import threading

    from tunesmith import interrupts
    from tunesmith.cli import errors

    monkeypatch.setattr(interrupts, "install", lambda: None)
    monkeypatch.setattr(interrupts, "_requested", threading.Event())
    monkeypatch.setattr(interrupts, "_signal", signal.SIGINT)

    def app(**_):
        interrupts._on_sigint(signum, None)

    with pytest.raises(SystemExit) as info:
        errors.invoke(app)
    assert info.value.code == code
    assert capsys.readouterr().err == "interrupted; run the same command again to resume\n"


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _training(out) -> bool:
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        stages = json.loads(manifest.read_text()).get("stages", {})
    except ValueError:
        return False
    return stages.get("train", {}).get("status") == "running"


def test_interrupt_exit_code_is_not_swallowed_by_typer(monkeypatch):
    """typer returns 130 instead of raising under standalone_mode=False: still exit 130."""
    from tunesmith.cli import errors

    with pytest.raises(SystemExit) as info:
        errors.invoke(lambda standalone_mode, prog_name: 130)
    assert info.value.code == 130
