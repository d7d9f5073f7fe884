"""How many padded tokens one forward pass may hold: as many as the machine's memory allows.

Why: cutting a batch into passes keeps its gradient (same examples, same summed loss) but costs
speed: each pass runs the rows' shared head again at batch 1 and its matmuls over fewer rows.
On the demo, a batch of 8 in one pass trains ~35 % faster than the same batch as 2 x 4
(docs/performance.md, "How many tokens one pass holds"). Memory is the only reason to cut, so
the budget is the activations a token keeps for backward, estimated from the model's shape,
against a share of the machine's memory.

The share is of the *total* memory, not the memory free at the moment: the budget decides how
batches are cut (and so the dropout masks drawn), and a run should not train differently
because another program happened to be open. `training.tokens_per_pass` fixes it instead.
"""

from __future__ import annotations

FALLBACK_TOKENS = 768  # a model whose shape cannot be read: the fixed budget of before
MIN_TOKENS = 256  # below this a pass's matmuls run far from the peak; one row is always allowed
MAX_TOKENS = 4096  # 8 x 512: no measurable gain beyond, memory saved
# One pass's saved activations may take this share of the machine's RAM, up to the cap: 1.5 GiB
# in bf16 keeps bf16 LoRA on the 135M model at under a third of the plain HF baseline's peak
# memory (bench/train_throughput.py) while the demo's median batch (8 x ~130 tokens) runs whole.
# The cap counts values, not bytes: fp32 (CPUs without native bf16, which need the speed most)
# gets as many tokens per pass as bf16, at twice the bytes; the RAM share still bounds it.
# Measured: the demo's fp32 training 12-15 % faster with 1,282-token passes than with 768.
MEMORY_SHARE = 1 / 4
MEMORY_CAP = 1.5 * 2**30  # bytes, in bf16
CAP_PRECISION_BYTES = 2
EAGER_ATTENTION_UP_TO = 1024  # longer sequences go to SDPA, which keeps no score matrix
# Values a decoder layer keeps per token for backward, in units of its hidden and intermediate
# sizes (norm inputs in fp32, the adapted layers' inputs, dropout masks and dropped-out copies,
# q/k/v, the MLP's gate/up/activation), plus one attention probability per head and key.
# Fitted to autograd's saved tensors in LoRA training (r 16, dropout, all linear layers) of a
# model with SmolLM2-135M's layer shapes: 18,160 values per layer and token besides attention
# in bf16 (16,818 in fp32), i.e. 19 x 576 + 5 x 1536 = 18,624 (tests/test_pass_budget.py).
VALUES_PER_HIDDEN = 19
VALUES_PER_INTERMEDIATE = 5


def pass_token_budget(model, precision: str, max_seq_length: int, memory: int | None = None):
    """Padded tokens (rows x longest row) one training forward pass may hold."""
    per_token = activation_bytes_per_token(model, precision, max_seq_length)
    if per_token is None:
        return FALLBACK_TOKENS
    affordable = int((memory or total_memory()) * MEMORY_SHARE // per_token)
    # The cap trades speed for memory; it never takes a pass below the fixed budget of before,
    # only the machine's own memory can.
    cap = MEMORY_CAP * _bytes_per_value(precision) / CAP_PRECISION_BYTES
    wanted = max(int(cap // per_token), FALLBACK_TOKENS)
    return max(MIN_TOKENS, min(MAX_TOKENS, affordable, wanted))


def activation_bytes_per_token(model, precision: str, width: int) -> int | None:
    """Estimated bytes of saved activations per token of a pass whose rows are `width` long;
    None when the model's config does not say its shape."""
    config = _text_config(model)
    try:
        layers = int(config.num_hidden_layers)
        hidden = int(config.hidden_size)
        heads = int(config.num_attention_heads)
    except (AttributeError, TypeError, ValueError):
        return None
    intermediate = int(getattr(config, "intermediate_size", None) or 4 * hidden)
    scores = heads * min(width, EAGER_ATTENTION_UP_TO)  # the attention probabilities kept
    values = VALUES_PER_HIDDEN * hidden + VALUES_PER_INTERMEDIATE * intermediate + scores
    return layers * values * _bytes_per_value(precision)


def _bytes_per_value(precision: str) -> int:
    return 2 if precision == "bf16" else 4


# Where a container's memory limit is read: cgroup v2 (the process's own group, as mounted in
# its namespace), then v1. "max" / a v1 limit near 2**63 mean no limit.
CGROUP_LIMIT_FILES = (
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
)


def total_memory(limit_files=CGROUP_LIMIT_FILES) -> int:
    """The machine's RAM, or the container's memory limit when that is lower.

    Why: psutil reports the host's RAM inside a container too; a quarter of a 64 GB host in a
    4 GB container would size passes the container cannot hold.
    """
    import psutil

    total = int(psutil.virtual_memory().total)
    limits = [limit for limit in map(_cgroup_limit, limit_files) if limit is not None]
    return min([total, *limits])


def _cgroup_limit(path: str) -> int | None:
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit() or int(text) <= 0:  # "max" (v2): no limit
        return None
    return int(text)


def _text_config(model):
    from tunesmith.models.prefix import cache_config  # the model's config, through peft

    config = cache_config(model)
    return config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
