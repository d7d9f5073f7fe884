"""The bf16 inference attention (models/grouped_attention.py): close to exact attention in bf16
(decoding steps, padded prefills, fully masked rows, chunked rows), and SDPA itself, bit for
bit, wherever it delegates (fp32, autograd, oversized rows)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from tunesmith.models import grouped_attention as grouped

MODULE = SimpleNamespace(num_key_value_groups=3, is_causal=True)


def _inputs(rows=5, length=7, slots=12, dtype=torch.bfloat16, seed=0):
    """Grouped query heads (9 over 3 key/value heads), a static cache's slots, a boolean mask:
    causal over the last `length` written slots, left padding for some rows, unwritten slots."""
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(rows, length, 9, 16, generator=generator).transpose(1, 2).to(dtype)
    key = torch.randn(rows, 3, slots, 16, generator=generator).to(dtype)
    value = torch.randn(rows, 3, slots, 16, generator=generator).to(dtype)
    written = slots - 2  # the last two slots are not written yet
    mask = torch.ones(rows, 1, length, slots, dtype=torch.bool).tril(written - length)
    mask[..., written:] = False
    mask[1, ..., :3] = False  # a left-padded row
    return query, key, value, mask


def _exact(query, key, value, mask):
    """fp32 softmax attention on the same inputs (the reference the bf16 results approach)."""
    q, k, v = query.float(), key.float().repeat_interleave(3, 1), value.float()
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    probs = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    return (probs @ v.repeat_interleave(3, 1)).transpose(1, 2)


@pytest.mark.parametrize("length", [1, 7])  # a decoding step, a prefill
def test_bf16_output_is_as_close_to_exact_attention_as_sdpa(length):
    query, key, value, mask = _inputs(length=length)
    got, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask)
    sdpa, _ = sdpa_attention_forward(MODULE, query, key, value, mask)
    exact = _exact(query, key, value, mask)
    assert got.shape == sdpa.shape == (5, length, 9, 16) and got.dtype == torch.bfloat16
    error, sdpa_error = (got.float() - exact).abs().max(), (sdpa.float() - exact).abs().max()
    assert error < 0.05 and error <= 4 * sdpa_error + 1e-2, (error, sdpa_error)


def test_a_fully_masked_row_stays_finite():
    query, key, value, mask = _inputs(length=3)
    mask[2] = False  # a padding query row of every position
    got, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask)
    assert torch.isfinite(got.float()).all()
    rest = [0, 1, 3, 4]
    assert torch.allclose(got[rest].float(), _exact(query, key, value, mask)[rest], atol=0.05)


def test_rows_in_chunks_equal_rows_at_once(monkeypatch):
    query, key, value, mask = _inputs(rows=7, length=4)
    whole, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask)
    per_row = 4 * 9 * 4 * 12  # fp32 scores of one row
    monkeypatch.setattr(grouped, "CHUNK_SCORE_BYTES", 2 * per_row)  # chunks of 2, 2, 2, 1 rows
    assert grouped._rows_per_chunk(query, key) == 2
    chunked, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask)
    assert torch.equal(chunked, whole)


def _same_as_sdpa(query, key, value, mask):
    got, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask)
    sdpa, _ = sdpa_attention_forward(MODULE, query, key, value, mask)
    return torch.equal(got, sdpa)


def test_fp32_is_sdpa_bit_for_bit():
    assert _same_as_sdpa(*_inputs(dtype=torch.float32))
    assert _same_as_sdpa(*_inputs(length=1, dtype=torch.float32))


def test_autograd_and_oversized_rows_go_to_sdpa(monkeypatch):
    query, key, value, mask = _inputs()
    assert not _same_as_sdpa(query, key, value, mask)  # the bf16 path really is another kernel
    assert _same_as_sdpa(query.clone().requires_grad_(), key, value, mask)
    monkeypatch.setattr(grouped, "CHUNK_SCORE_BYTES", 16)  # not even one row fits
    assert grouped._rows_per_chunk(query, key) == 0
    assert _same_as_sdpa(query, key, value, mask)


def test_loaded_cpu_models_use_it_and_bf16_logits_stay_close(tiny_model_dir):
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig(name=str(tiny_model_dir)), "cpu")
    assert model.config._attn_implementation == grouped.NAME
    model.to(torch.bfloat16)
    ids = tokenizer(["a package for reading", "b"], return_tensors="pt", padding=True)
    with torch.inference_mode():
        got = model(**ids).logits.float()
        model.set_attn_implementation("sdpa")
        sdpa = model(**ids).logits.float()
    real = ids["attention_mask"].bool()
    assert torch.allclose(got[real], sdpa[real], atol=0.1, rtol=0.05)


@pytest.mark.parametrize("modifier", grouped._MODIFIERS)
def test_arguments_that_change_the_maths_go_to_sdpa(modifier, monkeypatch):
    seen = {}

    def fake_sdpa(module, query, key, value, mask, **kwargs):
        seen.update(kwargs)
        return "sdpa", None

    monkeypatch.setattr(
        "transformers.integrations.sdpa_attention.sdpa_attention_forward", fake_sdpa
    )
    query, key, value, mask = _inputs()
    got, _ = grouped.grouped_attention_forward(MODULE, query, key, value, mask, **{modifier: 1})
    assert got == "sdpa" and seen[modifier] == 1
