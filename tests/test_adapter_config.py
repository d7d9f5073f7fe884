"""A saved adapter's config is the same bytes in every process: peft writes target_modules
(a set) in string-hash order, so the same weights used to make a different adapter folder."""

from __future__ import annotations

import json


def test_target_modules_are_saved_sorted_and_load_back(tmp_path, tiny_model_dir):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.methods import save_pretrained

    modules = ["v_proj", "q_proj", "up_proj", "o_proj", "k_proj", "down_proj", "gate_proj"]
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=2, target_modules=modules, exclude_modules=["z", "a", "m"]),
    )
    save_pretrained(model, tmp_path / "adapter")
    saved = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text("utf-8"))
    assert saved["target_modules"] == sorted(modules)
    assert saved["exclude_modules"] == ["a", "m", "z"]
    loaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "adapter"
    )
    assert loaded.peft_config["default"].target_modules == set(modules)
