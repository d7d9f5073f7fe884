"""A run group whose member fails: refused before training where the pre-flight can tell,
else recorded while the members that trained are still compared; one command per folder."""

from __future__ import annotations

import json

import pytest
from group_helpers import group_recipe

from tunesmith.errors import UserError

SEEDS = {"members": {"seeds": [0, 1, 2]}}
LORA_MODULES = "training.lora.target_modules"


def run_cli(path, out, monkeypatch, capsys) -> tuple[int, list[str]]:
    """`tunesmith group path -o out` in this process: (exit code, stderr lines)."""
    from tunesmith.cli.main import main

    monkeypatch.setattr("sys.argv", ["tunesmith", "group", str(path), "-o", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return exit_info.value.code, err.splitlines()


def failing(monkeypatch, names: set[str], exc: BaseException, fake=frozenset()) -> list[str]:
    """Members named in `names` fail at once with `exc`; returns the members started (not
    the shared curation, which runs the pipeline's data stage too)."""
    from tunesmith import pipeline

    real, started = pipeline.run_pipeline, []

    def run(recipe, run_dir, **kwargs):
        if run_dir.root.parent.name == "members":
            started.append(run_dir.root.name)
        if run_dir.root.name in names:
            raise exc
        if run_dir.root.name in fake:  # "finished" without training
            return {}
        return real(recipe, run_dir, **kwargs)

    monkeypatch.setattr(pipeline, "run_pipeline", run)
    return started


def test_a_variant_that_cannot_train_is_refused_before_any_member_trains(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    variants = [
        {"training.lora.r": 2},
        {"training.lora.r": 4},
        {"training.lora.target_modules": ["nope_proj"]},
    ]
    group = {
        "members": {"variants": variants},
        "ensembles": ["mbr"],
        "merges": [{"method": "linear"}],
    }
    path = group_recipe(tmp_path, tiny_model_dir, group)
    code, lines = run_cli(path, tmp_path / "g", monkeypatch, capsys)
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 2 and errors == lines[-1:], lines
    assert errors[0].startswith("error: group member variant-2: training.lora.target_modules:")
    assert "['nope_proj'] match no module" in errors[0]
    assert not (tmp_path / "g").exists()  # nothing trained, nothing written


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            {"training.lora.use_dora": True},
            "error: group.merges: member variant-1 uses use_dora: DoRA magnitude vectors are "
            "not combined by peft",
        ),
        (
            {"training.method": "ia3"},
            "error: group.merges: the members train with method ia3; merging needs LoRA",
        ),
    ],
    ids=["dora", "ia3"],
)
def test_an_adapter_that_cannot_merge_is_refused_before_any_member_trains(
    tmp_path, tiny_model_dir, monkeypatch, capsys, variant, expected
):
    """A DoRA member trained with the others and the command then failed at the merge,
    exit 2, the ensembles computed but no compare.json or report (the recipe tells it)."""
    first = {"training.method": "ia3"} if "training.method" in variant else {}
    group = {"members": {"variants": [first, variant]}, "merges": [{"method": "linear"}]}
    started = failing(monkeypatch, set(), RuntimeError())
    code, lines = run_cli(
        group_recipe(tmp_path, tiny_model_dir, group), tmp_path / "g", monkeypatch, capsys
    )
    assert (code, started) == (2, []), lines
    assert lines[-1].startswith(expected), lines


@pytest.fixture(scope="module")
def one_failed(tmp_path_factory, tiny_model_dir):
    """Three seeds, seed-2 failing on bad input: (folder, exit code, stderr lines)."""
    tmp_path = tmp_path_factory.mktemp("failed")
    merges = [{"method": "linear"}, {"method": "ties", "weights": [0.5, 0.3, 0.2]}]
    path = group_recipe(tmp_path, tiny_model_dir, {**SEEDS, "merges": merges})
    with pytest.MonkeyPatch.context() as monkeypatch:
        capsys = _Capture()
        monkeypatch.setattr("sys.stderr", capsys.err)
        failing(monkeypatch, {"seed-2"}, UserError("data.train: bad row in member data"))
        code, lines = run_cli(path, tmp_path / "g", monkeypatch, capsys)
    return tmp_path / "g", path, code, lines


