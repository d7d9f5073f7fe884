"""The training pass budget (train/pass_budget.py): how many padded tokens one forward pass may
hold, from the model's shape and the machine's memory, and the loop's use of it."""

from __future__ import annotations

import pytest
import torch

from tests.test_perf_invariants import PAD, _items, _lora, _tiny_llama
from tunesmith.train import pass_budget
from tunesmith.train.pass_budget import activation_bytes_per_token, pass_token_budget

GIB = 2**30


def _saved_activation_bytes(model, batch, precision: str) -> int:
    """Bytes autograd keeps for backward in one training pass, parameters excluded."""
    from tunesmith.models.nll import supervised_nll
    from tunesmith.train.fastpath import fast_training

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with fast_training(model):
        model.train()
        with autocast, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            nll, _ = supervised_nll(model, batch)
    del nll
    return sum(storages.values())


def _smollm_shaped(layers: int = 2):
    """A random model with the default model's layer shapes (SmolLM2-135M: hidden 576,
    MLP 1536, 9 query / 3 key-value heads), fewer layers and a small vocabulary."""
    return _tiny_llama(
        vocab_size=256,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=512,
    )


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_the_estimate_covers_what_training_keeps_without_overshooting(precision):
    """The budget is only as good as the estimate: it must not undercount what a pass keeps
    for backward (the default model's shapes, LoRA r 16 with dropout on every linear layer, as
    the demo), nor waste speed by overcounting it by half."""
    from peft import LoraConfig, get_peft_model

    from tunesmith.models.nll import collate

    model = _smollm_shaped()
    if precision == "bf16":
        model = model.to(torch.bfloat16)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")
    model = get_peft_model(model, lora)
    items = [
        item
        for seed in range(3)
        for item in _items(lengths=(96, 90, 96), prompt_share=0.8, seed=seed, vocab=256)
    ]
    batch = collate(items, PAD)
    tokens = batch["input_ids"].numel()
    measured = _saved_activation_bytes(model, batch, precision) / tokens
    estimated = activation_bytes_per_token(model, precision, batch["input_ids"].shape[1])
    assert measured <= estimated <= 1.5 * measured, (measured, estimated)


