"""GGUF export of Qwen2 models and of Llama-3 / Qwen2 style tokenizers (a Split regex before
the bytes): written as llama.cpp's convert_hf_to_gguf.py writes them, read back through
transformers' GGUF loader and gguf-py's reader (tiny random models, no hub)."""

from __future__ import annotations

import json

import pytest
from export_helpers import split_bpe_tokenizer, tiny_causal_lm

from tunesmith.errors import UserError
from tunesmith.export.gguf_vocab import LLAMA3_SPLIT, QWEN2_SPLIT

TEXTS = [
    "Summarise: a python editor<|im_end|>",
    "I've 12345 apples, it's 3.14 -- DON'T\n\n  spaced\ttabs 7 77 777 7777",
]
TOKENIZERS = {  # model_type, pre-tokenizer name -> split regex, ignore_merges, NFC
    "llama-bpe": (LLAMA3_SPLIT, True, False),
    "qwen2": (QWEN2_SPLIT, False, True),
}
CASES = [  # model_type, tokenizer, tied embeddings
    ("qwen2", "qwen2", True),
    ("qwen2", "qwen2", False),
    ("llama", "llama-bpe", True),
]


def _fields(path) -> dict:
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {name: field.contents() for name, field in reader.fields.items()}
    return {**fields, "tensors": {t.name: t for t in reader.tensors}}


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits


@pytest.fixture(scope="module", params=CASES, ids=lambda c: "-".join(map(str, c)))
def exported(request, tmp_path_factory):
    from tunesmith.export.gguf_file import write_gguf

    model_type, pre, tied = request.param
    folder = tmp_path_factory.mktemp(f"{model_type}-{pre}")
    pattern, ignore_merges, nfc = TOKENIZERS[pre]
    tokenizer = split_bpe_tokenizer(folder, pattern, ignore_merges, nfc)
    model = tiny_causal_lm(folder, model_type, tokenizer, tied=tied, extra_rows=13)
    path = folder / "model-f16.gguf"
    write_gguf(model, folder, path, "f16", ("my-run", "tiny"))
    return request.param, model, tokenizer, path


def test_metadata_names_the_architecture_and_pre_tokenizer(exported):
    import gguf

    (model_type, pre, tied), model, tokenizer, path = exported
    fields = _fields(path)
    assert fields["general.architecture"] == model_type
    assert fields["general.type"] == "model"  # as convert_hf_to_gguf.py writes it
    assert fields["general.quantization_version"] == gguf.GGML_QUANT_VERSION
    assert fields["tokenizer.ggml.pre"] == pre
    # every embedding row has a token (Qwen2 pads its vocabulary), padding marked unused
    assert len(fields["tokenizer.ggml.tokens"]) == model.config.vocab_size
    assert fields["tokenizer.ggml.tokens"][-1] == f"[PAD{model.config.vocab_size - 1}]"
    # the tokenizer adds no BOS: said explicitly (llama.cpp's llama-bpe default adds one)
    assert fields["tokenizer.ggml.add_bos_token"] is False
    assert ("output.weight" in fields["tensors"]) is not tied


def test_qwen2_biases_are_written_and_q_k_are_not_permuted(exported):
    import numpy as np

    (model_type, _, _), model, _, path = exported
    if model_type != "qwen2":
        pytest.skip("llama has no biases")
    tensors = _fields(path)["tensors"]
    for part in ("q", "k", "v"):
        bias = getattr(model.model.layers[0].self_attn, f"{part}_proj").bias
        written = np.asarray(tensors[f"blk.0.attn_{part}.bias"].data)
        assert np.allclose(written, bias.detach().numpy())  # 1-D: f32, exact
    q = model.model.layers[0].self_attn.q_proj.weight.detach().numpy()
    written = np.asarray(tensors["blk.0.attn_q.weight"].data).astype(np.float32)
    assert np.allclose(written, q, atol=1e-3)  # f16 of the rows in Hugging Face's order


def test_round_trip_through_transformers_gives_the_same_logits_and_ids(exported):
    from transformers import AutoTokenizer

    from tunesmith.export.gguf_file import gguf_roundtrip

    _, model, tokenizer, path = exported
    loaded = gguf_roundtrip(path)
    from_gguf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    for text in TEXTS:
        ids = tokenizer(text).input_ids
        assert from_gguf(text).input_ids == ids
        expected = _logits(model, ids)
        error = (_logits(loaded, ids) - expected).abs().max()
        assert error / expected.abs().max() < 0.01  # f16 rounding only
        assert error > 0


def _edited(folder, tmp_path, edit):
    import shutil

    target = tmp_path / "edited"
    shutil.copytree(folder, target)
    spec = json.loads((target / "tokenizer.json").read_text())
    edit(spec)
    (target / "tokenizer.json").write_text(json.dumps(spec))
    return target


def _split(spec) -> dict:
    return spec["pre_tokenizer"]["pretokenizers"][0]


