"""The fast paths on other decoder architectures than Llama (tiny random models, fp32): greedy
generation equals plain `model.generate` (ragged prompts, a shared 40-token prefix, sdpa and
eager attention), the per-example NLL equals a plain forward pass (answers sharing a context
packed too), and the LoRA training fast
path gives peft's loss and gradients. Real users bring Qwen,
Phi, Gemma, OLMo or GPT-2 models; an attention or mask assumption that holds for Llama alone
would give them wrong evaluations silently (eager attention once did, models/decode.py)."""

from __future__ import annotations

import pytest
import torch
from test_fast_generation import TOKENIZER, _plain

VOCAB = 64
SMALL = {"num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 256}
LLAMA_LIKE = {**SMALL, "hidden_size": 32, "intermediate_size": 64, "num_key_value_heads": 2}
ARCHITECTURES = {
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", LLAMA_LIKE),  # biases on q/k/v
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {**LLAMA_LIKE, "head_dim": 8}),  # q/k norms
    "phi3": ("Phi3Config", "Phi3ForCausalLM", LLAMA_LIKE),  # fused qkv and gate/up
    "gemma": ("GemmaConfig", "GemmaForCausalLM", {**LLAMA_LIKE, "head_dim": 8}),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", LLAMA_LIKE),  # norms after the blocks
    "gpt2": (  # absolute positions, Conv1D layers, LayerNorm
        "GPT2Config",
        "GPT2LMHeadModel",
        {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 256},
    ),
}


def _model(name: str, attention: str):
    import transformers

    config_class, model_class, shape = ARCHITECTURES[name]
    config = getattr(transformers, config_class)(
        vocab_size=VOCAB, pad_token_id=0, eos_token_id=1, bos_token_id=2, **shape
    )
    torch.manual_seed(3)
    model = getattr(transformers, model_class)._from_config(config, attn_implementation=attention)
    with torch.no_grad():  # larger weights than the default init: varied, prompt-dependent text
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(std=0.2)
    return model.eval()


def _prompts() -> tuple[list[list[int]], list[list[int]]]:
    generator = torch.Generator().manual_seed(7)
    head = torch.randint(3, VOCAB, (40,), generator=generator).tolist()
    ragged = [torch.randint(3, VOCAB, (n,), generator=generator).tolist() for n in (4, 13, 7, 2)]
    return ragged, [head + row for row in ragged]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_fast_greedy_equals_plain_generate(name, attention):
    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.generation import generate_texts
    from tunesmith.models.prefix import shared_prefix

    model = _model(name, attention)
    assert model.config._attn_implementation == attention
    assert fast_path_refusal(model) is None  # the fast loop, not the fallback, is under test
    ragged, shared = _prompts()
    assert shared_prefix(model, shared) is not None
    for prompts in (ragged, shared):
        expected = [_plain(model, p, 8) for p in prompts]
        assert generate_texts(model, TOKENIZER, prompts, 8, batch_size=3) == expected


def _plain_nll(model, item) -> float:
    """The item's summed NLL from one plain forward pass over it alone."""
    import torch.nn.functional as F

    from tunesmith.models.formatting import IGNORE

    with torch.no_grad():
        logits = model(input_ids=torch.tensor([item.input_ids])).logits[0, :-1]
    targets = torch.tensor(item.labels[1:])
    supervised = targets != IGNORE
    return float(F.cross_entropy(logits[supervised], targets[supervised], reduction="sum"))


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_example_nll_equals_a_plain_forward_pass(name):
    from tunesmith.models.formatting import IGNORE, Encoded
    from tunesmith.models.nll import example_nll

    model = _model(name, "sdpa")
    _, shared = _prompts()
    items = [Encoded(ids, [IGNORE] * (len(ids) - 3) + ids[-3:]) for ids in shared]
    scored = example_nll(model, items, 3, 0)
    for item, (nll, tokens) in zip(items, scored, strict=True):
        assert tokens == 3 and nll == pytest.approx(_plain_nll(model, item), rel=1e-5)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_answers_sharing_a_context_score_as_plain_forward_passes(name, attention):
    """Multiple choice (models/shared_context.py): each context runs once for its answers."""
    from tunesmith.models.formatting import IGNORE, Encoded
    from tunesmith.models.nll import example_nll, split_model

    model = _model(name, attention)
    contexts, _ = _prompts()
    answers = [[5, 9], [7], [11, 12, 13]]
    items = [Encoded(c + a, [IGNORE] * len(c) + a) for c in contexts for a in answers]
    seen = []
    backbone = split_model(model)[0]
    hook = backbone.register_forward_hook(
        lambda _m, _a, kwargs, _o: seen.append(kwargs["input_ids"].numel()), with_kwargs=True
    )
    try:
        scored = example_nll(model, items, 3, 0)
    finally:
        hook.remove()
    assert sum(seen) < sum(len(item.input_ids) for item in items)  # contexts ran once
    for item, (nll, tokens) in zip(items, scored, strict=True):
        expected = len([label for label in item.labels[1:] if label != IGNORE])
        assert tokens == expected and nll == pytest.approx(_plain_nll(model, item), rel=1e-5)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_fast_lora_training_gives_peft_gradients(name, monkeypatch):
    """The training fast path (fused LoRA layers where eligible, lean attention, the shared
    head packed with the rows' suffixes in one pass) against plain peft on the same batch: the
    same loss and adapter gradients (GPT-2's Conv1D layers are not eligible and keep peft's
    forward; its attention still switches)."""
    from peft import LoraConfig, get_peft_model

    from tunesmith.models.formatting import IGNORE, Encoded
    from tunesmith.models.nll import collate, supervised_nll
    from tunesmith.models.packed_head import PackedHead
    from tunesmith.train.fastpath import fast_training

    model = _model(name, "sdpa")
    for module in model.modules():  # GPT-2's own dropouts would draw differently in each run
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear")
    model = get_peft_model(model, LoraConfig(**{**lora.to_dict(), "init_lora_weights": False}))
    _, shared = _prompts()
    batch = collate([Encoded(ids, [IGNORE] * (len(ids) - 3) + ids[-3:]) for ids in shared], 0)

    def loss_and_gradients(fast: bool):
        model.zero_grad()
        model.train()
        with fast_training(model) if fast else torch.enable_grad():
            nll, _ = supervised_nll(model, batch)
            nll.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return float(nll), grads

    plain_loss, plain = loss_and_gradients(False)
    packed = []  # the fast path runs the rows' 40-token head packed with their suffixes
    real = PackedHead.attend
    monkeypatch.setattr(PackedHead, "attend", lambda *a, **k: packed.append(1) or real(*a, **k))
    fast_loss, fast = loss_and_gradients(True)
    assert len(packed) == 2  # both layers ran the packed layout's attention
    assert fast_loss == pytest.approx(plain_loss, rel=1e-5)
    for key, grad in plain.items():  # within summation-order rounding of the largest entry
        assert float((fast[key] - grad).abs().max()) <= 1e-5 * float(grad.abs().max()), key
