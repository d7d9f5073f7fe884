"""The speed paths compute what the plain paths compute (tiny random Llama, fp32, no download).

- supervised-only loss == Hugging Face's full-logits loss with the same mask;
- the fused LoRA layer and the lean attention == peft's layer and eager/SDPA attention;
- a batch cut into token-budget pieces gives the gradient of the whole batch;
- batched left-padded generation == one prompt at a time;
- training with the fast path (LoRA and full fine-tuning under bf16 autocast) learns a
  memorisable set.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

VOCAB = 61
PAD = 0


def _tiny_llama(seed: int = 0, **shape):
    """A random Llama: tiny unless `shape` overrides its config's sizes."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    sizes = {
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
    }
    config = LlamaConfig(
        **{**sizes, **shape},
        pad_token_id=PAD,
        eos_token_id=1,
        bos_token_id=2,
        initializer_range=0.2,
    )
    return LlamaForCausalLM(config).eval()


def _lora(model, dropout: float = 0.0, seed: int = 0):
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear"),
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:  # peft starts B at zero; make the adapter matter
                parameter.normal_(0.0, 0.1, generator=generator)
    return wrapped


def _items(lengths=(9, 14, 5, 11), prompt_share=0.6, seed=0, vocab=VOCAB):
    from tunesmith.models.formatting import Encoded

    generator = torch.Generator().manual_seed(seed)
    items = []
    for length in lengths:
        ids = torch.randint(3, vocab, (length,), generator=generator).tolist()
        cut = max(1, int(length * prompt_share))
        items.append(Encoded(ids, [-100] * cut + ids[cut:]))
    return items


def _trainable_grads(model) -> dict:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_supervised_only_loss_equals_full_logits_loss():
    from tunesmith.models.nll import collate, supervised_nll

    for model in (_tiny_llama(), _lora(_tiny_llama())):
        batch = collate(_items(), PAD)
        nll, count = supervised_nll(model, batch)
        reference = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        ).loss
        assert int(count) == int((batch["labels"][:, 1:] != -100).sum())
        assert float(nll / count) == pytest.approx(float(reference), abs=1e-5)


def test_fused_lora_and_lean_attention_match_peft_and_eager():
    from tunesmith.models.nll import collate, supervised_nll
    from tunesmith.train.fastpath import fast_training

    model = _lora(_tiny_llama())
    model.train()  # dropout 0: training mode is deterministic here
    batch = collate(_items(), PAD)

    def loss_and_grads():
        model.zero_grad()
        nll, count = supervised_nll(model, batch)
        (nll / count).backward()
        return float(nll / count), _trainable_grads(model)

    plain_loss, plain = loss_and_grads()
    with fast_training(model) as patched:
        assert patched == 14  # 7 linear layers x 2 blocks
        inner = model.get_base_model()
        assert inner.config._attn_implementation == "tunesmith_lean"
        fast_loss, fast = loss_and_grads()
    assert model.get_base_model().config._attn_implementation != "tunesmith_lean"
    assert "forward" not in vars(model.get_base_model().model.layers[0].self_attn.q_proj)
    assert fast_loss == pytest.approx(plain_loss, abs=1e-6)
    for name, grad in plain.items():
        torch.testing.assert_close(fast[name], grad, atol=1e-6, rtol=1e-5)


def test_dropout_mask_drops_p_in_any_dtype():
    from tunesmith.train import fastpath

    mask = fastpath.random_keep_mask((512, 256), round(0.05 * 65536))
    assert mask.dtype == torch.uint8
    assert 1 - float(mask.float().mean()) == pytest.approx(0.05, abs=0.003)
    # The mask made straight in the compute dtype is the same 0/1 draw (same generator state).
    torch.manual_seed(5)
    as_uint8 = fastpath.random_keep_mask((64, 48), round(0.05 * 65536))
    torch.manual_seed(5)
    as_bf16 = fastpath.random_keep_mask((64, 48), round(0.05 * 65536), torch.bfloat16)
    assert as_bf16.dtype == torch.bfloat16
    assert torch.equal(as_bf16.float(), as_uint8.float()) and 0 < float(as_uint8.sum()) < 64 * 48


def test_dropout_masks_follow_torch_seed_and_every_lane_drops_p():
    from tunesmith.train import fastpath

    threshold = round(0.05 * 65536)
    torch.manual_seed(3)
    first, second = (fastpath.random_keep_mask((256, 512), threshold) for _ in range(2))
    torch.manual_seed(3)
    again = fastpath.random_keep_mask((256, 512), threshold)
    assert torch.equal(first, again)  # training.seed (and a resume's RNG state) decide masks
    assert not torch.equal(first, second)  # each call draws anew
    # one 64-bit word feeds four elements: each of its 16-bit lanes must drop p on its own
    for lane in first.view(-1, 4).float().unbind(1):
        assert 1 - float(lane.mean()) == pytest.approx(0.05, abs=0.005)


