"""The README's Python snippets run as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _snippet_after(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def test_peft_snippet_loads_the_adapter_onto_the_cached_base(tmp_path, monkeypatch, tiny_model_dir):
    """It passed "~/.cache/..." to from_pretrained, which does not expand "~" and failed; on
    a tiny run folder laid out like the README's (base in the model cache, runs/demo), the
    snippet must give the adapter's weights on the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    home = tmp_path / "home"
    cached = home / ".cache" / "tunesmith" / "models" / "smollm2-135m-instruct"
    shutil.copytree(tiny_model_dir, cached)
    torch.manual_seed(0)
    lora = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    tuned = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora)
    tuned.save_pretrained(tmp_path / "runs" / "demo" / "train" / "adapter")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(_snippet_after("The adapter loads with plain peft"), scope)
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert torch.allclose(scope["model"](ids).logits, tuned(ids).logits, atol=1e-6)
