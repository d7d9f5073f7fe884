"""Regularisation, curriculum and replay: each term changes the loss by what it should."""

from __future__ import annotations

import pytest

from tunesmith.config.strategies import Curriculum, Regularization
from tunesmith.config.training import training_config
from tunesmith.errors import UserError
from tunesmith.methods import build_trainable

torch = pytest.importorskip("torch")


def _model_and_batch(tiny_model_dir, method="lora"):
    from test_methods import _config, _items, _tiny

    from tunesmith.models.nll import collate

    model, tokenizer = _tiny(tiny_model_dir)
    model = build_trainable(model, _config(method))
    with torch.no_grad():  # a non-zero adapter, so tuned and base differ
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2, generator=torch.Generator().manual_seed(1))
    return model, collate(_items(tokenizer), tokenizer.pad_token_id)


def _reference_nll(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    return logp, mask, labels


def test_l1_l2_and_kl_terms_change_the_loss_by_the_expected_amount(tiny_model_dir):
    from tunesmith.train.objective import Objective

    model, batch = _model_and_batch(tiny_model_dir)
    model.eval()  # no dropout: both computations see the same function
    reg = Regularization(l1=1e-3, l2=1e-2, kl_to_base=0.5)
    parts = Objective(model, reg).backward(model, [batch])
    with torch.no_grad():
        logp, mask, labels = _reference_nll(model, batch)
        nll = -logp[mask].gather(-1, labels[mask].unsqueeze(-1)).sum() / mask.sum()
        with model.disable_adapter():
            base_logp, _, _ = _reference_nll(model, batch)
        p_base = base_logp[mask].exp()
        kl = (p_base * (base_logp[mask] - logp[mask])).sum() / mask.sum()
        weights = [p for p in model.parameters() if p.requires_grad]
        l1 = sum(float(w.abs().sum()) for w in weights)
        l2 = sum(float(w.pow(2).sum()) for w in weights)
    assert kl > 1e-3  # the adapter changed the distribution
    assert parts["loss"] == pytest.approx(float(nll), rel=1e-4)
    assert parts["kl"] == pytest.approx(float(kl), rel=1e-3)
    assert parts["penalty"] == pytest.approx(1e-3 * l1 + 1e-2 * l2, rel=1e-4)
    expected = float(nll) + 0.5 * float(kl) + 1e-3 * l1 + 1e-2 * l2
    assert parts["objective"] == pytest.approx(expected, rel=1e-4)


def test_l2_sp_is_zero_at_the_start_and_grows_with_the_distance(tiny_model_dir):
    from tunesmith.train.objective import Objective

    model, _ = _model_and_batch(tiny_model_dir, "full")
    objective = Objective(model, Regularization(l2=0.5, l2_to_start=True))
    assert float(objective.penalty()) == 0.0
    weight = objective.weights[0]
    with torch.no_grad():
        weight.add_(0.1)
    assert float(objective.penalty()) == pytest.approx(0.5 * 0.01 * weight.numel(), rel=1e-4)


def test_kl_to_base_needs_an_adapter():
    from tunesmith.config.pretrain import PretrainConfig
    from tunesmith.config.training import training_config
    from tunesmith.methods import method_of
    from tunesmith.methods.base import check_kl_to_base

    full = training_config(method="full", regularization={"kl_to_base": 0.1})
    with pytest.raises(UserError, match=r"^training\.regularization\.kl_to_base: method 'full'"):
        check_kl_to_base(full, method_of(full))
    pretrain = PretrainConfig(corpus="c.txt", method="full", regularization={"kl_to_base": 0.1})
    with pytest.raises(UserError, match=r"^pretrain\.regularization\.kl_to_base: method 'full'"):
        check_kl_to_base(pretrain, method_of(pretrain))
    lora = training_config(method="lora", regularization={"kl_to_base": 0.1})
    check_kl_to_base(lora, method_of(lora))


def test_weight_decay_skips_norms_and_biases(tiny_model_dir):
    from tunesmith.train.regularize import parameter_groups

    model, _ = _model_and_batch(tiny_model_dir, "full")
    decay, no_decay = parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all("norm" in names[id(p)] for p in no_decay["params"])
    assert not any("norm" in names[id(p)] for p in decay["params"])


def test_dropout_and_neftune_act_in_training_only_and_are_undone(tiny_model_dir):

    model, batch = _model_and_batch(tiny_model_dir)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    reg = Regularization(attention_dropout=0.3, hidden_dropout=0.3, neftune_alpha=5.0)
    config = model.get_base_model().config
    inside = []
    assert_training_only(model, inputs, reg, lambda: inside.append(config.attention_dropout))
    assert inside == [0.3] and config.attention_dropout == 0.0


def assert_training_only(model, inputs, reg, inside=lambda: None):
    """`reg` changes the logits in training mode only, and nothing once its block is left
    (`inside` runs within the block)."""
    from tunesmith.train.regularize import regularized

    with torch.no_grad():
        clean = model.eval()(**inputs).logits
        with regularized(model, reg):
            inside()
            same = model.eval()(**inputs).logits
            noisy = model.train()(**inputs).logits
        after = model.train()(**inputs).logits
    assert torch.allclose(clean, same)
    assert not torch.allclose(clean, noisy, atol=1e-3)
    assert torch.allclose(clean, after, atol=1e-5)


def test_curriculum_pacing_widens_from_the_start_fraction():
    from tunesmith.train.curriculum import PACINGS, CurriculumSampler

    settings = Curriculum(start_fraction=0.25, full_at=0.5, stages=2)
    assert [PACINGS.get("linear")(p, settings) for p in (0, 0.25, 0.5, 1)] == [
        0.25,
        0.625,
        1.0,
        1.0,
    ]
    assert PACINGS.get("root")(0.25, settings) == pytest.approx((0.0625 + 0.9375 * 0.5) ** 0.5)
    assert PACINGS.get("step")(0.2, settings) == 0.25
    scores = list(range(40))  # example i has difficulty i
    sampler = CurriculumSampler(scores, settings, 4, total_batches=20, seed=3)
    first = next(sampler.batches(0))
    assert max(first) < 10  # only the easiest quarter at step 0
    run = sampler.batches(0)
    whole = [next(run) for _ in range(20)]
    assert whole[7:] == [next(sampler.batches(7))] + list(_take(sampler.batches(8), 12))
    assert max(max(b) for b in whole[10:]) >= 30  # the hard examples arrive


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_field_scorer_and_bad_difficulty_field(tiny_recipe, tmp_path):
    from conftest import make_records, write_jsonl

    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.data.stage import run as run_data

    rows = [dict(r, level=i % 5) for i, r in enumerate(make_records(30))]
    rows[3]["level"] = "hard"
    write_jsonl(tmp_path / "levels.jsonl", rows)
    recipe = load_recipe(tiny_recipe(**{"data.difficulty_field": "level"}))
    recipe = recipe.model_copy(
        update={"data": recipe.data.model_copy(update={"train": str(tmp_path / "levels.jsonl")})}
    )
    with pytest.raises(UserError, match=r"levels.jsonl:4: field 'level' is not a number"):
        run_data(recipe, RunDir(tmp_path / "run"))


def test_replay_file_missing_is_a_user_error(tmp_path):
    from tunesmith.train.replay import default_sample, replay_examples

    config = training_config(replay={"file": str(tmp_path / "nope.jsonl")})
    with pytest.raises(UserError, match=r"training.replay.file: .*nope.jsonl does not exist"):
        replay_examples(config.replay)
    sample = default_sample(count=5)
    assert len(sample) == 10 and "messages" in sample[-1] and "response" in sample[0]


def test_replay_mix_adds_its_share_deterministically():
    from tunesmith.train.batching import LengthGroupedSampler, ReplayMix

    inner = LengthGroupedSampler([5] * 16, 4, seed=0)
    mix = ReplayMix(inner, offset=16, count=10, share=0.2, batch_size=4, seed=0)
    batches = _take(mix.batches(0), 6)
    assert all(len(b) == 5 and sum(i >= 16 for i in b) == 1 for b in batches)
    assert _take(mix.batches(3), 3) == batches[3:]


def test_the_field_scorer_without_a_difficulty_field_is_refused_when_the_recipe_is_read(
    tiny_recipe,
):
    """`scorer: field` with no data.difficulty_field passed validate; the train stage then
    failed after curation, on the first example without a difficulty."""
    from tunesmith.config import load_recipe

    curriculum = {"scorer": "field"}
    with pytest.raises(UserError, match=r"scorer 'field' needs data\.difficulty_field"):
        load_recipe(tiny_recipe(**{"training.curriculum": curriculum}))
    recipe = load_recipe(
        tiny_recipe(**{"training.curriculum": curriculum, "data.difficulty_field": "level"})
    )
    assert recipe.training.curriculum.scorer == "field"
