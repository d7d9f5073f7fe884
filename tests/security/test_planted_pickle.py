"""A planted pickle in any file tunesmith loads from a run folder is refused, never executed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tunesmith.errors import UserError


class Planted:
    """Unpickling this would create `marker` (what an attacker's payload would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"optimizer": Planted(marker)}))


def _one_line(exc: UserError) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


@pytest.fixture
def trained(tmp_path, tiny_model_dir):
    """A tiny model with a LoRA adapter, its optimizer and scheduler, and a saved checkpoint."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.train.checkpoint import save_checkpoint

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    model(torch.tensor([[1, 2, 3]]), labels=torch.tensor([[1, 2, 3]])).loss.backward()
    optimizer.step()
    scheduler.step()
    folder = tmp_path / "run" / "train" / "checkpoints"
    save_checkpoint(folder, model, optimizer, scheduler, {"step": 1})
    return model, optimizer, scheduler, folder


def test_clean_checkpoint_round_trips_with_weights_only(trained):
    from tunesmith.train.checkpoint import load_checkpoint

    model, optimizer, scheduler, folder = trained
    assert (folder / "latest" / "trainable.safetensors").is_file()
    assert load_checkpoint(folder, model, optimizer, scheduler) == {"step": 1}
    assert optimizer.state_dict()["state"]  # AdamW moments restored


@pytest.mark.parametrize("name", ["optim.pt", "trainable.safetensors"])
def test_planted_checkpoint_file_is_refused(trained, tmp_path, name):
    from tunesmith.train.checkpoint import load_checkpoint

    model, optimizer, scheduler, folder = trained
    marker = tmp_path / "pwned"
    plant(folder / "latest" / name, marker)
    with pytest.raises(UserError) as info:
        load_checkpoint(folder, model, optimizer, scheduler)
    assert name in _one_line(info.value) and "refused" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("method", "folder", "weights", "config"),
    [
        ("lora", "adapter", "adapter_model.bin", "adapter_config.json"),
        ("full", "model", "pytorch_model.bin", "config.json"),
    ],
)
def test_planted_model_weights_are_refused(
    tmp_path, tiny_model_dir, method, folder, weights, config
):
    from transformers import AutoModelForCausalLM

    from tunesmith.artifacts import RunDir
    from tunesmith.config.training import training_config
    from tunesmith.evaluate.stage import with_adapter

    run_dir = RunDir(tmp_path / "run")
    target = run_dir.train / folder
    marker = tmp_path / "pwned"
    plant(target / weights, marker)
    (target / config).write_text("{}")
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with pytest.raises(UserError) as info:
        with_adapter(base, run_dir, training_config(method=method))
    assert "safetensors" in _one_line(info.value) and weights in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("method", "name", "damage"),
    [
        ("lora", "adapter_config.json", b"{broken"),
        ("lora", "adapter_model.safetensors", bytes(range(200))),
        ("full", "config.json", b"{broken"),
        ("full", "model.safetensors", None),  # cut short: the header no longer covers the file
    ],
)
def test_damaged_saved_result_names_the_file(tmp_path, tiny_model_dir, method, name, damage):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.artifacts import RunDir
    from tunesmith.config.training import training_config
    from tunesmith.evaluate.stage import with_adapter

    run_dir = RunDir(tmp_path / "run")
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    if method == "lora":
        folder = run_dir.train / "adapter"
        get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(folder)
        base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))  # peft wrapped the first
    else:
        folder = run_dir.train / "model"
        base.save_pretrained(folder)
    file = folder / name
    file.write_bytes(damage if damage is not None else file.read_bytes()[:-100])
    with pytest.raises(UserError, match="damaged run file") as info:
        with_adapter(base, run_dir, training_config(method=method))
    assert f"{file}" in _one_line(info.value)


@pytest.mark.parametrize("loader", ["pretrain-weights", "group-member"])
def test_other_run_folder_loads_check_files_the_same_way(tmp_path, loader):
    """Domain pre-training's weights and a group member's adapter are read from run folders
    too: a damaged file there is the same one line, not peft's traceback."""
    from types import SimpleNamespace

    from tunesmith.artifacts import RunDir
    from tunesmith.config.training import training_config
    from tunesmith.ensemble.merge import _adapter
    from tunesmith.models.base import apply_weights

    run_dir = RunDir(tmp_path / "run")
    folder = run_dir.train / "adapter"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{broken")
    (folder / "adapter_model.safetensors").write_bytes(b"x" * 200)
    with pytest.raises(UserError, match="damaged run file") as info:
        if loader == "pretrain-weights":
            apply_weights(None, folder, "run the pretrain stage")
        else:
            member = SimpleNamespace(
                run_dir=run_dir, recipe=SimpleNamespace(training=training_config())
            )
            _adapter(member)
    assert "adapter_config.json" in _one_line(info.value)


def test_load_state_refuses_any_pickle_with_code(tmp_path):
    from tunesmith.models.safe_files import load_state

    marker = tmp_path / "pwned"
    plant(tmp_path / "x.pt", marker)
    with pytest.raises(UserError, match="refused"):
        load_state(tmp_path / "x.pt")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["manifest.json", "eval/compare.json", "train/metrics.jsonl"])
def test_damaged_json_run_file_is_one_clear_error(tmp_path, name):
    from tunesmith.artifacts import RunDir
    from tunesmith.artifacts.files import read_json, read_jsonl

    run_dir = RunDir(tmp_path)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"ok": 1}\n{"step": 1, "loss": \n')
    read = read_jsonl if name.endswith(".jsonl") else read_json
    with pytest.raises(UserError, match="damaged run file") as info:
        run_dir.read_manifest() if name == "manifest.json" else read(path)
    assert name.split("/")[-1] in _one_line(info.value)


@pytest.mark.parametrize(
    ("name", "where"),
    [("manifest.json", "manifest.json:2"), ("eval/predictions/test.tuned.jsonl", "tuned.jsonl:2")],
)
def test_run_file_that_is_not_utf8_names_file_and_line(tmp_path, name, where):
    from tunesmith.artifacts import RunDir
    from tunesmith.artifacts.files import read_jsonl

    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"ok": 1}\n\xff\xfe{"a": 1}\n')
    with pytest.raises(UserError, match="damaged run file, not UTF-8 text") as info:
        RunDir(tmp_path).read_manifest() if name == "manifest.json" else read_jsonl(path)
    assert where in _one_line(info.value)
