"""A train stage that fails (an error late in the stage, Ctrl-C) leaves train/ as it was, except
for what it saved to resume from: the same command then resumes (test_resume.py)."""

from __future__ import annotations

import pytest
from export_helpers import small_recipe
from test_evaluate_export_failures import snapshot

from tunesmith.artifacts import RunDir
from tunesmith.config.overrides import override_recipe
from tunesmith.pipeline import run_pipeline

STAGES = ["data", "train"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A run folder whose data and train stages finished (4 steps, checkpoints at 2 and 4)."""
    folder = tmp_path_factory.mktemp("trained")
    recipe = small_recipe(folder, tiny_model_dir)
    run_dir = RunDir(folder / "run")
    run_pipeline(recipe, run_dir, only=STAGES)
    return recipe, run_dir


@pytest.fixture
def copy(trained, tmp_path):
    import shutil

    recipe, run_dir = trained
    return recipe, RunDir(shutil.copytree(run_dir.root, tmp_path / "run"))


def _fail_at_step(monkeypatch, step: int, error: BaseException) -> None:
    """The optimizer step after `step` steps raises `error`."""
    from tunesmith.train import loop

    real = loop.Trainer._optimizer_step

    def failing(self, batches):
        if self.state.step == step:
            raise error
        return real(self, batches)

    monkeypatch.setattr(loop.Trainer, "_optimizer_step", failing)


def test_an_interrupted_new_training_puts_the_finished_one_back(copy, monkeypatch):
    """A changed recipe starts train/ afresh; Ctrl-C before its first checkpoint dropped the
    finished adapter and left the new attempt's log: nothing to resume from, nothing kept."""
    recipe, run_dir = copy
    before, entry = snapshot(run_dir.train), run_dir.stage_entry("train")
    _fail_at_step(monkeypatch, 1, KeyboardInterrupt())
    changed = override_recipe(recipe, {"training.learning_rate": 1e-3})
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(changed, run_dir, only=["train"])
    assert snapshot(run_dir.train) == before
    assert run_dir.stage_entry("train") == entry
    assert not (run_dir.root / ".previous").exists()


def test_a_first_training_failing_before_a_checkpoint_leaves_no_train_folder(
    tmp_path, tiny_model_dir, monkeypatch
):
    recipe = small_recipe(tmp_path, tiny_model_dir)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    _fail_at_step(monkeypatch, 1, RuntimeError("out of memory"))
    with pytest.raises(RuntimeError):
        run_pipeline(recipe, run_dir, only=["train"])
    assert not run_dir.train.exists()
    assert run_dir.stage_entry("train")["status"] == "failed"


def test_a_failure_after_training_moves_in_no_adapter_without_its_summary(copy, monkeypatch):
    """The adapter was moved in, then writing summary.json failed: train/ held a new adapter
    beside no summary (or the previous run's). Now the adapter, summary.json and
    curriculum.json move in together; the checkpoints stay, and the same command resumes."""
    import shutil

    import tunesmith.train.stage as train_stage
    from tunesmith.artifacts import write_json

    recipe, run_dir = copy
    shutil.rmtree(run_dir.train)

    def full_disk(path, data):
        if path.name == "summary.json":
            raise OSError(28, "No space left on device")
        write_json(path, data)

    monkeypatch.setattr(train_stage, "write_json", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_pipeline(recipe, run_dir, only=["train"])
    assert sorted(p.name for p in run_dir.train.iterdir()) == [
        "best",
        "checkpoints",
        "metrics.jsonl",
    ]
    assert not [p.name for p in run_dir.root.iterdir() if p.name.endswith(".partial")]
    monkeypatch.setattr(train_stage, "write_json", write_json)
    run_pipeline(recipe, run_dir, only=["train"])
    summary = run_dir.stage_entry("train")["result"]
    assert summary["resumed"] is True and summary["steps"] == 4
    assert (run_dir.train / "adapter" / "adapter_model.safetensors").is_file()
    assert not (run_dir.train / "checkpoints").exists()
    assert not (run_dir.train / "best").exists()  # a second copy of the adapter's weights


def test_what_a_killed_attempt_left_before_a_checkpoint_is_not_resumed(
    tmp_path, tiny_model_dir, monkeypatch
):
    """`kill -9` before the first checkpoint: the manifest still says running, train/ holds
    the steps logged so far and no checkpoint. The next run counted that as resume state and
    started from step 0 on top of it: metrics.jsonl logged steps 1, 1, 2, 3, 4."""
    from tunesmith import pipeline
    from tunesmith.artifacts import read_jsonl

    recipe = small_recipe(tmp_path, tiny_model_dir)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    with monkeypatch.context() as killed:
        killed.setattr(pipeline._Previous, "put_back", lambda self: True)  # no handler runs
        _fail_at_step(killed, 1, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(recipe, run_dir, only=["train"])
    assert run_dir.stage_entry("train")["status"] == "running"
    assert not (run_dir.train / "checkpoints").exists()
    run_pipeline(recipe, run_dir, only=["train"])
    steps = [r["step"] for r in read_jsonl(run_dir.train / "metrics.jsonl") if "loss" in r]
    assert steps == [1, 2, 3, 4]
    assert run_dir.stage_entry("train")["result"]["resumed"] is False
