"""Outputs shared across runs on one machine (evaluate/output_store.py, evaluate/reuse.py): a
second run folder with the same base model and prompts computes no baseline again, with the
same predictions and NLLs; other weights, `reuse: run` and `off` compute anew."""

from __future__ import annotations

import shutil

import pytest
from test_generation_reuse import _counting

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.artifacts.files import read_json
from tunesmith.config import load_recipe
from tunesmith.config.overrides import override_recipe
from tunesmith.evaluate.output_store import OutputStore, outputs_root
from tunesmith.pipeline import run_pipeline

STAGES = ["data", "train", "evaluate"]


def _recipe(tiny_recipe, **overrides):
    settings = {"training.max_steps": 2, "evaluation.sample_size": 6, **overrides}
    return load_recipe(tiny_recipe(**settings))


def _rows(run_dir: RunDir, name: str) -> list[dict]:
    return read_jsonl(run_dir.eval / "predictions" / f"test.{name}.jsonl")


def test_a_second_run_takes_the_baselines_from_the_first(tmp_path, tiny_recipe, monkeypatch):
    recipe = _recipe(tiny_recipe)
    first, second = RunDir(tmp_path / "a"), RunDir(tmp_path / "b")
    asked = _counting(monkeypatch)
    run_pipeline(recipe, first, only=STAGES)
    assert asked[:2] == [6, 6]  # base, few-shot: all generated in the first run
    asked.clear()
    run_pipeline(recipe, second, only=STAGES)
    assert asked[:2] == [0, 0]  # ... and none in the second
    for name in ("base", "few_shot"):
        before, after = _rows(first, name), _rows(second, name)
        assert [r["prediction"] for r in after] == [r["prediction"] for r in before]
        assert [r["scores"]["nll"] for r in after] == [r["scores"]["nll"] for r in before]
        assert [r["scores"]["tokens"] for r in after] == [r["scores"]["tokens"] for r in before]
        assert {r.get("reused") for r in after} == {"machine"}
        assert all("reused" not in r for r in before)
    reused = read_json(second.eval / "compare.json")["reused"]
    assert reused["base"] == {"machine": 6} and reused["few_shot"] == {"machine": 6}
    run_pipeline(recipe, second, only=["report"])
    page = (second.report / "report.html").read_text("utf-8")
    assert "base model (zero-shot) 6 from an earlier run on this machine" in page


def test_reuse_run_and_off_compute_anew(tmp_path, tiny_recipe, monkeypatch):
    recipe = _recipe(tiny_recipe)
    asked = _counting(monkeypatch)
    run_pipeline(recipe, RunDir(tmp_path / "a"), only=STAGES)
    asked.clear()
    only_run = override_recipe(recipe, {"evaluation.reuse": "run"}, "test")
    run_pipeline(only_run, RunDir(tmp_path / "b"), only=STAGES)
    assert asked == [6, 6, 6]
    asked.clear()
    off = override_recipe(recipe, {"evaluation.reuse": "off"}, "test")
    run_pipeline(off, RunDir(tmp_path / "b"), only=["evaluate"])  # not even this folder's
    assert asked == [6, 6, 6]


