"""`tunesmith export RUN [--cards]` on a run folder whose files are damaged: one line, exit 2,
never a traceback."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.pipeline import run_pipeline

ADAPTER = "train/adapter"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    """A trained run with a merged export (no evaluation: the cards do without one)."""
    from export_helpers import small_recipe

    folder = tmp_path_factory.mktemp("export-run")
    recipe = small_recipe(folder, tiny_model_dir, export={"formats": ["merged"]})
    run_pipeline(recipe, RunDir(folder / "out"), only=["data", "train", "export"])
    return folder / "out"


def run_cli(*args) -> tuple[int, str]:
    from tunesmith.cli.main import main

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stderr(err):
        monkeypatch.setattr(sys, "argv", ["tunesmith", "export", *map(str, args)])
        with pytest.raises(SystemExit) as exit_info:
            main()
    return exit_info.value.code, err.getvalue().strip()


def _cut(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    # the cards load the run's tokenizer: transformers' own tracebacks
    "tokenizer-config-a-list": (
        f"{ADAPTER}/tokenizer_config.json",
        lambda p: p.write_text("[]"),
        "tokenizer_config.json: damaged run file, an array, not an object",
    ),
    "tokenizer-truncated": (
        f"{ADAPTER}/tokenizer.json",
        _cut,
        "tokenizer.json:",
    ),
    "tokenizer-not-utf8": (
        f"{ADAPTER}/tokenizer.json",
        lambda p: p.write_bytes(b"\xff" + p.read_bytes()),
        "tokenizer.json:1: damaged run file, not UTF-8 text (byte 0xff)",
    ),
    "tokenizer-missing": (
        f"{ADAPTER}/tokenizer.json",
        lambda p: p.unlink(),
        "the saved tokenizer does not load",
    ),
    # read_exports called .setdefault on what exports.json held
    "exports-a-list": (
        "export/exports.json",
        lambda p: p.write_text("[]"),
        "exports.json: damaged run file, an array, not an object",
    ),
}


@pytest.mark.parametrize("cards", [True, False], ids=["cards", "export"])
@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_run_file_is_one_line(exported, tmp_path, case, cards):
    run = tmp_path / "run"
    shutil.copytree(exported, run, symlinks=True)
    name, damage, found = DAMAGE[case]
    damage(run / name)
    code, err = run_cli(run, *(["--cards"] if cards else []))
    assert code == 2 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and found in last, last


def test_a_damaged_compare_is_refused_before_the_artefacts_are_replaced(exported, tmp_path):
    """The cards' inputs were read after the new artefacts had moved in: a damaged
    eval/compare.json left them without cards (the previous ones gone with their folders)."""
    run = tmp_path / "run"
    shutil.copytree(exported, run, symlinks=True)
    (run / "eval").mkdir()
    (run / "eval" / "compare.json").write_text("[]")
    before = {p: p.read_bytes() for p in (run / "export").rglob("*") if p.is_file()}
    code, err = run_cli(run)
    assert code == 2, err
    assert err.splitlines()[-1].endswith("compare.json: damaged run file, an array, not an object")
    assert {p: p.read_bytes() for p in (run / "export").rglob("*") if p.is_file()} == before
