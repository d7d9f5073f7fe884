"""Saved adapters' README.md names the base model by its Hub id or not at all: peft wrote the
local folder it was read from (/home/..., or tunesmith's cache folder for an alias) there.
adapter_config.json keeps that folder: AutoPeftModelForCausalLM loads the base from it."""

from __future__ import annotations

import json

import yaml


def _front_matter(folder) -> dict:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _lora(model):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))


def test_a_trained_adapter_names_no_local_path(tmp_path, tiny_model_dir):
    """The recipe names a local folder: README.md has no base_model (the Hub takes only a Hub
    id); adapter_config.json keeps the folder, so AutoPeftModelForCausalLM still loads it."""
    from export_helpers import small_recipe
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM

    from tunesmith.artifacts import RunDir
    from tunesmith.pipeline import run_pipeline

    recipe = small_recipe(tmp_path, tiny_model_dir)
    run_dir = RunDir(tmp_path / "out")
    run_pipeline(recipe, run_dir, only=["data", "train"])
    adapter = run_dir.train / "adapter"
    assert str(tiny_model_dir) not in (adapter / "README.md").read_text(encoding="utf-8")
    meta = _front_matter(adapter)
    assert "base_model" not in meta
    assert meta["library_name"] == "peft" and "lora" in meta["tags"]
    assert not [tag for tag in meta["tags"] if tag.startswith("base_model:")]
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert PeftModel.from_pretrained(base, adapter).peft_config["default"].base_model_name_or_path
    assert AutoPeftModelForCausalLM.from_pretrained(str(adapter)) is not None  # offline


def test_an_alias_base_is_named_by_its_hub_id(tmp_path, tiny_model_dir):
    """Loaded for the recipe's alias (from tunesmith's cache folder), the adapter names the
    alias's Hub id in README.md's base_model and tag."""
    from transformers import AutoModelForCausalLM

    from tunesmith.methods.base import save_pretrained
    from tunesmith.models.naming import RECIPE_NAME

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    setattr(base, RECIPE_NAME, "smollm2-135m-instruct")  # as models/loading.py tags it
    save_pretrained(_lora(base), tmp_path / "adapter")
    hub = "HuggingFaceTB/SmolLM2-135M-Instruct"
    meta = _front_matter(tmp_path / "adapter")
    assert meta["base_model"] == hub
    assert meta["tags"][0] == f"base_model:adapter:{hub}"
    assert str(tiny_model_dir) not in (tmp_path / "adapter" / "README.md").read_text()


def test_the_loader_tags_the_recipe_name(tiny_model_dir):
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models.loading import load_model_and_tokenizer
    from tunesmith.models.naming import recipe_model_name

    model, _ = load_model_and_tokenizer(ModelConfig(name=str(tiny_model_dir)), device="cpu")
    assert recipe_model_name(_lora(model)) == str(tiny_model_dir)