class _Capture:
    """capsys for a module-scoped fixture: stderr into a buffer."""

    def __init__(self):
        import io

        self.err = io.StringIO()

    def readouterr(self):
        from types import SimpleNamespace

        return SimpleNamespace(err=self.err.getvalue())


def test_a_failed_member_is_recorded_and_the_command_exits_2_naming_it(one_failed):
    out, _, code, lines = one_failed
    assert code == 2
    assert lines[-1].startswith("error: group member failed: seed-2 (data.train: bad row")
    record = json.loads((out / "group.json").read_text())
    status = {m["name"]: (m["status"], m.get("error")) for m in record["members"]}
    assert status == {
        "seed-0": ("done", None),
        "seed-1": ("done", None),
        "seed-2": ("failed", "data.train: bad row in member data"),
    }


def test_the_members_that_trained_are_still_ensembled_merged_and_reported(one_failed):
    out, _, _, _ = one_failed
    compare = json.loads((out / "compare.json").read_text())
    assert compare["members"] == ["seed-0", "seed-1"]
    assert compare["failed_members"] == {
        "seed-2": {"error": "data.train: bad row in member data", "kind": "user"}
    }
    assert {"ensemble_mbr", "ensemble_likelihood", "merge_linear"} <= set(compare["rows"])
    assert compare["merges"]["merge_linear"]["rank"] == 8  # two rank-4 members, not three
    # weights written for three members: which two to keep is the user's choice, not ours
    assert "merge_ties" not in compare["rows"]
    assert "seed-2 failed" in compare["skipped"]["merge_ties"]
    page = (out / "report.html").read_text()
    assert "Failed members" in page and "bad row in member data" in page


def test_with_one_member_left_ensembles_and_merges_are_skipped_and_a_crash_exits_1(
    one_failed, monkeypatch, capsys
):
    """Re-run: seed-0 and seed-1 are finished (skipped); seed-1 and seed-2 now crash."""
    out, path, _, _ = one_failed
    failing(monkeypatch, {"seed-1", "seed-2"}, RuntimeError("CUDA error: device lost"))
    code, lines = run_cli(path, out, monkeypatch, capsys)
    assert code == 1  # a crash, not bad input: a bug to report
    assert lines[-1].startswith("error: group members failed: seed-1 (RuntimeError: CUDA error")
    compare = json.loads((out / "compare.json").read_text())
    assert compare["members"] == ["seed-0"]
    assert set(compare["rows"]) == {"base", "seed-0"}
    why = "needs at least 2 members; 1 trained"
    assert compare["skipped"]["ensemble_mbr"] == why and compare["skipped"]["merge_linear"] == why
    assert "RuntimeError" in (out / "members/seed-1/logs/group-failure.log").read_text()


@pytest.mark.parametrize("lost", [False, True], ids=["ctrl-c", "ctrl-c-turned-into-an-error"])
def test_ctrl_c_in_a_member_stops_the_group_at_once(tmp_path, tiny_model_dir, monkeypatch, lost):
    from tunesmith import interrupts
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import run_group

    exc = RuntimeError("wrapped by a library") if lost else KeyboardInterrupt()
    recipe = load_recipe(group_recipe(tmp_path, tiny_model_dir, SEEDS))
    started = failing(monkeypatch, {"seed-1"}, exc)
    if lost:  # the handler recorded a Ctrl-C in seed-1; a library raised something else
        monkeypatch.setattr(interrupts, "_requested", _SetAfter(started, 2))
    with pytest.raises(KeyboardInterrupt):
        run_group(recipe, tmp_path / "g")
    assert started == ["seed-0", "seed-1"]  # seed-2 never started
    assert not (tmp_path / "g" / "group.json").exists()


def test_ctrl_c_in_the_last_member_is_not_recorded_as_its_failure(
    tmp_path, tiny_model_dir, monkeypatch
):
    from tunesmith import interrupts
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import run_group

    recipe = load_recipe(group_recipe(tmp_path, tiny_model_dir, SEEDS))
    exc = RuntimeError("wrapped by a library")
    started = failing(monkeypatch, {"seed-2"}, exc, fake={"seed-0", "seed-1"})
    monkeypatch.setattr(interrupts, "_requested", _SetAfter(started, 3))
    with pytest.raises(KeyboardInterrupt):
        run_group(recipe, tmp_path / "g")
    assert not (tmp_path / "g" / "group.json").exists()