def test_bigger_models_and_fp32_get_fewer_tokens_per_pass():
    small = _tiny_llama()
    big = _tiny_llama()
    big.config.hidden_size *= 4
    big.config.intermediate_size *= 4
    memory = 32 * 2**20  # a tiny model: a small machine, so that the share binds
    bf16 = pass_token_budget(small, "bf16", 64, memory=memory)
    assert pass_token_budget(small, "fp32", 64, memory=memory) == pytest.approx(bf16 / 2, abs=1)
    assert pass_token_budget(big, "bf16", 64, memory=memory) < bf16 / 3
    per_token = activation_bytes_per_token(small, "bf16", 64)
    expected = min(pass_budget.MAX_TOKENS, int(memory * pass_budget.MEMORY_SHARE // per_token))
    assert bf16 == expected


def test_the_machine_memory_share_and_the_cap_bound_the_budget():
    model = _tiny_llama()  # with TinyLlama-1.1B's shapes: ~3.7 MB of activations per token
    model.config.hidden_size, model.config.intermediate_size = 2048, 5632
    model.config.num_hidden_layers, model.config.num_attention_heads = 22, 32
    per_token = activation_bytes_per_token(model, "bf16", 512)
    small_machine = pass_token_budget(model, "bf16", 512, memory=4 * GIB)
    big_machine = pass_token_budget(model, "bf16", 512, memory=256 * GIB)
    assert small_machine == int(GIB // per_token)  # a quarter of 4 GiB
    assert pass_budget.MIN_TOKENS < small_machine < big_machine
    # the cap alone never takes a pass below the old fixed budget: the machine's memory can
    assert big_machine == pass_budget.FALLBACK_TOKENS
    tiny_machine = pass_token_budget(model, "bf16", 512, memory=GIB)
    assert tiny_machine == max(pass_budget.MIN_TOKENS, int(GIB / 4 // per_token))


def test_a_model_without_a_readable_shape_keeps_the_old_budget():
    class Opaque(torch.nn.Module):
        config = None

    assert pass_token_budget(Opaque(), "bf16", 256) == pass_budget.FALLBACK_TOKENS


def _trainer(tmp_path, config, items, **kwargs):
    from tunesmith.tracking import JsonlTracker
    from tunesmith.train.loop import Trainer

    model = _lora(_tiny_llama(), dropout=0.0)
    tracker = JsonlTracker(tmp_path / "m.jsonl")
    return Trainer(model, config, items, [], PAD, tmp_path, tracker, precision="fp32", **kwargs)


def test_the_loop_runs_a_batch_whole_when_it_fits_and_cuts_it_when_the_recipe_says(tmp_path):
    from tunesmith.config.training import training_config

    items = _items(lengths=(12, 12, 11, 12), prompt_share=0.5)
    config = training_config(batch_size=4, max_steps=1, eval_every=10**6)
    whole = _trainer(tmp_path / "a", config, items)
    assert whole.token_budget >= 4 * 12
    assert [piece["input_ids"].shape[0] for piece in next(whole._micro_batches(0))] == [4]
    limited = config.model_copy(update={"tokens_per_pass": 24})
    cut = _trainer(tmp_path / "b", limited, items)
    assert cut.token_budget == 24
    assert [piece["input_ids"].shape[0] for piece in next(cut._micro_batches(0))] == [2, 2]


def test_the_default_model_runs_the_demo_batches_whole_in_bf16_and_fp32():
    """SmolLM2-135M's shapes at max_seq_length 256 on a 24 GiB machine: passes hold the demo's
    median batch (8 x ~130 tokens) in bf16 and, at twice the bytes, in fp32."""
    model = _tiny_llama()
    model.config.hidden_size, model.config.intermediate_size = 576, 1536
    model.config.num_hidden_layers, model.config.num_attention_heads = 30, 9
    bf16 = pass_token_budget(model, "bf16", 256, memory=24 * GIB)
    assert (
        8 * 130 < bf16 == int(pass_budget.MEMORY_CAP // (30 * (19 * 576 + 5 * 1536 + 9 * 256) * 2))
    )
    # fp32: the same tokens (the cap counts values), twice the bytes, within a quarter of 24 GiB
    fp32 = pass_token_budget(model, "fp32", 256, memory=24 * GIB)
    assert fp32 == bf16
    assert fp32 * activation_bytes_per_token(model, "fp32", 256) < 24 * GIB / 4
    # ... and on an 8 GiB laptop its quarter of the RAM binds first
    laptop = pass_token_budget(model, "fp32", 256, memory=8 * GIB)
    assert laptop == int(2 * GIB // activation_bytes_per_token(model, "fp32", 256)) < bf16


def test_a_container_limit_below_the_ram_is_the_memory(tmp_path):
    """Inside a container psutil reports the host's RAM; the cgroup's limit is what the run
    may use (v2 `memory.max`, v1 `memory.limit_in_bytes`); "max", an unlimited v1 value, a
    missing or unreadable file leave the RAM."""
    import psutil

    ram = int(psutil.virtual_memory().total)
    v2, v1, garbage = tmp_path / "memory.max", tmp_path / "limit_in_bytes", tmp_path / "bad"
    v2.write_text("max\n")
    v1.write_text("9223372036854771712\n")
    garbage.write_bytes(b"\xff\xfe")
    missing = str(tmp_path / "absent")
    assert pass_budget.total_memory((str(v2), str(v1), str(garbage), missing)) == ram
    v2.write_text(f"{2 * GIB}\n")
    assert pass_budget.total_memory((str(v2), str(v1))) == min(ram, 2 * GIB)
    v1.write_text(f"{GIB}\n")
    assert pass_budget.total_memory((str(v2), str(v1))) == min(ram, GIB)