@pytest.mark.parametrize(
    "edit",
    [
        # Llama 3's regex with Qwen2's single digits spelled another way: not llama.cpp's
        lambda s: _split(s)["pattern"].update(Regex=QWEN2_SPLIT.replace(r"\p{N}|", r"\d|")),
        lambda s: _split(s).update(invert=True),
        lambda s: _split(s).update(behavior="Removed"),
        lambda s: s.update(normalizer={"type": "Lowercase"}),
        lambda s: s["model"].update(ignore_merges=True),  # llama.cpp's qwen2 merges every word
    ],
    ids=["other-regex", "inverted", "removed", "lowercase", "ignore-merges"],
)
def test_a_split_llama_cpp_does_not_reproduce_is_refused(tmp_path, edit):
    from tunesmith.export.gguf_vocab import pre_tokenizer_name

    split_bpe_tokenizer(tmp_path / "qwen", QWEN2_SPLIT, nfc=True)
    assert pre_tokenizer_name(tmp_path / "qwen") == "qwen2"
    with pytest.raises(UserError, match="GGUF export knows the byte-level BPE pre-tokenizers"):
        pre_tokenizer_name(_edited(tmp_path / "qwen", tmp_path, edit))


def test_a_tuned_qwen2_run_exports_to_gguf_from_the_cli(tmp_path):
    """The whole path: LoRA on a Qwen2 model with a Qwen2 tokenizer, merged, written as GGUF."""
    from export_helpers import small_recipe
    from typer.testing import CliRunner

    from tunesmith.artifacts import RunDir
    from tunesmith.cli.main import app
    from tunesmith.pipeline import run_pipeline

    model_dir = tmp_path / "tiny-qwen2"
    tokenizer = split_bpe_tokenizer(model_dir, QWEN2_SPLIT, nfc=True)
    tiny_causal_lm(model_dir, "qwen2", tokenizer, tied=True, extra_rows=13)
    recipe = small_recipe(tmp_path, model_dir)
    run_dir = RunDir(tmp_path / "out")
    run_pipeline(recipe, run_dir, only=["data", "train"])
    args = ["export", str(run_dir.root), "--format", "gguf", "--gguf-type", "q8_0"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    fields = _fields(run_dir.root / "export" / "model-q8_0.gguf")
    assert fields["general.architecture"] == "qwen2"
    assert fields["tokenizer.ggml.pre"] == "qwen2"
    assert "blk.1.attn_k.bias" in fields["tensors"]


def test_the_templates_turn_end_is_llama_cpps_end_of_turn(tmp_path):
    """A Qwen2.5-base-like tokenizer (EOS <|endoftext|>, turns end with <|im_end|>): the file
    named only the EOS, so llama.cpp ran past the answers the tuned model ends with
    <|im_end|>. A tokenizer whose EOS ends the turn gets no EOT id (as before)."""
    from transformers import AutoTokenizer

    from tunesmith.export.gguf_file import write_gguf

    pattern, ignore_merges, nfc = TOKENIZERS["qwen2"]
    for eos, want_eot in (("<|endoftext|>", True), ("<|im_end|>", False)):
        folder = tmp_path / eos.strip("<|>")
        split_bpe_tokenizer(folder, pattern, ignore_merges, nfc)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        tokenizer.eos_token = eos
        tokenizer.save_pretrained(folder)
        model = tiny_causal_lm(folder, "qwen2", tokenizer)
        write_gguf(model, folder, folder / "m.gguf", "f16", ("run", "tiny"))
        fields = _fields(folder / "m.gguf")
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        assert fields["tokenizer.ggml.eos_token_id"] == tokenizer.eos_token_id
        if want_eot:
            assert fields["tokenizer.ggml.eot_token_id"] == im_end
        else:
            assert "tokenizer.ggml.eot_token_id" not in fields


def test_a_gguf_read_by_transformers_is_given_the_turn_end_evaluation_stops_at(tmp_path):
    """transformers' GGUF loader takes the file's EOS alone (<|endoftext|>), not the turn end
    (<|im_end|>) llama.cpp reads as EOT: plain generate() on it ran past the answers scored
    (5 of 10 answers of a tiny run differed). exports.json names the ids for such an
    artefact, and its card passes them to generate(); a merged folder needs none."""
    from transformers import AutoTokenizer

    from tunesmith.export.build import missing_stops, stop_at_turn_end
    from tunesmith.export.gguf_file import gguf_roundtrip, write_gguf

    pattern, ignore_merges, nfc = TOKENIZERS["qwen2"]
    split_bpe_tokenizer(tmp_path, pattern, ignore_merges, nfc)
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path))
    tokenizer.eos_token = "<|endoftext|>"
    tokenizer.save_pretrained(tmp_path)
    model = tiny_causal_lm(tmp_path, "qwen2", tokenizer)
    stop_at_turn_end(model, tokenizer)
    write_gguf(model, tmp_path, tmp_path / "m.gguf", "f16", ("run", "tiny"))
    loaded = gguf_roundtrip(tmp_path / "m.gguf")
    ends = sorted([tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")])
    assert loaded.generation_config.eos_token_id == tokenizer.eos_token_id
    assert missing_stops(model, loaded) == {"eos_token_id": ends}
    assert missing_stops(model, model) == {}