@pytest.mark.parametrize("mask_dtype", [torch.uint8, torch.float32])  # fp32: as training draws it
def test_fused_lora_with_a_dropout_mask_matches_peft(mask_dtype):
    from tunesmith.train import fastpath

    layer = _lora(_tiny_llama(), dropout=0.05).get_base_model().model.layers[0].mlp.up_proj
    layer.train()
    x = torch.randn(3, 5, 32, requires_grad=True)
    keep = fastpath.random_keep_mask(x.shape, round(0.05 * 65536), mask_dtype)
    assert keep.dtype == mask_dtype
    fused = fastpath._lora_function().apply(
        x,
        layer.base_layer.weight,
        layer.base_layer.bias,
        layer.lora_A["default"].weight,
        layer.lora_B["default"].weight,
        layer.scaling["default"] * 65536 / (65536 - round(0.05 * 65536)),
        keep,
    )
    dropped = x * keep.float() * 65536 / (65536 - round(0.05 * 65536))
    reference = (
        layer.base_layer(x)
        + layer.lora_B["default"](layer.lora_A["default"](dropped)) * layer.scaling["default"]
    )
    torch.testing.assert_close(fused, reference, atol=1e-6, rtol=1e-5)
    weights = [x, layer.lora_A["default"].weight, layer.lora_B["default"].weight]
    expected = torch.autograd.grad(reference.square().sum(), weights)
    got = torch.autograd.grad(fused.square().sum(), weights)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_token_budget_pieces_give_the_whole_batch_gradient():
    from tunesmith.models.nll import collate, supervised_nll
    from tunesmith.train.batching import split_by_tokens

    items = _items(lengths=(12, 7, 9, 3, 10, 5))
    lengths = [len(i.input_ids) for i in items]
    pieces = split_by_tokens(list(range(len(items))), lengths, budget=24)
    assert sorted(i for p in pieces for i in p) == list(range(len(items)))
    assert len(pieces) == 3 and all(len(p) * max(lengths[i] for i in p) <= 24 for p in pieces)

    model = _lora(_tiny_llama())
    whole = collate(items, PAD)
    nll, count = supervised_nll(model, whole)
    (nll / count).backward()
    reference = _trainable_grads(model)
    model.zero_grad()
    for piece in pieces:
        part, _ = supervised_nll(model, collate([items[i] for i in piece], PAD))
        (part / count).backward()
    for name, grad in _trainable_grads(model).items():
        torch.testing.assert_close(grad, reference[name], atol=1e-6, rtol=1e-5)


def test_batched_generation_equals_one_prompt_at_a_time():
    from tunesmith.models.generation import generate_texts

    model = _tiny_llama(seed=3)
    tokenizer = SimpleNamespace(
        pad_token_id=PAD,
        eos_token_id=1,
        decode=lambda ids, skip_special_tokens=True: " ".join(map(str, ids)),
    )
    prompts = [item.input_ids for item in _items(lengths=(4, 13, 7, 9, 2, 11), seed=5)]
    batched = generate_texts(model, tokenizer, prompts, max_new_tokens=8, batch_size=4)
    single = [generate_texts(model, tokenizer, [p], 8, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert all(len(text.split()) >= 1 for text in batched)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_fast_training_learns_a_memorisable_set(tmp_path, method):
    from tunesmith.config.training import training_config
    from tunesmith.models.nll import perplexity
    from tunesmith.tracking import JsonlTracker
    from tunesmith.train.loop import Trainer

    model = _tiny_llama()
    precision = "fp32"
    if method == "lora":
        model = _lora(model, dropout=0.05)
    else:  # full fine-tuning with fp32 master weights under bf16 autocast
        precision = "bf16"
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    items = _items(lengths=(10, 12, 8, 11), prompt_share=0.3)
    config = training_config(
        epochs=30, batch_size=2, learning_rate=1e-2, warmup_ratio=0.0, eval_every=10**6
    )
    before = perplexity(model, items, 4, PAD)
    trainer = Trainer(
        model,
        config,
        items,
        [],
        PAD,
        tmp_path,
        JsonlTracker(tmp_path / "m.jsonl"),
        precision=precision,
        token_budget=16,
    )
    trainer.run()
    losses = [r["loss"] for r in JsonlTracker(tmp_path / "m.jsonl").records()]
    after = perplexity(model, items, 4, PAD)
    assert trainer.state.step == 60
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:5]) / 5
    assert after < 0.3 * before
    if method == "lora":
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert all(p.dtype == torch.float32 for p in trainable)


def test_bf16_base_keeps_fp32_adapter_weights():
    model = _tiny_llama().to(torch.bfloat16)
    wrapped = _lora(model)
    trainable = {n: p.dtype for n, p in wrapped.named_parameters() if p.requires_grad}
    frozen = {p.dtype for p in wrapped.parameters() if not p.requires_grad}
    assert trainable and set(trainable.values()) == {torch.float32}
    assert frozen == {torch.bfloat16}