def test_other_weights_are_another_model(tmp_path, tiny_recipe, tiny_model_dir, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    recipe = _recipe(tiny_recipe, **{"model.name": str(model_dir)})
    asked = _counting(monkeypatch)
    run_pipeline(recipe, RunDir(tmp_path / "a"), only=STAGES)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        model.model.norm.weight.mul_(1.5)  # same name, same config: other weights
    model.save_pretrained(model_dir)
    asked.clear()
    run_pipeline(recipe, RunDir(tmp_path / "b"), only=STAGES)
    assert asked[:2] == [6, 6]


def test_a_damaged_store_line_is_skipped(tmp_path, caplog):
    store = OutputStore(tmp_path, "abc")
    store.add({"k1": {"prediction": "one", "nll": 1.5, "tokens": 3}})
    with open(store.path, "ab") as handle:
        handle.write(b'{"key": "k2", "predic\n\xff\xfe\n')  # a run killed mid-write
    store.add({"k3": {"prediction": "three", "nll": None, "tokens": None}})
    loaded = OutputStore(tmp_path, "abc").load()
    assert loaded == {
        "k1": {"prediction": "one", "nll": 1.5, "tokens": 3},
        "k3": {"prediction": "three", "nll": None, "tokens": None},
    }
    assert "2 damaged line(s) skipped" in caplog.text


def test_a_record_appended_after_a_cut_line_is_kept(tmp_path, caplog):
    """A run killed mid-append leaves a line without its end; the next run's first record was
    appended onto it, and both were lost as one damaged line."""
    store = OutputStore(tmp_path, "abc")
    store.add({"k1": {"prediction": "one", "nll": 1.5, "tokens": 3}})
    with open(store.path, "ab") as handle:
        handle.write(b'{"key": "k2", "predic')  # killed here: no newline
    store.add({"k3": {"prediction": "three", "nll": None, "tokens": None}})
    assert set(OutputStore(tmp_path, "abc").load()) == {"k1", "k3"}
    assert "1 damaged line(s) skipped" in caplog.text


def test_an_unwritable_store_costs_time_not_the_run(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    OutputStore(blocker / "outputs", "abc").add({"k": {"prediction": "p"}})
    assert "outputs not kept for later runs" in caplog.text


@pytest.mark.parametrize(("value", "expected"), [("off", None), ("/x/y", "/x/y")])
def test_the_store_folder_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("TUNESMITH_OUTPUTS", value)
    root = outputs_root()
    assert (str(root) if root else None) == expected


def test_cache_command_shows_and_clears_the_store(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tunesmith.cli.main import app

    monkeypatch.setenv("TUNESMITH_OUTPUTS", str(tmp_path))
    OutputStore(tmp_path, "a").add({"k1": {"prediction": "x"}, "k2": {"prediction": "y"}})
    OutputStore(tmp_path, "b").add({"k3": {"prediction": "z"}})
    shown = CliRunner().invoke(app, ["cache"])
    assert shown.exit_code == 0 and "3 saved outputs of 2 model(s)" in shown.output
    cleared = CliRunner().invoke(app, ["cache", "--clear"])
    assert cleared.exit_code == 0 and "removed 2 model file(s)" in cleared.output
    assert not list(tmp_path.iterdir())


def test_continuation_scores_are_taken_again(tmp_path, tiny_model_dir, monkeypatch):
    """The checks' likelihood probes (forgetting, bias): pairs scored once are read back."""
    from tunesmith.checks.likelihood import continuation_nll
    from tunesmith.evaluate.reuse import SavedOutputs
    from tunesmith.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(load_recipe_model(tiny_model_dir))
    pairs = [("A word:", " python"), ("", "a rust editor"), ("Which?", " shell")]
    scored = _counting_nll(monkeypatch)

    def saved():
        reuse = SavedOutputs("model-x", store=OutputStore(tmp_path, "model-x"))
        reuse.stored = reuse.store.load()
        return reuse

    first = continuation_nll(model, tokenizer, pairs, reuse=saved())
    again = continuation_nll(model, tokenizer, pairs + [("", "new")], reuse=saved())
    assert scored == [3, 1]  # only the new pair is scored the second time
    assert again[:3] == first and all(tokens > 0 for _, tokens in again)
    assert continuation_nll(model, tokenizer, pairs) == first  # same as without a store


def _counting_nll(monkeypatch) -> list[int]:
    """Patch the per-example NLL pass to count the items it is asked for (and still score)."""
    import tunesmith.models.nll as nll

    asked: list[int] = []
    real = nll.example_nll

    def counted(model, items, *args):
        asked.append(len(items))
        return real(model, items, *args)

    monkeypatch.setattr(nll, "example_nll", counted)
    return asked


def load_recipe_model(folder):
    from tunesmith.config.schema import ModelConfig

    return ModelConfig(name=str(folder), precision="fp32")


def test_an_unreadable_store_costs_time_not_the_run(tmp_path, caplog, monkeypatch):
    import tunesmith.evaluate.output_store as output_store

    store = OutputStore(tmp_path, "abc")
    store.add({"k": {"prediction": "p", "nll": None, "tokens": None}})

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path) + ".lock")

    monkeypatch.setattr(output_store, "_locked", refused)  # a read-only cache folder
    assert OutputStore(tmp_path, "abc").load() == {}
    assert "saved outputs not read" in caplog.text and "Permission denied" in caplog.text


def test_explain_takes_attributions_computed_for_the_same_model(tmp_path, monkeypatch):
    import tunesmith.checks.explain as explain
    from tunesmith.evaluate.reuse import SavedOutputs

    made: list[str] = []

    def attribute(model, tokenizer, prompt, target, spans=None, seen=None):
        made.append(prompt)
        return {
            "tokens": prompt.split(),
            "attributions": [0.5] * len(prompt.split()),
            "target": target,
        }

    monkeypatch.setattr(explain, "attribute", attribute)

    def saved(identity="tuned-x"):
        reuse = SavedOutputs(identity, store=OutputStore(tmp_path, identity))
        reuse.stored = reuse.store.load()
        return reuse

    spans, prompt = [(2, 5)], ("a b c", [1, 2, 3])
    first = explain._attributed(None, None, prompt, "t", saved(), spans)
    again = explain._attributed(None, None, prompt, "t", saved(), spans)
    assert again == first and made == ["a b c"]
    explain._attributed(None, None, prompt, "other target", saved(), spans)
    explain._attributed(None, None, prompt, "t", saved("another-model"), spans)
    explain._attributed(None, None, prompt, "t", saved(), None)  # other tokens attributed
    explain._attributed(None, None, prompt, "t", None, spans)  # evaluation.reuse: off
    explain._attributed(None, None, ("a b c", [1, 3]), "t", saved(), spans)  # cut otherwise
    assert made == ["a b c"] * 6


@pytest.mark.parametrize(("written", "meant"), [("off", "off"), ("on", "machine"), ("run", "run")])
def test_yaml_off_and_on_mean_the_modes(tiny_recipe, written, meant):
    """A bare `off` is YAML 1.1's false: in the recipe and in --set it still means `off`."""
    import yaml

    path = tiny_recipe()
    raw = yaml.safe_load(path.read_text("utf-8"))
    raw.setdefault("evaluation", {})["reuse"] = yaml.safe_load(written)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert load_recipe(path).evaluation.reuse == meant
    assert load_recipe(tiny_recipe(), [f"evaluation.reuse={written}"]).evaluation.reuse == meant


def test_a_hub_id_shares_no_outputs_across_runs(monkeypatch):
    """Its weights can change under the same name: no key could tell, so no store (and no
    second call to the hub to find out)."""
    import tunesmith.models.resolve as resolve
    from tunesmith.evaluate.output_store import environment, weights_fingerprint

    def no_hub(name, fetch=True):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(resolve, "resolve_model", no_hub)
    assert weights_fingerprint("HuggingFaceTB/SmolLM2-135M-Instruct") is None
    section = type("Section", (), {"name": "HuggingFaceTB/SmolLM2-135M-Instruct"})()
    assert environment(section, "fp32") is None


def test_a_record_already_stored_is_not_appended_again(tmp_path):
    from tunesmith.evaluate.reuse import SavedOutputs

    def saved():
        reuse = SavedOutputs("m", store=OutputStore(tmp_path, "m"))
        reuse.stored = reuse.store.load()
        return reuse

    record = {"prediction": "p", "nll": None, "tokens": None}  # a row the prefill did not score
    saved().keep({"k": record})
    saved().keep({"k": record, "k2": record})
    saved().keep({"k": {**record, "nll": 2.0, "tokens": 3}})  # the same key, now with its NLL
    lines = OutputStore(tmp_path, "m").path.read_text("utf-8").splitlines()
    assert len(lines) == 3
    assert saved().stored["k"] == {"prediction": "p", "nll": 2.0, "tokens": 3}


def _aged(store: OutputStore, seconds_ago: int) -> None:
    import os
    import time

    moment = time.time() - seconds_ago
    os.utime(store.path, (moment, moment))


def test_the_store_removes_the_least_recently_used_files_beyond_its_bound(tmp_path, monkeypatch):
    """Every tuned model and release is a new file: past TUNESMITH_OUTPUTS_MAX_MB the files
    used longest ago go, a file read since counts as used, and the one just written stays."""
    record = {"k": {"prediction": "x" * 400_000}}  # ~0.4 MB per file
    old, used, recent = (OutputStore(tmp_path, name) for name in ("old", "used", "recent"))
    for store, age in ((old, 300), (used, 200), (recent, 100)):
        store.add(record)
        _aged(store, age)
    assert OutputStore(tmp_path, "used").load()  # read now: the most recently used
    monkeypatch.setenv("TUNESMITH_OUTPUTS_MAX_MB", "1.0")
    newest = OutputStore(tmp_path, "newest")
    newest.add(record)  # 1.6 MB in all: the two least recently used go
    assert sorted(p.stem for p in tmp_path.glob("*.jsonl")) == sorted(
        [newest.path.stem, used.path.stem]
    )
    assert not old.path.with_name(old.path.name + ".lock").exists()
    monkeypatch.setenv("TUNESMITH_OUTPUTS_MAX_MB", "0.1")
    newest.add({"k2": {"prediction": "y"}})  # alone above the bound: the file written stays
    assert [p.stem for p in tmp_path.glob("*.jsonl")] == [newest.path.stem]
    assert newest.load()["k2"] == {"prediction": "y"}


@pytest.mark.parametrize("value", ["lots", "-5", "nan"])
def test_a_bad_store_bound_keeps_the_default(monkeypatch, caplog, value):
    from tunesmith.evaluate import output_store

    monkeypatch.setenv("TUNESMITH_OUTPUTS_MAX_MB", value)
    assert output_store.max_bytes() == output_store.MAX_MB * 10**6
    assert "is not a size in MB" in caplog.text


def test_a_second_run_scores_no_reference_again(tmp_path, tiny_recipe, monkeypatch):
    """References too long to score in the generation's prefill get their own NLL pass; the
    store keeps those NLLs too, so a second run runs no forward pass for them (and gets the
    same numbers)."""
    asked = _counting_nll(monkeypatch)
    # 40 tokens: prompt + reference no longer fits whole, so the NLL needs its own pass
    recipe = _recipe(tiny_recipe, **{"training.max_seq_length": 40})
    first, second = RunDir(tmp_path / "a"), RunDir(tmp_path / "b")
    run_pipeline(recipe, first, only=STAGES)
    assert sum(asked) > 0
    asked.clear()
    run_pipeline(recipe, second, only=STAGES)
    assert sum(asked) == 0
    for name in ("base", "few_shot"):
        before, after = _rows(first, name), _rows(second, name)
        assert [r["scores"]["nll"] for r in after] == [r["scores"]["nll"] for r in before]


def _lock_of(store: OutputStore):
    return store.path.with_name(store.path.name + ".lock")


def test_pruning_a_file_never_lets_two_runs_hold_its_lock(tmp_path, monkeypatch):
    """A run had opened a store file's lock file and was about to lock it when pruning removed
    the file and its lock file: it then locked the removed lock file, and a third run, which
    creates a new one at that name, took "the same" lock at once; two appends interleaved."""
    import fcntl
    import threading

    from tunesmith.evaluate.output_store import prune

    store = OutputStore(tmp_path, "pruned")
    store.add({"k": {"prediction": "x"}})
    real_flock = fcntl.flock
    opened, go, holding, done = (threading.Event() for _ in range(4))

    def flock(handle, operation):
        if threading.current_thread().name == "waiter" and not opened.is_set():
            opened.set()  # the waiter has its lock file open: prune now, then let it lock
            go.wait(10)
        return real_flock(handle, operation)

    def waiter():
        with store_lock(store.path):
            holding.set()
            done.wait(10)

    from tunesmith.models.cache import locked as store_lock

    monkeypatch.setattr(fcntl, "flock", flock)
    thread = threading.Thread(target=waiter, name="waiter")
    thread.start()
    try:
        assert opened.wait(10)
        assert prune(tmp_path, 0) == [store.path]
        go.set()
        assert holding.wait(10)
        # another run taking the file's lock now
        with open(_lock_of(store), "a") as third, pytest.raises(BlockingIOError):
            real_flock(third, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        go.set()
        done.set()
        thread.join(10)


def test_pruning_and_clearing_leave_no_lock_files(tmp_path, monkeypatch):
    """Lock files go with their store files (and one left by a run of older code without
    its file goes too), so the store folder does not fill with empty lock files."""
    from typer.testing import CliRunner

    from tunesmith.cli.main import app
    from tunesmith.evaluate.output_store import prune, remove_file

    orphan = tmp_path / "gone.jsonl.lock"
    orphan.write_text("")
    stores = [OutputStore(tmp_path, name) for name in ("a", "b")]
    for store in stores:
        store.add({"k": {"prediction": "x"}})
    prune(tmp_path, 10**9)  # nothing above the bound: only the orphan goes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name for store in stores for name in (store.path.name, _lock_of(store).name)
    )
    remove_file(stores[0].path, orphan_lock_only=True)  # its file is there: no orphan
    assert _lock_of(stores[0]).exists() and stores[0].path.exists()
    monkeypatch.setenv("TUNESMITH_OUTPUTS", str(tmp_path))
    assert CliRunner().invoke(app, ["cache", "--clear"]).exit_code == 0
    assert not list(tmp_path.iterdir())
