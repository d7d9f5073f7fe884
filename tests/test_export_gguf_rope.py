"""GGUF export of Llama 3.1+ rotary scaling (rope_type llama3): the rope_freqs tensor llama.cpp
divides its rotary angles by, checked against transformers' own llama3 rope init function;
other scaled rotary embeddings refused in one line (tiny random models, no hub)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from export_helpers import LLAMA3, split_bpe_tokenizer, tiny_causal_lm

from tunesmith.errors import UserError
from tunesmith.export.gguf_vocab import LLAMA3_SPLIT

SIZES = {"head_dim": 64, "max_position_embeddings": 131072}


def _transformers_divisors(config) -> np.ndarray:
    """Unscaled / llama3-scaled inverse frequencies, both from transformers' rope functions."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    default = ROPE_INIT_FUNCTIONS.get("default")  # transformers 4.x; 5.x: the model's own
    default = default or LlamaRotaryEmbedding.compute_default_rope_parameters
    scaled, attention_scaling = ROPE_INIT_FUNCTIONS["llama3"](config)
    assert attention_scaling == 1.0  # nothing but the frequencies to carry over
    return (default(config)[0] / scaled).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tunesmith.export.gguf_file import write_gguf

    folder = tmp_path_factory.mktemp("llama32")
    tokenizer = split_bpe_tokenizer(folder, LLAMA3_SPLIT, ignore_merges=True)
    model = tiny_causal_lm(folder, "llama", tokenizer, rope_parameters=dict(LLAMA3), **SIZES)
    path = folder / "model-f16.gguf"
    write_gguf(model, folder, path, "f16", ("my-run", "tiny"))
    return model, tokenizer, path


