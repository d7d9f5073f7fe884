"""Every registered training method joins this matrix (counted from `METHODS.names()`):
it trains on the tiny model, the loss drops on a memorisable set, and its saved result
reloads with plain peft / transformers to the logits of the model tunesmith evaluates."""

from __future__ import annotations

import pytest

from tunesmith.config.methods import FreezeSettings
from tunesmith.config.training import METHOD_NAMES, TRAINING_MODELS, training_config
from tunesmith.errors import UserError
from tunesmith.methods import METHODS, build_trainable, describe, load_tuned, method_of

torch = pytest.importorskip("torch")

SETTINGS = {  # small, fast settings for the tiny model (methods absent here use defaults)
    "lora": {"lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
    "loha": {"loha": {"r": 4, "alpha": 8}},
    "prompt_tuning": {"prompt_tuning": {"num_virtual_tokens": 8}, "learning_rate": 3e-1},
    "freeze": {"freeze": {"train_top": 1}},
    "ia3": {"learning_rate": 2e-1},
}


def test_method_names_equal_the_schema():
    assert sorted(METHOD_NAMES) == METHODS.names()
    # the matrix below runs over the registry; these are the methods #11 ships
    assert {"lora", "ia3", "loha", "prompt_tuning", "full", "freeze"} <= set(METHODS.names())
    keys = {m.settings_key for m in TRAINING_MODELS} - {None}
    assert keys <= set(METHODS.names())


def _config(name, **extra):
    values = {
        "method": name,
        "epochs": 30,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "warmup_ratio": 0.0,
        "eval_every": 10**6,
    }
    return training_config(**{**values, **SETTINGS.get(name, {}), **extra})


def _tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _items(tokenizer, n=4):
    from conftest import make_records

    from tunesmith.models.formatting import encode_example

    rows = make_records(n)
    return [
        encode_example({"prompt": r["description"], "response": r["synopsis"]}, tokenizer, 64)
        for r in rows
    ]


@pytest.mark.parametrize("name", METHODS.names())
def test_method_learns_and_reloads_to_identical_logits(name, tiny_model_dir, tmp_path):
    from tunesmith.models.nll import collate, perplexity
    from tunesmith.tracking import JsonlTracker
    from tunesmith.train.loop import Trainer

    config = _config(name)
    model, tokenizer = _tiny(tiny_model_dir)
    model = build_trainable(model, config)
    items = _items(tokenizer)
    pad = tokenizer.pad_token_id
    before = perplexity(model, items, 4, pad)
    log = JsonlTracker(tmp_path / "m.jsonl")
    trainer = Trainer(model, config, items, [], pad, tmp_path, log, precision="fp32")
    trainer.run()
    assert trainer.state.step == 30
    losses = [r["loss"] for r in log.records()]
    assert sum(losses[-5:]) < 0.75 * sum(losses[:5]), losses[::10]
    assert perplexity(model, items, 4, pad) < 0.3 * before

    batch = collate(items, pad)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    model.eval()
    with torch.no_grad():
        trained = model(**inputs).logits  # what the training loop ended with, in memory
    method = method_of(config)
    method.save(model, tmp_path / method.artefact)
    base, _ = _tiny(tiny_model_dir)
    tuned = load_tuned(config, tmp_path, base)
    plain = _plain_load(method.artefact, tmp_path / method.artefact, tiny_model_dir)
    with torch.no_grad():
        expected = plain(**inputs).logits
        got = tuned(**inputs).logits
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    # and both are the trained model, so saving lost nothing a plain load would miss
    assert torch.allclose(expected, trained, atol=1e-4), (expected - trained).abs().max()
    line = describe(config)
    assert line and (name == "full" or line != describe(_config("full")))


def _plain_load(artefact, folder, tiny_model_dir):
    """The saved result as a user loads it: plain peft or plain transformers."""
    from transformers import AutoModelForCausalLM

    if artefact == "model":
        return AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    from peft import AutoPeftModelForCausalLM

    return AutoPeftModelForCausalLM.from_pretrained(str(folder)).eval()


def test_layers_to_transform_beyond_depth_names_the_key(tiny_model_dir):
    model, _ = _tiny(tiny_model_dir)
    config = _config("lora", lora={"layers_to_transform": [0, 2]})
    with pytest.raises(UserError, match=r"training\.lora\.layers_to_transform: block 2 .* 2 "):
        build_trainable(model, config)


def test_freeze_trains_only_the_top_blocks_and_rejects_all_blocks(tiny_model_dir):
    model, _ = _tiny(tiny_model_dir)
    build_trainable(model, _config("freeze", freeze={"train_top": 1, "train_head": False}))
    trained = {
        n.split(".")[2] for n, p in model.named_parameters() if p.requires_grad and ".layers." in n
    }
    assert trained == {"1"}
    assert model.model.norm.weight.requires_grad
    assert not model.model.embed_tokens.weight.requires_grad
    with pytest.raises(UserError, match=r"training\.freeze\.train_top: 2 >= .* 2 blocks"):
        build_trainable(model, _config("freeze", freeze=FreezeSettings(train_top=2)))


def test_dora_and_rslora_reach_peft(tiny_model_dir):
    model, _ = _tiny(tiny_model_dir)
    config = _config("lora", lora={"r": 4, "alpha": 8, "use_dora": True, "use_rslora": True})
    wrapped = build_trainable(model, config)
    peft_config = wrapped.peft_config["default"]
    assert peft_config.use_dora and peft_config.use_rslora
    layer = wrapped.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(8 / 4**0.5)
    assert "DoRA" in describe(config) and "rsLoRA" in describe(config)
