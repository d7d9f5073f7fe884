"""Distillation on the tiny random Llama (made 4 blocks deep here): student built from the
teacher's blocks, top-k targets stored once, losses, rows, and the refusals."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from export_helpers import small_recipe

from tunesmith.artifacts import RunDir
from tunesmith.pipeline import run_pipeline

STAGES = ["data", "train", "distill", "evaluate", "report"]
REPLAY_ROWS = [{"prompt": f"Define word {i}.", "response": f"meaning {i}"} for i in range(6)]


def _recipe(folder, model_dir, distill: dict):
    return small_recipe(folder, model_dir, distill=distill)


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, tiny_model_dir):
    import contextlib
    import io

    from conftest import write_jsonl

    from tunesmith.config.overrides import override_recipe

    folder = tmp_path_factory.mktemp("distill-run")
    recipe = _recipe(folder, tiny_model_dir, {"student_layers": 1, "top_k": 8, "loss": "jsd"})
    replay = write_jsonl(folder / "general.jsonl", REPLAY_ROWS)
    values = {
        # every row (42-45 tokens) is longer: the distillation's cut is counted
        "training.max_seq_length": 40,
        # the students train with the train stage's batch plan (checked below)
        "training.curriculum": {"scorer": "random", "start_fraction": 0.5},
        "training.replay": {"share": 0.5, "file": str(replay)},
    }
    recipe = override_recipe(recipe, values)
    run_dir = RunDir(folder / "out")
    console = io.StringIO()
    with contextlib.redirect_stderr(console):
        outcome = run_pipeline(recipe, run_dir, only=STAGES)
    return recipe, run_dir, outcome, console.getvalue()


def test_student_copies_evenly_spaced_teacher_blocks(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from tunesmith.distill.student import shallow_copy, spread

    assert spread(30, 3) == [0, 14, 29] and spread(4, 1) == [0] and spread(4, 4) == [0, 1, 2, 3]
    teacher = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    student = shallow_copy(teacher, [1])
    assert student.config.num_hidden_layers == 1 and teacher.config.num_hidden_layers == 2
    kept = student.model.layers[0].mlp.up_proj.weight
    assert torch.equal(kept, teacher.model.layers[1].mlp.up_proj.weight)
    assert kept.data_ptr() != teacher.model.layers[1].mlp.up_proj.weight.data_ptr()


@pytest.mark.parametrize("name", ["forward_kl", "reverse_kl", "jsd"])
def test_losses_are_zero_for_equal_distributions_and_positive_otherwise(name):
    import torch

    from tunesmith.distill.losses import SoftTargets

    logits = torch.randn(5, 50)
    top = torch.log_softmax(logits, -1).topk(8, -1)
    batch = {"soft_ids": top.indices, "soft_logp": top.values}
    soft = SoftTargets(name, temperature=2.0, alpha=0.5)
    assert soft.loss(logits, batch).item() == pytest.approx(0.0, abs=1e-5)
    assert soft.loss(torch.randn(5, 50), batch).item() > 0.01


def test_forward_kl_matches_the_textbook_formula():
    import torch
    import torch.nn.functional as F

    from tunesmith.distill.losses import SoftTargets

    teacher, student = torch.randn(3, 6), torch.randn(3, 6)
    top = torch.log_softmax(teacher, -1).topk(6, -1)  # k = vocabulary: plain KL
    batch = {"soft_ids": top.indices, "soft_logp": top.values}
    t = 3.0
    expected = (
        F.kl_div(
            F.log_softmax(student / t, -1),
            F.log_softmax(teacher / t, -1),
            log_target=True,
            reduction="sum",
        )
        * t
        * t
    )
    got = SoftTargets("forward_kl", t, 0.5).loss(student, batch)
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)


def test_teacher_targets_are_stored_once_per_supervised_token(distilled):
    from safetensors.torch import load_file

    _, run_dir, *_ = distilled
    targets = load_file(run_dir.root / "distill" / "teacher_topk.safetensors")
    assert targets["ids"].shape == targets["logp"].shape and targets["ids"].shape[1] == 8
    assert int(targets["offsets"][-1]) == targets["ids"].shape[0]
    assert (targets["logp"] <= 0).all()


def test_students_are_shallower_trained_and_scored_against_the_teacher(distilled):
    _, run_dir, *_ = distilled
    summary = json.loads((run_dir.root / "distill" / "summary.json").read_text())
    assert summary["teacher"]["blocks"] == 2
    for name in ("distilled", "labels_only"):
        assert summary[name]["blocks"] == 1 and summary[name]["steps"] == 4
        assert summary[name]["bytes"] < summary["teacher"]["bytes"]
    log = (run_dir.root / "distill" / "distilled" / "metrics.jsonl").read_text()
    assert '"soft"' in log
    assert '"soft"' not in (run_dir.root / "distill" / "labels_only" / "metrics.jsonl").read_text()
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    for row in ("student_distilled", "student_labels_only"):
        assert compare["rows"][row]["metrics"]
        assert any((c["a"], c["b"]) == (row, "tuned") for c in compare["comparisons"])
    pair = ("student_labels_only", "student_distilled")
    gain = next(c for c in compare["comparisons"] if (c["a"], c["b"]) == pair)
    ppl = gain["metrics"]["perplexity"]
    assert ppl["ci_low"] <= ppl["delta"] <= ppl["ci_high"]


def test_students_train_with_the_curriculum_and_replay_and_targets_cover_replay(distilled):
    from safetensors.torch import load_file

    _, run_dir, *_ = distilled
    summary = json.loads((run_dir.root / "distill" / "summary.json").read_text())
    assert (summary["train_examples"], summary["replay_examples"]) == (28, len(REPLAY_ROWS))
    assert summary["curriculum"]["scorer"] == "random" and summary["curriculum"]["examples"] == 28
    # the teacher's targets cover the replay rows too: the distilled student's loss has them
    targets = load_file(run_dir.root / "distill" / "teacher_topk.safetensors")
    assert len(targets["offsets"]) == 28 + len(REPLAY_ROWS) + 1


def test_student_plan_weights_rows_by_class_and_mixes_replay(tmp_path, tiny_model_dir):
    from conftest import write_jsonl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.artifacts import write_json
    from tunesmith.config.training import training_config
    from tunesmith.distill.train import student_plan, train_student
    from tunesmith.train.batching import ReplayMix

    rows = [{"prompt": f"p{i}", "response": "ab"[i % 2], "label": "ab"[i % 2]} for i in range(6)]
    write_jsonl(tmp_path / "train.jsonl", rows)
    write_json(tmp_path / "class_weights.json", {"a": 0.5, "b": 2.0})
    replay = write_jsonl(tmp_path / "general.jsonl", REPLAY_ROWS)
    cfg = training_config(
        method="full", max_steps=2, batch_size=2, replay={"share": 0.5, "file": str(replay)}
    )
    student = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    plan, val = student_plan(cfg, student, tokenizer, tmp_path, tmp_path)
    assert [item.weight for item in plan.items[:6]] == [0.5, 2.0] * 3
    assert plan.train_count == 6 and len(plan.items) == 6 + len(REPLAY_ROWS) and val == []
    assert isinstance(plan.sampler, ReplayMix)
    # and the student's loop draws its batches from that plan
    asked, mixed = [], plan.sampler

    class Recording:
        def batches(self, skip: int):
            asked.append(skip)
            return mixed.batches(skip)

    plan.sampler = Recording()
    model = SimpleNamespace(threads=1, device="cpu", precision="fp32")
    state = train_student(
        SimpleNamespace(model=model), cfg, student, plan, val, tokenizer, tmp_path / "s"
    )
    assert state.step == 2 and asked == [0]


def test_a_student_deeper_than_the_teacher_is_refused_before_training(tmp_path, tiny_model_dir):
    from test_cli import assert_user_error, tunesmith

    _recipe(tmp_path, tiny_model_dir, {"student_layers": 3})
    # `run` calls the same pre-flight before its data stage (preflight.py)
    done = tunesmith("validate", tmp_path / "recipe.yaml")
    assert_user_error(done, "distill.student_layers: 3 is deeper than the teacher's 2 blocks")


def test_the_stage_refuses_it_too_when_called_on_a_finished_run(tmp_path, distilled):
    from tunesmith.config.overrides import override_recipe
    from tunesmith.distill.stage import run
    from tunesmith.errors import UserError

    recipe, run_dir, *_ = distilled
    deeper = override_recipe(recipe, {"distill.student_layers": 3})
    with pytest.raises(UserError, match="3 is deeper than the teacher's 2 blocks"):
        run(deeper, run_dir)
    assert (run_dir.root / "distill" / "summary.json").is_file()  # nothing written is lost


def _other_vocabulary(tmp_path, tiny_model_dir):
    """A copy of the tiny model whose tokenizer has one token more."""
    import shutil

    from transformers import AutoTokenizer

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    tokenizer = AutoTokenizer.from_pretrained(other)
    tokenizer.add_tokens(["<extra>"])
    tokenizer.save_pretrained(other)
    return other


def test_a_student_with_another_vocabulary_is_refused(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.distill.student import make_student
    from tunesmith.errors import UserError

    other = _other_vocabulary(tmp_path, tiny_model_dir)
    teacher = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = _recipe(tmp_path, tiny_model_dir, {"student_model": str(other)}).distill
    with pytest.raises(UserError, match="another vocabulary than the teacher"):
        make_student(config, teacher, AutoTokenizer.from_pretrained(tiny_model_dir))


def test_loss_names_equal_the_registry():
    from typing import get_args

    from tunesmith.config.export import DistillLoss
    from tunesmith.distill.losses import LOSSES

    assert sorted(get_args(DistillLoss)) == LOSSES.names()


def test_the_rows_max_seq_length_cut_are_counted_and_said(distilled):
    """The distill stage cut its rows (teacher targets, both students) without a word."""
    _, run_dir, _, console = distilled
    summary = json.loads((run_dir.root / "distill" / "summary.json").read_text())
    assert summary["truncation"] == {
        "rows": 28,
        "cut": 28,
        "prompt_cut": 28,
        "answer_cut": 0,
        "max_seq_length": 40,
    }
    said = " ".join(console.split())
    assert "distillation: 28 of 28 rows (100%) longer than max_seq_length 40 were cut" in said


def test_report_has_the_distillation_table(distilled):
    _, run_dir, *_ = distilled
    page = (run_dir.report / "report.html").read_text()
    table = page[page.index('<h2 id="distill">') :].split("</table>")[0]
    assert table.count("<tr>") == 4  # header, teacher, labels only, distilled
    assert "<td>distilled</td>" in table and '<td class="num">1</td>' in table
    assert 'id="distill-gain">Distilled minus labels-only student' in page


@pytest.fixture
def copied(distilled, tmp_path):
    """A copy of the distilled run folder to fail on, and its distill/ folder."""
    import shutil

    run = shutil.copytree(distilled[1].root, tmp_path / "run")
    return run, run / "distill"


def _failing_student(monkeypatch, student: str, error: BaseException) -> None:
    """`student`'s second optimizer step raises `error` (its first step is logged)."""
    from tunesmith.train import loop

    real = loop.Trainer._optimizer_step

    def failing(self, batches):
        if self.out.name == student and self.state.step == 1:
            raise error
        return real(self, batches)

    monkeypatch.setattr(loop.Trainer, "_optimizer_step", failing)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("out of memory")])
