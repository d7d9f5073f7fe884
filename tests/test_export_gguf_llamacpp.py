"""GGUF files run by llama.cpp itself (llama-cpp-python, the optional `llamacpp` extra; skipped
where it is not installed): the logits llama.cpp computes from an exported tiny model equal the
transformers model's, for a Llama with Llama 3.1's `llama3` rotary scaling (read from the
rope_freqs tensor) and for Qwen2 (biases, NEOX rotary, an untied head, a padded vocabulary), and
llama.cpp tokenizes text as the Hugging Face tokenizer does. The other GGUF tests read the files
back through gguf-py and transformers' loader; this one asks the program users serve them with."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import LLAMA3, split_bpe_tokenizer, tiny_causal_lm

from tunesmith.export.gguf_vocab import LLAMA3_SPLIT, QWEN2_SPLIT

llama_cpp = pytest.importorskip("llama_cpp")

TEXT = "Hello world, it's 2026! Ünïcode   spaces\n\nnew lines 12345 DON'T"
POSITIONS = 1200  # far enough that the scaled low frequencies change the logits measurably


def _export(folder, model_type: str, split: str, rope: dict, **options):
    import torch

    from tunesmith.export.gguf_file import write_gguf

    tokenizer = split_bpe_tokenizer(folder, split, **options.pop("tokenizer", {}))
    model = tiny_causal_lm(folder, model_type, tokenizer, rope_parameters=rope, **options)
    write_gguf(model, folder, folder / "model.gguf", "f16", ("tiny", "tiny"))
    ids = np.random.RandomState(1).randint(5, len(tokenizer), size=POSITIONS).tolist()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    return tokenizer, ids, logits


def _llama_cpp_logits(path, ids) -> np.ndarray:
    llm = llama_cpp.Llama(str(path), n_ctx=2048, logits_all=True, verbose=False, n_threads=2)
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)]), llm


def _relative(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_llama_cpp_runs_llama3_rope_scaling_as_transformers(tmp_path):
    scaled = {**LLAMA3}
    sizes = {"head_dim": 64, "max_position_embeddings": 131072}
    split = {"ignore_merges": True}  # as llama.cpp's llama-bpe pre-tokenizer merges
    _, ids, expected = _export(
        tmp_path / "scaled", "llama", LLAMA3_SPLIT, scaled, **sizes, tokenizer=split
    )
    plain = {"rope_type": "default", "rope_theta": LLAMA3["rope_theta"]}
    _, _, unscaled = _export(
        tmp_path / "plain", "llama", LLAMA3_SPLIT, plain, **sizes, tokenizer=split
    )
    got, _ = _llama_cpp_logits(tmp_path / "scaled" / "model.gguf", ids)
    # f16 weights: ~0.07 % apart from the scaled model, ten times that from the same weights
    # with unscaled rotary embeddings (what a file without rope_freqs would run)
    assert _relative(got, expected) < 2e-3
    assert _relative(got[600:], unscaled[600:]) > 3 * _relative(got[600:], expected[600:])


def test_llama_cpp_runs_qwen2_and_tokenizes_as_hugging_face(tmp_path):
    rope = {"rope_type": "default", "rope_theta": 10000.0}
    tokenizer, ids, expected = _export(
        tmp_path, "qwen2", QWEN2_SPLIT, rope, tied=False, extra_rows=13, tokenizer={"nfc": True}
    )
    got, llm = _llama_cpp_logits(tmp_path / "model.gguf", ids)
    assert got.shape == expected.shape
    assert _relative(got, expected) < 2e-3
    assert (got.argmax(-1) == expected.argmax(-1)).mean() > 0.99
    wanted = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert llm.tokenize(TEXT.encode(), add_bos=False, special=False) == wanted
