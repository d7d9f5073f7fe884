"""The real default model: a few training steps, then the adapter reloads with plain peft."""

from __future__ import annotations

import json

import pytest
import yaml

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline

pytestmark = pytest.mark.slow

EXAMPLES = "src/tunesmith/examples/debian_synopsis.jsonl.gz"


def test_default_model_trains_and_adapter_reloads_with_plain_peft(tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tunesmith.evaluate.stage import with_adapter
    from tunesmith.models import load_model_and_tokenizer, resolve_model
    from tunesmith.models.formatting import encode_prompt

    path = tmp_path / "recipe.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "task": "summarization",
                "model": "smollm2-135m-instruct",
                "data": {
                    "train": str(__import__("pathlib").Path(EXAMPLES).resolve()),
                    "input_field": "description",
                    "output_field": "synopsis",
                    "prompt_template": "Write a one-line synopsis.\n\n{description}",
                    "max_examples": 40,
                    "split": {"validation": 4, "test": 4},
                },
                "training": {
                    "max_steps": 3,
                    "batch_size": 4,
                    "eval_every": 3,
                    "max_seq_length": 128,
                },
                "evaluation": {"metrics": ["perplexity"]},
                # This test is about training and reloading; the checks have their own tests.
                "checks": {
                    name: {"enabled": False}
                    for name in ("forgetting", "robustness", "bias", "explain", "triggers")
                },
            }
        )
    )
    recipe = load_recipe(path)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir)
    losses = [
        json.loads(line)["loss"]
        for line in (run_dir.train / "metrics.jsonl").open()
        if '"loss"' in line
    ]
    assert len(losses) == 3 and all(0 < loss < 10 for loss in losses)
    ppl = json.loads((run_dir.eval / "compare.json").read_text())["metrics"]["perplexity"]
    assert ppl["lower_is_better"] and ppl["n"] == 4 and ppl["ci_low"] <= ppl["ci_high"]

    fp32 = recipe.model.model_copy(update={"precision": "fp32"})
    base, tokenizer = load_model_and_tokenizer(fp32, device="cpu")
    ours = with_adapter(base, run_dir, recipe.training)
    folder = resolve_model("smollm2-135m-instruct")
    plain = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    plain = PeftModel.from_pretrained(plain, str(run_dir.train / "adapter")).eval()
    example = {"prompt": "Write a one-line synopsis.\n\nA fast text editor for the terminal."}
    ids = torch.tensor([encode_prompt(example, tokenizer, 128)])
    with torch.no_grad():
        a, b = ours(ids).logits, plain(ids).logits
    # Merged weights round differently from the unmerged adapter path: ~1e-4 on logits of ~30.
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-3), (a - b).abs().max()
    assert torch.equal(a.argmax(-1), b.argmax(-1))
    untouched = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        assert (untouched(ids).logits - b).abs().max() > 1e-3  # the adapter changed the model