@pytest.mark.parametrize("earlier", [True, False], ids=["over a finished one", "first"])
def test_a_distillation_failing_before_a_checkpoint_leaves_the_run_as_it_was(
    copied, monkeypatch, error, earlier
):
    """Before, the new student's first steps were appended to the finished one's log (and a
    first distillation left distill/ with the teacher's targets and a student's log)."""
    import shutil

    from test_evaluate_export_failures import snapshot

    from tunesmith.cli.export_cmd import distill

    run, folder = copied
    if not earlier:
        shutil.rmtree(folder)
    before = snapshot(run)
    _failing_student(monkeypatch, "distilled", error)
    with pytest.raises(type(error)):
        distill(run)
    assert snapshot(run) == before


def test_a_distillation_failing_after_a_checkpoint_resumes_and_moves_students_in_together(
    copied, monkeypatch
):
    """The labels-only student fails after the distilled one finished: before, the distilled
    student's new weights were already in place beside the previous summary.json. Now no
    student moves in until both and the summary are written; the checkpoints stay, and the
    same command resumes and finishes."""
    from tunesmith.cli.export_cmd import distill

    run, folder = copied
    _failing_student(monkeypatch, "labels_only", RuntimeError("out of memory"))
    with pytest.raises(RuntimeError):
        distill(run)
    assert not (folder / "summary.json").exists()
    assert not (folder / "distilled" / "model").exists()
    assert (folder / "distilled" / "checkpoints").is_dir()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".distill")]
    monkeypatch.undo()
    distill(run)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["distilled"]["steps"] == summary["labels_only"]["steps"] == 4
    assert (folder / "labels_only" / "model" / "model.safetensors").is_file()
    assert not list(folder.glob("*/checkpoints")) and not list(folder.glob("*/best"))


def test_a_refused_student_leaves_no_distill_folder(copied, tiny_model_dir):
    """The vocabulary refusal came after distill/ was made: an empty folder was left."""
    import shutil

    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.config.overrides import override_recipe
    from tunesmith.distill.stage import run as run_distill
    from tunesmith.errors import UserError

    run, folder = copied
    shutil.rmtree(folder)
    other = _other_vocabulary(run.parent, tiny_model_dir)
    recipe = override_recipe(
        load_recipe(run / "recipe.yaml"), {"distill.student_model": str(other)}
    )
    with pytest.raises(UserError, match="another vocabulary than the teacher"):
        run_distill(recipe, RunDir(run))
    assert not folder.exists()