def test_rope_freqs_are_transformers_llama3_scaling(exported):
    import gguf

    model, _, path = exported
    reader = gguf.GGUFReader(str(path))
    tensor = next(t for t in reader.tensors if t.name == "rope_freqs.weight")
    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
    written = np.asarray(tensor.data)
    expected = _transformers_divisors(model.config)
    assert written.shape == expected.shape == (SIZES["head_dim"] // 2,)
    assert np.allclose(written, expected, rtol=1e-6, atol=0)
    kept, slowed = written == 1.0, written == np.float32(LLAMA3["factor"])
    assert kept.sum() >= 2 and slowed.sum() >= 2 and (~kept & ~slowed).sum() == 3


def test_llama3_writes_the_keys_llama_cpps_converter_writes(exported):
    """No rope.scaling.* key (llama.cpp's own scaling then stays 1: rope_freqs carries it),
    the full context length, the base and the rotary width."""
    import gguf

    model, _, path = exported
    fields = {name: f.contents() for name, f in gguf.GGUFReader(str(path)).fields.items()}
    assert not [name for name in fields if ".rope.scaling." in name]
    assert fields["llama.context_length"] == SIZES["max_position_embeddings"]
    assert fields["llama.rope.freq_base"] == LLAMA3["rope_theta"]
    assert fields["llama.rope.dimension_count"] == SIZES["head_dim"]


def test_the_round_trip_runs_the_scaled_frequencies(exported):
    """transformers' GGUF loader skips rope_freqs; tunesmith's round trip (what evaluates the
    export) divides by it as llama.cpp does, so it runs the tuned model's frequencies."""
    import torch

    from tunesmith.export.gguf_file import gguf_roundtrip

    model, tokenizer, path = exported
    loaded = gguf_roundtrip(path)
    tuned = model.model.rotary_emb.inv_freq
    assert torch.allclose(loaded.model.rotary_emb.inv_freq, tuned, rtol=1e-6, atol=0)
    ids = torch.tensor([tokenizer("I've 12345 apples, it's 3.14 -- DON'T").input_ids])
    with torch.no_grad():
        expected, got = model(ids).logits, loaded(ids).logits
    assert (got - expected).abs().max() / expected.abs().max() < 0.01  # f16 rounding only


def test_transformers_4_configs_are_read_the_same():
    """transformers 4.x kept the scaling in config.rope_scaling, rope_theta beside it."""
    from transformers import LlamaConfig

    from tunesmith.export.gguf_rope import rope_freqs_tensor

    sizes = {"hidden_size": 32, "num_attention_heads": 4, **SIZES}
    legacy = {key: value for key, value in LLAMA3.items() if key != "rope_theta"}
    old = SimpleNamespace(model_type="llama", rope_scaling=legacy, rope_theta=5e5, **sizes)
    new = LlamaConfig(rope_parameters=dict(LLAMA3), **sizes)
    assert np.array_equal(rope_freqs_tensor(old), rope_freqs_tensor(new))
    assert rope_freqs_tensor(LlamaConfig(**sizes)) is None  # default rotary: no tensor


@pytest.mark.parametrize(
    ("model_type", "rope"),
    [
        ("llama", {"rope_type": "linear", "factor": 2.0}),
        ("llama", {"rope_type": "dynamic", "factor": 2.0}),
        ("llama", {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096}),
        ("qwen2", {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096}),
        ("qwen2", LLAMA3),  # llama.cpp reads rope_freqs for llama models only
    ],
    ids=["linear", "dynamic", "yarn-legacy-key", "qwen2-yarn", "qwen2-llama3"],
)
def test_other_scaled_rotary_embeddings_are_refused_in_one_line(tmp_path, model_type, rope):
    from tunesmith.export.gguf_file import check_exportable

    split_bpe_tokenizer(tmp_path, LLAMA3_SPLIT, ignore_merges=True)
    config = SimpleNamespace(model_type=model_type, rope_scaling=rope, max_position_embeddings=8)
    kind = rope.get("rope_type", rope.get("type"))
    with pytest.raises(UserError, match=f"not rope_type '{kind}'") as refused:
        check_exportable(config, tmp_path)
    assert "\n" not in str(refused.value)
    unscaled = SimpleNamespace(model_type=model_type, rope_scaling=None)
    assert check_exportable(unscaled, tmp_path) == "llama-bpe"


def test_llama3_settings_without_a_factor_are_refused(tmp_path):
    from tunesmith.export.gguf_file import check_exportable

    split_bpe_tokenizer(tmp_path, LLAMA3_SPLIT, ignore_merges=True)
    rope = {key: value for key, value in LLAMA3.items() if key != "high_freq_factor"}
    config = SimpleNamespace(model_type="llama", rope_parameters=rope, max_position_embeddings=8)
    with pytest.raises(UserError, match="'llama3' settings lack high_freq_factor"):
        check_exportable(config, tmp_path)


def test_validate_refuses_a_yarn_model_with_gguf_export_before_training(
    tiny_recipe, tiny_model_dir, tmp_path
):
    """The recipe asks for GGUF and the model's rotary scaling cannot be written: refused by
    the pre-flight (exit 2, one line), not after hours of training; llama3 passes."""
    from test_cli import assert_user_error, tunesmith

    model = tmp_path / "yarn-llama"
    shutil.copytree(tiny_model_dir, model)
    config = json.loads((model / "config.json").read_text())  # transformers 5: rope_parameters
    rope = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 256}
    (model / "config.json").write_text(json.dumps({**config, "rope_parameters": rope}))
    model_section = {"name": str(model), "precision": "fp32"}
    recipe = tiny_recipe(model=model_section, export={"formats": ["gguf"]})
    assert_user_error(tunesmith("validate", recipe), "not rope_type 'yarn'", "merged or int8")
    rope = {**LLAMA3, "original_max_position_embeddings": 256}  # a Hub config's key
    (model / "config.json").write_text(json.dumps({**config, "rope_scaling": rope}))
    done = tunesmith("validate", recipe)
    assert done.returncode == 0, done.stderr
    assert "export: ok (gguf)" in done.stderr  # validate's report goes to stderr
