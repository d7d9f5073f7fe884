"""A run group whose variants change `model.name` to a model of another vocabulary: the
comparison leaves per-token perplexity out (as `tunesmith compare` does), an ensemble adding
up per-token scores is refused before anything is written when listed and skipped by default,
and text-level ensembles still run."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import save_chatml_tokenizer, tiny_decoder_config
from group_helpers import group_recipe

from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.group.driver import run_group


@pytest.fixture(scope="module")
def other_vocabulary_dir(tmp_path_factory):
    """A tiny Llama like tests/conftest.py's, its BPE trained on other text (other merges)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama-other-vocabulary")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokenizer = save_chatml_tokenizer(folder, tok, ["zebra quantum xylophone marmalade"] * 50)
    torch.manual_seed(1)
    config = LlamaConfig(**tiny_decoder_config(tokenizer), tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _two_vocabularies(tmp_path, tiny_model_dir, other, **group) -> object:
    variants = [{}, {"model.name": str(other)}]
    path = group_recipe(tmp_path, tiny_model_dir, {"members": {"variants": variants}, **group})
    return path


def _members_named(message: str) -> bool:
    return "members variant-0 (" in message and ") and variant-1 (" in message


def test_a_listed_likelihood_ensemble_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, other_vocabulary_dir
):
    path = _two_vocabularies(
        tmp_path, tiny_model_dir, other_vocabulary_dir, ensembles=["likelihood"]
    )
    out = tmp_path / "out"
    with pytest.raises(UserError) as caught:
        run_group(load_recipe(path), out)
    message = str(caught.value)
    assert message.startswith(
        "group.ensembles: 'likelihood' (highest mean log-likelihood) adds up the members' "
        "per-token log-likelihoods, but members variant-0 ("
    )
    assert _members_named(message) and "tokenise with different vocabularies" in message
    assert not out.exists()


def test_a_perplexity_headline_is_refused_across_vocabularies(
    tmp_path, tiny_model_dir, other_vocabulary_dir
):
    path = _two_vocabularies(tmp_path, tiny_model_dir, other_vocabulary_dir)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["evaluation"]["target"] = {"metric": "perplexity"}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(UserError, match=r"^group: members variant-0 .* headline perplexity"):
        run_group(load_recipe(path), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_one_vocabulary_keeps_the_listed_likelihood_ensemble(tmp_path, tiny_model_dir):
    from tunesmith.group.driver import group_members
    from tunesmith.group.vocabularies import check_one_vocabulary, vocabularies_apart

    group = {"members": {"seeds": [0, 1]}, "ensembles": ["likelihood"]}
    recipe = load_recipe(group_recipe(tmp_path, tiny_model_dir, group))
    members = group_members(recipe, tmp_path / "out")
    assert vocabularies_apart(members) is None
    check_one_vocabulary(recipe, members)


def test_the_comparison_leaves_perplexity_out_and_skips_likelihood(
    tmp_path, tiny_model_dir, other_vocabulary_dir
):
    path = _two_vocabularies(tmp_path, tiny_model_dir, other_vocabulary_dir)
    out = tmp_path / "out"
    result = run_group(load_recipe(path), out)
    saved = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert not [n for n, row in saved["rows"].items() if "perplexity" in row["metrics"]]
    assert not [c for c in saved["comparisons"] if "perplexity" in c["metrics"]]
    assert all("rougeL" in row["metrics"] for row in saved["rows"].values())
    note = saved["perplexity_left_out"]
    assert note.startswith("perplexity left out: members variant-0 (") and _members_named(note)
    assert saved["ensembles"] == ["ensemble_mbr"]  # text-level selection: any vocabulary
    why = saved["skipped"]["ensemble_likelihood"]
    assert why.startswith("it adds up the members' per-token log-likelihoods, but members ")
    assert saved["rows"]["base"]["label"] == f"base model ({tiny_model_dir})"
    assert result["perplexity_left_out"] == note
    assert "perplexity left out" in (out / "report.html").read_text(encoding="utf-8")
    # the members' own evaluations still hold their perplexity, each in its own vocabulary
    for name in ("variant-0", "variant-1"):
        metrics = json.loads((out / "members" / name / "eval" / "metrics.json").read_text())
        assert "perplexity" in json.dumps(metrics)


def test_validate_refuses_a_listed_likelihood_ensemble_across_vocabularies(
    tmp_path, tiny_model_dir, other_vocabulary_dir
):
    from test_cli import assert_user_error, tunesmith

    path = _two_vocabularies(
        tmp_path, tiny_model_dir, other_vocabulary_dir, ensembles=["likelihood"]
    )
    done = tunesmith("validate", path)
    assert_user_error(done, "error: group.ensembles: 'likelihood' (highest mean log-likelihood)")