class _SetAfter:
    """interrupts._requested, set once `count` members have started."""

    def __init__(self, started: list[str], count: int):
        self.started, self.count = started, count

    def is_set(self) -> bool:
        return len(self.started) >= self.count


def test_a_second_group_command_on_the_same_folder_is_refused_at_once(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    from tunesmith.artifacts.lock import RunLock

    path = group_recipe(tmp_path, tiny_model_dir, SEEDS)
    out = tmp_path / "g"
    out.mkdir()
    started = failing(monkeypatch, set(), RuntimeError())
    with RunLock(out):  # the first command, still running
        code, lines = run_cli(path, out, monkeypatch, capsys)
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 2 and errors == lines[-1:], lines
    assert errors[0].startswith(f"error: run folder {out} is in use by pid")
    assert started == [] and sorted(p.name for p in out.iterdir()) == [".lock"]


def test_an_ensemble_the_task_lacks_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """It was refused only at the comparison: after the curated data and every member."""
    path = group_recipe(tmp_path, tiny_model_dir, {**SEEDS, "ensembles": ["mbr", "majority"]})
    started = failing(monkeypatch, set(), RuntimeError())
    code, lines = run_cli(path, tmp_path / "g", monkeypatch, capsys)
    expected = (
        "error: group.ensembles: 'majority' (majority vote) does not apply to this "
        "summarization task"
    )
    assert (code, lines[-1]) == (2, expected), lines
    assert started == [] and not (tmp_path / "g").exists()


def test_validate_refuses_an_ensemble_the_task_lacks(tmp_path, tiny_model_dir):
    from tunesmith.config import load_recipe
    from tunesmith.preflight import preflight

    path = group_recipe(tmp_path, tiny_model_dir, {**SEEDS, "ensembles": ["probability"]})
    with pytest.raises(UserError, match="'probability' .* does not apply to this summarization"):
        preflight(load_recipe(path), None)
    ok = group_recipe(tmp_path, tiny_model_dir, {**SEEDS, "ensembles": ["likelihood"]})
    assert "group.ensembles: ok (likelihood)" in preflight(load_recipe(ok), None)


def test_validate_checks_every_member_as_group_does(tmp_path, tiny_model_dir, capsys):
    """`tunesmith validate` passed a group whose variant names a module the model lacks, which
    `tunesmith group` then refused: validate checked the group recipe, not its members."""
    from tunesmith.cli.validate_cmd import validate_recipe

    variants = {"members": {"variants": [{"training.lora.r": 2}, {"training.lora.r": 8}]}}
    validate_recipe(group_recipe(tmp_path, tiny_model_dir, variants), tmp_path / "runs")
    said = capsys.readouterr()
    assert "group members: ok (variant-0, variant-1)" in said.out + said.err
    bad = {"members": {"variants": [{"training.lora.r": 2}, {LORA_MODULES: ["nope_proj"]}]}}
    with pytest.raises(UserError, match=r"^group member variant-1: training\.lora\.target_"):
        validate_recipe(group_recipe(tmp_path, tiny_model_dir, bad), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # validate writes nothing


def test_the_group_lock_is_taken_before_the_pre_flight(tmp_path, tiny_model_dir, monkeypatch):
    """Two commands on one folder could both pass the pre-flight, then race."""
    from tunesmith.artifacts.lock import RunLock
    from tunesmith.config import load_recipe
    from tunesmith.group import driver

    checked = []
    monkeypatch.setattr(driver, "preflight_members", lambda *a: checked.append(a))
    recipe = load_recipe(group_recipe(tmp_path, tiny_model_dir, SEEDS))
    out = tmp_path / "g"
    out.mkdir()
    with RunLock(out), pytest.raises(UserError, match=f"run folder {out} is in use by pid"):
        driver.run_group(recipe, out)
    assert checked == []


def test_a_refused_recipe_leaves_an_existing_group_folder_as_it_was(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    variants = {"variants": [{}, {"training.lora.target_modules": ["nope_proj"]}]}
    path = group_recipe(tmp_path, tiny_model_dir, {"members": variants})
    out = tmp_path / "a" / "g"
    code, lines = run_cli(path, out, monkeypatch, capsys)  # folder and its parent made: removed
    assert code == 2 and "variant-1" in lines[-1] and not (tmp_path / "a").exists()
    (out / "members").mkdir(parents=True)
    (out / "group.json").write_text("{}")
    code, _ = run_cli(path, out, monkeypatch, capsys)  # the folder was there: it stays
    assert code == 2 and (out / "group.json").read_text() == "{}"
    assert {p.name for p in out.iterdir()} - {".lock"} == {"group.json", "members"}


def test_a_rerun_leaves_no_ensemble_merge_or_comparison_it_did_not_rebuild(
    tmp_path, tiny_model_dir, monkeypatch
):
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import run_group

    group = {"members": {"seeds": [0, 1]}, "ensembles": ["mbr"], "merges": [{"method": "linear"}]}
    path = group_recipe(tmp_path, tiny_model_dir, group)
    out = tmp_path / "g"
    run_group(load_recipe(path), out)
    assert (out / "ensembles/predictions/test.mbr.jsonl").is_file()
    assert (out / "merges/merge_linear/adapter").is_dir()
    # the recipe no longer lists them: they were left beside the new comparison
    recipe = load_recipe(path, ["group.ensembles=[likelihood]", "group.merges=[]"])
    assert run_group(recipe, out)["ensembles"] == ["ensemble_likelihood"]
    built = sorted(p.name for p in (out / "ensembles/predictions").iterdir())
    assert built == ["test.likelihood.jsonl"] and not (out / "merges").exists()
    # no member trains now: the last comparison was left as if it were this one's
    failing(monkeypatch, {"seed-0", "seed-1"}, UserError("data.train: bad row"))
    assert run_group(recipe, out)["members"] == []
    left = [n for n in ("ensembles", "merges", "compare.json", "report.html") if (out / n).exists()]
    assert left == []
    assert (out / "members/seed-0/train/adapter").is_dir()  # the members' work is kept


def _counting_reads(monkeypatch) -> dict[str, int]:
    """How often the pre-flight loads a tokenizer and reads a data file."""
    import transformers

    from tunesmith.data import stage

    counts = {"tokenizer": 0, "data": 0}
    tokenizer, records = transformers.AutoTokenizer.from_pretrained, stage.read_records

    def load(*args, **kwargs):
        counts["tokenizer"] += 1
        return tokenizer(*args, **kwargs)

    def read(path, *args):
        counts["data"] += 1
        return records(path, *args)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", load)
    monkeypatch.setattr(stage, "read_records", read)
    return counts


def test_members_alike_share_the_pre_flights_reads(tmp_path, tiny_model_dir, monkeypatch):
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import group_members, preflight_members, with_group
    from tunesmith.models import targets

    path = group_recipe(tmp_path, tiny_model_dir, SEEDS)
    recipe = with_group(load_recipe(path, ["training.lora.target_modules=[q_proj, v_proj]"]))
    counts = _counting_reads(monkeypatch)
    built, skeleton = [], targets._skeleton
    monkeypatch.setattr(targets, "_skeleton", lambda f: built.append(f) or skeleton(f))
    preflight_members(recipe, group_members(recipe, tmp_path / "g"))
    # each was once per member: three tokenizers, three reads, three architectures
    assert counts == {"tokenizer": 1, "data": 1} and len(built) == 1


def test_members_differing_in_data_are_each_checked_on_their_own(
    tmp_path, tiny_model_dir, monkeypatch
):
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import group_members, preflight_members, with_group

    variants = [{}, {"data.max_examples": 12}]  # 12 records cannot give val 8 and test 10
    path = group_recipe(tmp_path, tiny_model_dir, {"members": {"variants": variants}})
    recipe = with_group(load_recipe(path))
    counts = _counting_reads(monkeypatch)
    with pytest.raises(UserError, match="^group member variant-1: data.split"):
        preflight_members(recipe, group_members(recipe, tmp_path / "g"))
    assert counts == {"tokenizer": 1, "data": 2}
