"""A crash during training resumes from the last checkpoint and ends where an unbroken run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline


class Crash(Exception):
    pass


def test_interrupted_training_resumes_to_identical_adapter(tmp_path, tiny_recipe, monkeypatch):
    import torch
    from safetensors.torch import load_file

    recipe = load_recipe(
        tiny_recipe(
            **{
                "training": {
                    "max_steps": 12,
                    "batch_size": 4,
                    "eval_every": 4,
                    "learning_rate": 5e-3,
                    "max_seq_length": 96,
                    "lora": {"r": 4, "alpha": 8, "dropout": 0.1},
                }
            }
        )
    )
    clean = RunDir(tmp_path / "clean")
    run_pipeline(recipe, clean)

    from tunesmith.train import loop

    original = loop.Trainer._optimizer_step

    def crash_at_step_10(self, batches):
        if self.state.step == 9:
            raise Crash
        return original(self, batches)

    broken = RunDir(tmp_path / "broken")
    monkeypatch.setattr(loop.Trainer, "_optimizer_step", crash_at_step_10)
    with pytest.raises(Crash):
        run_pipeline(recipe, broken)
    assert (broken.train / "checkpoints" / "latest" / "state.json").is_file()
    logged = [r["step"] for r in read_jsonl(broken.train / "metrics.jsonl") if "loss" in r]
    assert logged == list(range(1, 10))
    monkeypatch.setattr(loop.Trainer, "_optimizer_step", original)

    outcome = run_pipeline(recipe, broken)
    assert outcome["data"] == "skipped" and outcome["train"] == "ran"
    history = read_jsonl(broken.train / "metrics.jsonl")
    assert [r["step"] for r in history if "loss" in r] == list(range(1, 13))
    reference = read_jsonl(clean.train / "metrics.jsonl")
    assert [(r["step"], sorted(r)) for r in history] == [(r["step"], sorted(r)) for r in reference]
    for ours, theirs in zip(history, reference, strict=True):
        key = "loss" if "loss" in ours else "val_ppl"
        assert ours[key] == pytest.approx(theirs[key], rel=1e-5)
    a = load_file(clean.train / "adapter" / "adapter_model.safetensors")
    b = load_file(broken.train / "adapter" / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_kill_9_during_training_loses_nothing(tmp_path, tiny_recipe):
    path = tiny_recipe(
        **{
            "training": {
                "max_steps": 400,
                "batch_size": 2,
                "eval_every": 50,
                "checkpoint_every": 5,
                "max_seq_length": 96,
            }
        }
    )
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tunesmith.cli", "run", str(path), "--output", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "train" / "checkpoints" / "latest" / "state.json"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists(), "training finished or failed before it could be killed"
    data_before = (out / "data" / "train.jsonl").read_bytes()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "data" / "train.jsonl").read_bytes() == data_before
    steps = [r["step"] for r in read_jsonl(out / "train" / "metrics.jsonl") if "loss" in r]
    assert steps == list(range(1, 401))
    assert '"resumed": true' in (out / "train" / "summary.json").read_text()
