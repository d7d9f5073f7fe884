"""A failed `tunesmith evaluate` or `tunesmith export` (bad input, a damaged adapter, Ctrl-C)
leaves the run folder as it was: no new empty folder, no new predictions beside the old
figures, no earlier export lost. A damaged adapter is refused before any row generates."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from test_cli import assert_user_error, tunesmith

from tunesmith.artifacts import RunDir
from tunesmith.errors import UserError


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir):
    """A tiny run with data, train, a merged export (with its model card) and evaluate."""
    from export_helpers import small_recipe

    from tunesmith.pipeline import run_pipeline

    folder = tmp_path_factory.mktemp("finished")
    export = {"formats": ["merged"], "speed_tokens": 2}
    recipe = small_recipe(folder, tiny_model_dir, export=export)
    run_dir = RunDir(folder / "run")
    run_pipeline(recipe, run_dir, only=["data", "train", "export", "evaluate", "export_card"])
    return run_dir.root


@pytest.fixture
def run(finished, tmp_path):
    """A copy of the finished run to damage or fail on."""
    return shutil.copytree(finished, tmp_path / "run")


def snapshot(folder) -> dict:
    """Every file and folder under `folder` (hidden ones included): bytes, or None for a folder."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def _other_rank(adapter):
    file = adapter / "adapter_config.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), "r": 3}))


DAMAGES = {
    "config of another rank": _other_rank,
    "config emptied": lambda adapter: (adapter / "adapter_config.json").write_text("{}"),
    "weights missing": lambda adapter: (adapter / "adapter_model.safetensors").unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_adapter_is_refused_before_any_row_generates(run, damage, monkeypatch):
    """Before, the base and few-shot rows were scored first (minutes on a real model) and
    rewrote their predictions beside the old figures; only then did the adapter fail."""
    import tunesmith.evaluate.scoring as scoring
    from tunesmith.cli.eval_run import evaluate_run

    DAMAGES[damage](run / "train" / "adapter")
    before = snapshot(run)
    scored = []
    real = scoring.score_model
    monkeypatch.setattr(scoring, "score_model", lambda *a, **k: scored.append(1) or real(*a, **k))
    with pytest.raises(UserError, match="^" + re.escape(f"{run / 'train' / 'adapter'}: ")):
        evaluate_run(run, "test")
    assert scored == []
    assert snapshot(run) == before


def test_an_interrupted_evaluation_leaves_eval_as_it_was(run, monkeypatch):
    """Ctrl-C while the second row generates: the first row's new predictions are not left
    beside the old compare.json, no staging is left behind; the test split is counted (the
    first row's answers were generated: the split was looked at)."""
    import tunesmith.evaluate.scoring as scoring
    from tunesmith.cli.eval_run import evaluate_run

    before = snapshot(run)
    real = scoring.score_model
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "score_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run, "test")
    assert len(calls) == 2
    after = snapshot(run)
    manifest_before, manifest_after = (json.loads(s.pop("manifest.json")) for s in (before, after))
    assert after == before
    earlier = manifest_before.pop("evaluations")
    assert manifest_after.pop("evaluations") == {**earlier, "test": earlier["test"] + 1}
    assert manifest_after == manifest_before


class Killed(BaseException):
    """The process died here: nothing after this point ran."""


def test_an_evaluation_killed_after_its_rows_generated_is_counted(run, monkeypatch):
    """The test split was counted only once the outputs were written: killed after every row
    generated (here while its errors were analysed), the evaluation was not counted, and the
    next one said "evaluated 1 time" of figures computed twice."""
    import tunesmith.evaluate.errors as errors
    from tunesmith.cli.eval_run import evaluate_run

    counted = RunDir(run).read_manifest()["evaluations"]["test"]

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(errors, "analyse", killed)
        with pytest.raises(Killed):
            evaluate_run(run, "test")
    assert RunDir(run).read_manifest()["evaluations"]["test"] == counted + 1
    evaluate_run(run, "test")
    compare = json.loads((run / "eval" / "compare.json").read_text())
    assert compare["test_evaluations"] == counted + 2


@pytest.mark.parametrize("failure", ["damaged adapter", "unknown split"])
def test_a_failed_first_evaluation_leaves_no_eval_folder(run, failure):
    shutil.rmtree(run / "eval")
    args = ["--split", "tets"] if failure == "unknown split" else []
    if failure == "damaged adapter":
        _other_rank(run / "train" / "adapter")
    before = snapshot(run)
    done = tunesmith("evaluate", run, *args)
    assert_user_error(done, "damaged adapter" if failure == "damaged adapter" else "--split")
    assert "generate" not in done.stderr  # refused before any progress bar
    assert snapshot(run) == before


def test_a_failed_export_keeps_the_earlier_export_whole(run, monkeypatch):
    """The merged folder is written again, then the GGUF fails: the earlier merged folder (with
    the model card export_card wrote into it) and exports.json stay as they were."""
    import tunesmith.export.gguf_file as gguf_file
    from tunesmith.cli.export_cmd import export

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf_file, "write_gguf", full_disk)
    before = snapshot(run)
    assert "export/merged/README.md" in before
    with pytest.raises(OSError, match="No space left"):
        export(run, formats=["merged", "gguf"], gguf_types=["q8_0"], cards=False)
    assert snapshot(run) == before


def test_a_refused_first_export_leaves_no_export_folder(run):
    shutil.rmtree(run / "export")
    _other_rank(run / "train" / "adapter")
    before = snapshot(run)
    done = tunesmith("export", run, "--format", "merged")
    assert_user_error(done, "damaged adapter")
    assert snapshot(run) == before


def test_a_successful_export_adds_to_the_earlier_one(run):
    """Staged and moved in together: a new artefact joins export/, the earlier ones and their
    records stay."""
    done = tunesmith("export", run, "--format", "gguf", "--gguf-type", "q8_0")
    assert done.returncode == 0, done.stderr
    record = json.loads((run / "export" / "exports.json").read_text())
    assert set(record["artefacts"]) == {"merged", "gguf_q8_0"}
    assert (run / "export" / "merged" / "model.safetensors").is_file()
    assert (run / "export" / "model-q8_0.gguf").is_file()
    assert not [p.name for p in run.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("command", [["evaluate"], ["export", "--format", "merged"]])
def test_a_folder_another_command_holds_is_refused_untouched(run, command):
    """Two commands staging into one folder would clear each other's staging (and interleave
    files before): the second stops at once, as a second `tunesmith run` does."""
    import os

    from tunesmith.artifacts.lock import RunLock

    before = snapshot(run)
    with RunLock(run):
        done = tunesmith(command[0], run, *command[1:])
    assert_user_error(done, f"run folder {run} is in use by pid {os.getpid()}; wait for it")
    assert snapshot(run) == before
