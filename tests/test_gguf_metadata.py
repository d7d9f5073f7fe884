"""GGUF metadata tunesmith writes: llama.cpp's pre-tokenizer name, shareable model names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tunesmith.errors import UserError

DIGITS_THEN_BYTE_LEVEL = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ],
}


def _with_pre_tokenizer(source: Path, target: Path, pre_tokenizer: dict) -> Path:
    shutil.copytree(source, target)
    path = target / "tokenizer.json"
    spec = json.loads(path.read_text())
    spec["pre_tokenizer"] = pre_tokenizer
    path.write_text(json.dumps(spec))
    return target


def _gguf_fields(path: Path) -> dict:
    import gguf

    reader = gguf.GGUFReader(str(path))
    return {name: field.contents() for name, field in reader.fields.items()}


@pytest.fixture(scope="module")
def written(tmp_path_factory, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from tunesmith.export.gguf_file import write_gguf

    path = tmp_path_factory.mktemp("gguf") / "model.gguf"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    write_gguf(model, tiny_model_dir, path, "f16", ("my-run", "tiny-llama"))
    return _gguf_fields(path)


def test_byte_level_tokenizer_is_named_gpt2_as_llama_cpp_spells_it(written):
    """It was "gpt2", a name llama.cpp's vocabulary loader does not know (it knows "gpt-2"):
    current llama.cpp then splits text another way than training did, older ones refuse."""
    assert written["tokenizer.ggml.pre"] == "gpt-2"
    assert written["tokenizer.ggml.model"] == "gpt2"  # the BPE model kind keeps its name


def test_general_name_is_the_given_name_not_a_local_path(written, tiny_model_dir):
    """general.name was config._name_or_path, the base model's local folder path."""
    assert written["general.name"] == "my-run"
    assert written["general.base_model.0.name"] == "tiny-llama"
    assert not any(str(tiny_model_dir) in str(value) for value in written.values())


def test_digits_then_byte_level_is_named_smollm(tmp_path, tiny_model_dir):
    """SmolLM / SmolLM2's Hub tokenizer: llama.cpp's "smollm" splits each digit off, then
    applies GPT-2's regex, as Digits(individual_digits) + ByteLevel does."""
    from tunesmith.export.gguf_file import pre_tokenizer_name

    folder = _with_pre_tokenizer(tiny_model_dir, tmp_path / "smol", DIGITS_THEN_BYTE_LEVEL)
    assert pre_tokenizer_name(folder) == "smollm"


@pytest.mark.parametrize(
    "pre_tokenizer",
    [
        {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": False}]},
    ],
)
def test_a_pre_tokenizer_llama_cpp_would_split_differently_is_refused(
    tmp_path, tiny_model_dir, pre_tokenizer
):
    from tunesmith.export.gguf_file import pre_tokenizer_name

    folder = _with_pre_tokenizer(tiny_model_dir, tmp_path / "other", pre_tokenizer)
    known = "GGUF export knows the byte-level BPE pre-tokenizers gpt-2, smollm, llama-bpe, qwen2"
    with pytest.raises(UserError, match=known):
        pre_tokenizer_name(folder)


def test_the_cached_default_model_tokenizer_is_gpt2():
    """transformers builds the default model's tokenizer from its GGUF as plain byte-level BPE
    (it has no "smollm" split), so that is what tunesmith trains with, and what the export
    names. SmolLM2's vocabulary has no merge holding a digit."""
    from tunesmith.export.gguf_file import pre_tokenizer_name
    from tunesmith.models.cache import cache_root

    folder = cache_root() / "smollm2-135m-instruct"
    if not (folder / "tokenizer.json").is_file():
        pytest.skip("default model not cached here")
    assert pre_tokenizer_name(folder) == "gpt-2"


@pytest.mark.parametrize(
    ("model_name", "public"),
    [
        ("smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ("HuggingFaceTB/SmolLM2-360M", "HuggingFaceTB/SmolLM2-360M"),
        ("/tmp/x/tiny", "tiny"),
        ("/tmp/x/tiny/", "tiny"),
        ("~/models/SmolLM2.Q8_0.gguf", "SmolLM2.Q8_0"),
    ],
)
def test_public_model_name_drops_local_paths(model_name, public):
    from tunesmith.models.naming import public_model_name

    assert public_model_name(model_name) == public


def test_a_relative_local_folder_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    from tunesmith.models.naming import base_hub_id, public_model_name

    (tmp_path / "models" / "tiny").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert base_hub_id("models/tiny") is None
    assert public_model_name("models/tiny") == "tiny"
