"""The stage contract: registered stages, declared inputs, results, subsets, lock, failures."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.pipeline import run_pipeline
from tunesmith.stages import STAGES, StageSpec, load_stages, ordered_stages

SMALL_TRAINING = {
    "max_steps": 2,
    "batch_size": 4,
    "learning_rate": 5e-3,
    "max_seq_length": 64,
    "eval_every": 2,
    "lora": {"r": 2, "alpha": 4, "dropout": 0.0},
}
SMALL_EVAL = {"sample_size": 3, "generation": {"max_new_tokens": 2, "batch_size": 4}}


def _classification(tiny_recipe, curation=None):
    path = tiny_recipe(
        task="classification",
        training=SMALL_TRAINING,
        evaluation=SMALL_EVAL,
        **{"data.output_field": "section", "data.prompt_template": "Section of: {description}"},
    )
    recipe = load_recipe(path)
    data = recipe.data.model_copy(update={"curation": curation or recipe.data.curation})
    return recipe.model_copy(update={"data": data})


def test_switching_on_class_weights_reruns_training(tmp_path, tiny_recipe):
    from tunesmith.config.curation import BalanceConfig, CurationConfig

    recipe = _classification(tiny_recipe)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir)
    weighted = _classification(
        tiny_recipe, CurationConfig(balance=BalanceConfig(method="class_weights"))
    )
    outcome = run_pipeline(weighted, run_dir)
    assert outcome["data"] == "ran"
    assert outcome["train"] == "ran"  # the stale-weights bug: it used to be skipped
    weights = json.loads((run_dir.data / "class_weights.json").read_text())
    assert weights["utils"] > weights["devel"]  # utils is the minority class (1 in 3)
    inputs = run_dir.stage_entry("train")["inputs"]
    assert "data/class_weights.json" in inputs


def test_stage_order_comes_from_the_registrations(tiny_recipe):
    recipe = load_recipe(tiny_recipe())
    names = [s.name for s in ordered_stages(recipe)]
    # pretrain is off in this recipe
    assert names == ["data", "train", "evaluate", "checks", "report"]
    assert set(names) <= set(STAGES.names())


@dataclass
class ExtraResult:
    words: int


def _extra_run(recipe, run_dir):
    text = (run_dir.report / "report.html").read_text(encoding="utf-8")
    (run_dir.root / "extra").mkdir(exist_ok=True)
    (run_dir.root / "extra" / "done.txt").write_text("ok")
    return ExtraResult(len(text.split()))


def _extra_spec() -> StageSpec:
    return StageSpec(
        name="extra",
        order=95,
        config=lambda r: (r.name,),
        inputs=lambda r, rd: [rd.report / "report.html"],
        outputs=lambda rd: [rd.root / "extra" / "done.txt"],
        run=_extra_run,
    )


def test_a_stage_registered_here_joins_the_pipeline(tmp_path, tiny_recipe, monkeypatch):
    load_stages()
    monkeypatch.setitem(STAGES._items, "extra", _extra_spec())
    recipe = load_recipe(tiny_recipe(training=SMALL_TRAINING, evaluation=SMALL_EVAL))
    run_dir = RunDir(tmp_path / "run")
    outcome = run_pipeline(recipe, run_dir)
    assert list(outcome) == ["data", "train", "evaluate", "checks", "report", "extra"]
    entry = run_dir.stage_entry("extra")
    assert entry["status"] == "done" and entry["result"]["words"] > 10
    assert run_dir.stage_entry("train")["result"]["steps"] == 2  # results are recorded
    assert run_pipeline(recipe, run_dir)["extra"] == "skipped"

    # A subset on the existing folder: runs exactly those, even though unchanged.
    assert run_pipeline(recipe, run_dir, only=["evaluate", "extra"]) == {
        "evaluate": "ran",
        "extra": "ran",
    }
    with pytest.raises(UserError, match="did you mean 'evaluate'"):
        run_pipeline(recipe, run_dir, only=["evalute"])


def test_a_subset_with_missing_inputs_says_which_stage_to_run(tmp_path, tiny_recipe):
    recipe = load_recipe(tiny_recipe())
    with pytest.raises(UserError) as caught:
        run_pipeline(recipe, RunDir(tmp_path / "empty"), only=["train"])
    message = str(caught.value)
    assert "stage train: needs" in message and "train.jsonl" in message
    assert "run the 'data' stage first" in message and "\n" not in message


def test_the_stage_named_for_a_missing_input_is_one_of_this_run(tmp_path, tiny_recipe):
    """train/ holds the outputs of train and federated; evaluate without train/adapter said
    "run the 'federated' stage first" in a run without federated learning."""
    recipe = load_recipe(tiny_recipe())
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    with pytest.raises(UserError) as caught:
        run_pipeline(recipe, run_dir, only=["evaluate"])
    message = str(caught.value)
    assert "stage evaluate: needs" in message and "run the 'train' stage first" in message


def test_a_failed_stage_is_marked_failed_with_its_error(tmp_path, tiny_recipe, monkeypatch):
    load_stages()

    def broken(recipe, run_dir):
        raise RuntimeError("disk on fire\nsecond line")

    spec = StageSpec("broken", 5, lambda r: (), lambda r, rd: [], lambda rd: [], broken)
    monkeypatch.setitem(STAGES._items, "broken", spec)
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(RuntimeError):
        run_pipeline(load_recipe(tiny_recipe()), run_dir)
    entry = run_dir.stage_entry("broken")
    assert entry["status"] == "failed"
    assert entry["error"] == "RuntimeError: disk on fire"


def test_cli_unknown_stage_is_exit_2_with_a_suggestion(tmp_path, tiny_recipe):
    import subprocess
    import sys

    out = tmp_path / "run"
    cli = [sys.executable, "-m", "tunesmith.cli", "run", str(tiny_recipe()), "-o", str(out)]
    done = subprocess.run([*cli, "--stages", "trian"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown stage 'trian' (did you mean 'train'?)" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_a_stage_the_recipe_does_not_use_is_refused(tmp_path, tiny_recipe):
    with pytest.raises(UserError, match="--stages: pretrain is not part of this recipe's run"):
        run_pipeline(load_recipe(tiny_recipe()), RunDir(tmp_path / "r"), only=["pretrain"])


def _writing(text: str, then: BaseException | None = None):
    def run(recipe, run_dir):
        (run_dir.root / "fresh").mkdir(exist_ok=True)
        (run_dir.root / "fresh" / "out.txt").write_text(text)
        if then is not None:
            raise then

    return run


def _fresh_spec(run) -> StageSpec:
    """A stage that starts afresh each time (reset paths) and saves resume state in
    fresh/checkpoints: what train and pretrain do."""
    return StageSpec(
        "fresh",
        5,
        lambda r: (r.name,),
        lambda r, rd: [],
        lambda rd: [rd.root / "fresh" / "out.txt"],
        run,
        reset=lambda rd: [rd.root / "fresh"],
        scratch=lambda rd: [rd.root / "fresh" / "checkpoints"],
        resumes=True,
    )


@pytest.fixture
def fresh_run(tmp_path, tiny_recipe, monkeypatch):
    """A run folder whose 'fresh' stage finished once; `rerun(run)` runs it again with `run`."""
    load_stages()
    recipe = load_recipe(tiny_recipe())
    run_dir = RunDir(tmp_path / "run")
    monkeypatch.setitem(STAGES._items, "fresh", _fresh_spec(_writing("finished")))
    run_pipeline(recipe, run_dir, only=["fresh"])

    def rerun(run):
        monkeypatch.setitem(STAGES._items, "fresh", _fresh_spec(run))
        run_pipeline(recipe, run_dir, only=["fresh"])

    return run_dir, rerun


def test_bad_input_puts_a_finished_stage_back_as_it_was(fresh_run):
    run_dir, rerun = fresh_run
    before = run_dir.stage_entry("fresh")
    assert before["status"] == "done"
    with pytest.raises(UserError, match="not JSON lines"):
        rerun(_writing("partial", UserError("training.replay.file: x: not JSON lines")))
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "finished"
    assert run_dir.stage_entry("fresh") == before
    assert not (run_dir.root / ".previous").exists()


@pytest.mark.parametrize("error", [RuntimeError("out of memory"), KeyboardInterrupt()])
def test_other_failures_before_resume_state_put_a_finished_stage_back(fresh_run, error):
    """An error or Ctrl-C is no different from bad input while the attempt has nothing to
    resume from: the finished stage was dropped and the attempt's partial output left."""
    run_dir, rerun = fresh_run
    before = run_dir.stage_entry("fresh")
    with pytest.raises(type(error)):
        rerun(_writing("partial", error))
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "finished"
    assert run_dir.stage_entry("fresh") == before
    assert not (run_dir.root / ".previous").exists()


