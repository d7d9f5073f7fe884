"""Two real processes under torchrun (gloo, CPU), or launched by `accelerate launch`, train like
one with the same global batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tunesmith.artifacts import read_jsonl
from tunesmith.errors import UserError

LOSS_TOLERANCE = 1e-5  # relative: float32 sums in another order


def _recipe(folder: Path, tiny_model_dir, accumulation: int) -> Path:
    from conftest import make_records, write_jsonl

    data = write_jsonl(folder / "data.jsonl", make_records(48))
    recipe = {
        "task": "summarization",
        "model": {"name": str(tiny_model_dir), "precision": "fp32", "threads": 1},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": "synopsis",
            "split": {"validation": 4, "test": 4},
        },
        "training": {
            "max_steps": 4,
            "batch_size": 4,
            "gradient_accumulation": accumulation,
            "learning_rate": 1e-2,
            "eval_every": 2,
            "max_seq_length": 64,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},  # dropout would draw per process
        },
        "evaluation": {"generation": {"max_new_tokens": 2}},
        "tracking": {"energy": {"enabled": False}},
    }
    path = folder / f"recipe-{accumulation}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def _launch(*args, processes: int, accelerate: bool = False):
    bin_dir = Path(sys.executable).parent
    if accelerate:  # `accelerate launch --multi_gpu` passes through to torchrun, also on CPU
        launcher = [bin_dir / "accelerate", "launch", "--multi_gpu", "--num_machines=1"]
        launcher += ["--mixed_precision=no", "--dynamo_backend=no", f"--num_processes={processes}"]
    else:
        launcher = [bin_dir / "torchrun", "--standalone", f"--nproc-per-node={processes}"]
    command = [*launcher, "-m", "tunesmith.cli", *args]
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, timeout=600)


def _losses(run: Path) -> dict[int, float]:
    return {
        r["step"]: r["loss"] for r in read_jsonl(run / "train" / "metrics.jsonl") if "loss" in r
    }


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tmp_path, tiny_model_dir):
    one = _launch("run", _recipe(tmp_path, tiny_model_dir, 2), "-o", tmp_path / "one", processes=1)
    assert one.returncode == 0, one.stderr[-2000:]
    recipe = _recipe(tmp_path, tiny_model_dir, 1)
    two = _launch("run", recipe, "-o", tmp_path / "two", processes=2)
    assert two.returncode == 0, two.stderr[-2000:]
    single, double = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert sorted(double) == [1, 2, 3, 4]  # each step logged once: only rank 0 writes
    assert double == pytest.approx(single, rel=LOSS_TOLERANCE)
    assert (tmp_path / "two" / "train" / "adapter" / "adapter_config.json").is_file()
    again = _launch("run", recipe, "-o", tmp_path / "two", processes=2)  # all stages skipped
    assert again.returncode == 0, again.stderr[-2000:]
    assert "stage train: unchanged, skipped" in again.stdout + again.stderr
    launched = _launch("run", recipe, "-o", tmp_path / "acc", processes=2, accelerate=True)
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert _losses(tmp_path / "acc") == pytest.approx(single, rel=LOSS_TOLERANCE)


def test_resume_with_another_world_size_is_refused(tmp_path, monkeypatch, tiny_model_dir):
    import torch

    from tunesmith.train.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer)
    monkeypatch.setenv("WORLD_SIZE", "2")
    save_checkpoint(tmp_path, model, optimizer, scheduler, {"step": 3})
    assert load_checkpoint(tmp_path, model, optimizer, scheduler) == {"step": 3}
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(UserError, match="written by a 2-process run, resumed with 1"):
        load_checkpoint(tmp_path, model, optimizer, scheduler)


def test_torchrun_needs_a_named_run_folder(tmp_path, tiny_model_dir, monkeypatch):
    from tunesmith.cli.run_cmd import run_recipe

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="--output: required under torchrun"):
        run_recipe(_recipe(tmp_path, tiny_model_dir, 1), None, tmp_path)


def test_one_process_is_untouched(monkeypatch):
    from tunesmith.train.distributed import my_share, sync_gradients

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert list(my_share(iter([[1], [2], [3]]))) == [[1], [2], [3]]
    assert sync_gradients([], 6.0, 3) == (6.0, 3)


def test_each_rank_takes_every_other_micro_batch(monkeypatch):
    from tunesmith.train.distributed import my_share

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert list(my_share(iter([["a"], ["b"], ["c"], ["d"]]))) == [[], ["b"], [], ["d"]]


def test_a_rank_whose_peer_died_stops_in_one_line(monkeypatch):
    """gloo's error when the other rank was killed mid-step was a traceback on this rank."""
    import torch.distributed as dist

    from tunesmith.errors import UserError
    from tunesmith.train import distributed

    def peer_gone(*args, **kwargs):
        raise RuntimeError(
            "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error "
            "[127.0.0.1]:1941: Connection reset by peer. This is typically caused by a remote "
            "worker hanging or bugs in the application."
        )

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(distributed, "_group_ready", lambda: True)
    monkeypatch.setattr(dist, "all_reduce", peer_gone)
    with pytest.raises(UserError) as lost:
        distributed.sync_gradients([], 6.0, 3)
    assert str(lost.value) == (
        "rank 1: lost the other training processes (Read error [127.0.0.1]:1941: Connection "
        "reset by peer); if one was stopped or died, run the same torchrun command again to "
        "resume"
    )
    assert lost.value.exit_code == 1  # not the user's input