def test_a_first_attempt_failing_before_resume_state_leaves_no_folder(tmp_path, tiny_recipe):
    load_stages()
    run_dir = RunDir(tmp_path / "run")
    spec = _fresh_spec(_writing("partial", RuntimeError("out of memory")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(STAGES._items, "fresh", spec)
        with pytest.raises(RuntimeError):
            run_pipeline(load_recipe(tiny_recipe()), run_dir, only=["fresh"])
    assert not (run_dir.root / "fresh").exists()
    entry = run_dir.stage_entry("fresh")
    assert entry["status"] == "failed" and entry["error"] == "RuntimeError: out of memory"


def test_an_observers_stop_keeps_what_the_stage_wrote(tmp_path, tiny_recipe):
    """A search trial's pruner stops the train stage on purpose: its curve so far stays for
    the trial's report, even with no checkpoint yet (it is no failure to undo)."""
    from tunesmith.tracking.observers import notify, observing

    class Pruned(Exception):
        pass

    def prune(record):
        raise Pruned(f"pruned at step {record['step']}")

    def logs_then_is_pruned(recipe, run_dir):
        _writing("curve")(recipe, run_dir)
        notify({"step": 2, "val_ppl": 9.0})

    load_stages()
    run_dir = RunDir(tmp_path / "run")
    with pytest.MonkeyPatch.context() as patch, observing(prune):
        patch.setitem(STAGES._items, "fresh", _fresh_spec(logs_then_is_pruned))
        with pytest.raises(Pruned):
            run_pipeline(load_recipe(tiny_recipe()), run_dir, only=["fresh"])
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "curve"
    assert run_dir.stage_entry("fresh")["status"] == "failed"


def test_other_failures_keep_the_new_attempt_for_resuming(fresh_run):
    run_dir, rerun = fresh_run

    def checkpoints_then_fails(recipe, run_dir):
        _writing("partial")(recipe, run_dir)
        (run_dir.root / "fresh" / "checkpoints").mkdir()
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        rerun(checkpoints_then_fails)
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "partial"
    entry = run_dir.stage_entry("fresh")
    assert entry["status"] == "failed" and entry["error"] == "RuntimeError: out of memory"
    assert not (run_dir.root / ".previous").exists()


def test_a_rerun_that_succeeds_leaves_no_previous_folder(fresh_run):
    run_dir, rerun = fresh_run
    rerun(_writing("second"))
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "second"
    assert not (run_dir.root / ".previous").exists()  # not even empty


def test_previous_folder_is_kept_while_it_holds_another_stage(fresh_run):
    run_dir, rerun = fresh_run
    other = run_dir.root / ".previous" / "other" / "kept.txt"
    other.parent.mkdir(parents=True)
    other.write_text("held")
    rerun(_writing("second"))
    assert other.read_text() == "held"


def test_an_attempt_that_saved_resume_state_is_kept_for_resuming(fresh_run):
    """A tracking server gone mid-run is a UserError too, but fixing it changes no recipe:
    the same command resumes from the new attempt's checkpoints."""
    run_dir, rerun = fresh_run

    def checkpoints_then_fails(recipe, run_dir):
        (run_dir.root / "fresh" / "checkpoints").mkdir(parents=True)
        raise UserError("tracking.mlflow.tracking_uri: http://x failed (connection refused)")

    with pytest.raises(UserError):
        rerun(checkpoints_then_fails)
    assert (run_dir.root / "fresh" / "checkpoints").is_dir()
    assert not (run_dir.root / "fresh" / "out.txt").exists()
    assert run_dir.stage_entry("fresh")["status"] == "failed"


def test_a_new_revision_reruns_a_stage_its_old_code_finished(fresh_run):
    """Code that changes what a stage writes raises its revision: folders made before re-run it
    (the chat-target fix had left old folders training on old examples)."""
    import dataclasses

    run_dir, _ = fresh_run
    recipe = load_recipe(run_dir.root / "recipe.yaml")  # the recipe the fixture ran
    same = _fresh_spec(_writing("revised"))
    assert run_pipeline(recipe, run_dir, only=["fresh"], force=False) == {"fresh": "skipped"}
    # Revision 1 is the hash folders had before revisions existed: nothing re-runs for it.
    assert same.config_parts(recipe) == same.config(recipe)
    STAGES._items["fresh"] = dataclasses.replace(same, revision=2)
    assert run_pipeline(recipe, run_dir, only=["fresh"], force=False) == {"fresh": "ran"}
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "revised"
    assert run_pipeline(recipe, run_dir, only=["fresh"], force=False) == {"fresh": "skipped"}


def _changed_recipe(tiny_recipe):
    """The fixture's recipe with another name (the 'fresh' stage's config) and seed."""
    return load_recipe(tiny_recipe(name="changed", **{"training.seed": 7}))


@pytest.mark.parametrize("error", [UserError("data.train: x: bad"), KeyboardInterrupt()])
def test_a_changed_recipe_whose_run_is_put_back_leaves_the_earlier_recipe(
    fresh_run, tiny_recipe, monkeypatch, error
):
    """The new recipe.yaml and seed were written before any stage ran: a failure that put
    the finished stage back left the earlier outputs under the new recipe, which evaluate,
    export and the report then read (another model's name beside the old adapter)."""
    run_dir, _ = fresh_run
    recipe_before = (run_dir.root / "recipe.yaml").read_text()
    seed_before = run_dir.read_manifest()["seed"]
    monkeypatch.setitem(STAGES._items, "fresh", _fresh_spec(_writing("partial", error)))
    with pytest.raises(type(error)):
        run_pipeline(_changed_recipe(tiny_recipe), run_dir, only=["fresh"])
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "finished"
    assert (run_dir.root / "recipe.yaml").read_text() == recipe_before
    assert run_dir.read_manifest()["seed"] == seed_before != 7


def test_a_changed_recipe_kept_for_resuming_stays_the_folders_recipe(
    fresh_run, tiny_recipe, monkeypatch
):
    run_dir, _ = fresh_run

    def checkpoints_then_fails(recipe, run_dir):
        (run_dir.root / "fresh" / "checkpoints").mkdir(parents=True)
        raise RuntimeError("out of memory")

    monkeypatch.setitem(STAGES._items, "fresh", _fresh_spec(checkpoints_then_fails))
    with pytest.raises(RuntimeError):
        run_pipeline(_changed_recipe(tiny_recipe), run_dir, only=["fresh"])
    assert "name: changed" in (run_dir.root / "recipe.yaml").read_text()
    assert run_dir.read_manifest()["seed"] == 7
