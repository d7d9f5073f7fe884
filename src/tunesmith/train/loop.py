"""The training loop: length-grouped batches, supervised-only loss, eval, early stopping.

Speed on CPU (see docs/performance.md): a batch is cut into forward passes only where the
activations would not fit the pass budget (`pass_budget.py`; same gradient), LoRA layers run the
fused path of `fastpath.py`, and bf16 runs under CPU autocast so fp32 trainable weights
compute in bf16 while their gradients and optimizer state stay fp32.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.artifacts.rank import is_writer
from tunesmith.methods import method_of
from tunesmith.methods.base import check_kl_to_base
from tunesmith.models.nll import collate, perplexity, to_device
from tunesmith.train.batching import LengthGroupedSampler, split_by_tokens
from tunesmith.train.checkpoint import load_checkpoint, save_checkpoint
from tunesmith.train.distributed import my_share, sync_gradients
from tunesmith.train.fastpath import fast_training
from tunesmith.train.objective import Objective
from tunesmith.train.pass_budget import pass_token_budget
from tunesmith.train.regularize import parameter_groups, regularized


@dataclass
class LoopState:
    step: int = 0
    best_val_ppl: float | None = None
    best_step: int | None = None
    evals_without_gain: int = 0
    stopped_early: bool = False
    tokens: int = 0
    tokens_run: int = 0  # tokens the passes computed: `tokens` less the shared heads' repeats
    seconds: float = 0.0
    history: list = field(default_factory=list)


class Trainer:
    """Runs optimizer steps over encoded examples; everything it writes is resumable.

    `items` beyond the first `train_count` are replay rows that a `sampler` mixes in; the
    default sampler is length-grouped epochs over the training items.
    """

    def __init__(
        self,
        model,
        config,
        train_items,
        val_items,
        pad_id,
        out: Path,
        tracker,
        precision: str | None = None,
        token_budget: int | None = None,
        sampler=None,
        train_count: int | None = None,
        soft=None,
    ):
        self.model, self.config, self.pad_id = model, config, pad_id
        self.method = method_of(config)
        self.precision = precision or _weights_precision(model)
        # padded tokens per forward pass: the recipe's, else what the machine's memory allows
        self.token_budget = (
            token_budget
            or config.tokens_per_pass
            or pass_token_budget(model, self.precision, config.max_seq_length)
        )
        self.train_items, self.val_items = train_items, val_items
        self.out, self.tracker = out, tracker
        count = len(train_items) if train_count is None else train_count
        self.batches_per_epoch = math.ceil(count / config.batch_size)
        per_epoch = math.ceil(self.batches_per_epoch / config.gradient_accumulation)
        self.total_steps = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
        self.lengths = [len(item.input_ids) for item in train_items]
        self.sampler = sampler or LengthGroupedSampler(
            self.lengths[:count], config.batch_size, config.seed
        )
        check_kl_to_base(config, self.method)
        self.objective = Objective(  # `soft`: distillation's soft targets (distill/losses.py)
            model, config.regularization, soft
        )
        self.optimizer, self.scheduler = _optimizer(model, config, self.total_steps)
        self.state = LoopState()

    def resume(self) -> bool:
        saved = load_checkpoint(
            self.out / "checkpoints", self.model, self.optimizer, self.scheduler
        )
        if saved is None:
            return False
        self.state = LoopState(**saved)
        self.tracker.truncate_after(self.state.step)
        return True

    def run(self, on_step=None) -> LoopState:
        fuse = self.method.fast_path
        with (
            fast_training(self.model, fuse_lora=fuse),
            regularized(self.model, self.config.regularization),
        ):
            return self._run(on_step)

    def _autocast(self):
        """bf16 autocast for one optimizer step: entered per step, because autocast caches
        the bf16 copies of fp32 weights until it exits and the optimizer changes them."""
        import torch

        if self.precision != "bf16" or next(self.model.parameters()).device.type != "cpu":
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=torch.bfloat16)

    def _run(self, on_step) -> LoopState:
        cfg, state = self.config, self.state
        # Under torchrun each rank computes its share of a step's micro-batches (distributed.py).
        micro = my_share(self._micro_batches(state.step * cfg.gradient_accumulation))
        while state.step < self.total_steps and not state.stopped_early:
            started = time.perf_counter()
            parts, tokens, tokens_run = self._optimizer_step(
                [next(micro) for _ in range(cfg.gradient_accumulation)]
            )
            loss = parts["loss"]
            state.step += 1
            state.tokens += tokens
            state.tokens_run += tokens_run
            state.seconds += time.perf_counter() - started
            lr = self.scheduler.get_last_lr()[0]
            self.tracker.log(
                {
                    "step": state.step,
                    "total_steps": self.total_steps,  # lets readers (the UI) show step/total live
                    **parts,
                    "lr": lr,
                    "tokens": state.tokens,
                    "seconds": round(state.seconds, 3),
                }
            )
            if state.step % cfg.eval_every == 0 or state.step == self.total_steps:
                self._evaluate()
            if state.step % (cfg.checkpoint_every or cfg.eval_every) == 0:
                self._checkpoint()
            if on_step:
                on_step(state, loss)
        return state

    def _micro_batches(self, skip: int):
        """Endless micro-batches in a deterministic order, skipping those already trained on.

        Each micro-batch is a list of forward passes (pieces of at most `token_budget` padded
        tokens); their summed loss is the micro-batch's loss.
        """
        for batch in self.sampler.batches(skip):
            pieces = split_by_tokens(batch, self.lengths, self.token_budget)
            yield [
                to_device(collate([self.train_items[i] for i in p], self.pad_id), self.model)
                for p in pieces
            ]

    def _optimizer_step(self, batches) -> tuple[dict, int, int]:
        import torch

        self.model.train()
        passes = [piece for batch in batches for piece in batch]
        parts = self.objective.backward(self.model, passes, self._autocast)
        shared = parts.pop("head_tokens_shared")
        params = [p for p in self.model.parameters() if p.requires_grad]
        count = max(sum(int((b["labels"][:, 1:] != -100).sum()) for b in passes), 1)
        # Under torchrun: all ranks' gradients and tokens summed (distributed.py).
        total, count = sync_gradients(params, parts["loss"] * count, count)
        parts["loss"] = total / max(count, 1)
        torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = sum(int(b["attention_mask"].sum()) for b in passes)
        return parts, tokens, tokens - shared

    def _evaluate(self) -> None:
        if not self.val_items:
            return
        state, stop = self.state, self.config.early_stopping
        ppl = self.val_perplexity()
        improved = improves(state.best_val_ppl, ppl, stop.min_delta)
        self.tracker.log({"step": state.step, "val_ppl": ppl, "val_loss": math.log(ppl)})
        if improved:
            state.best_val_ppl, state.best_step, state.evals_without_gain = ppl, state.step, 0
            if is_writer():  # multi-process: rank 0 holds the same weights and writes them
                self.method.save(self.model, self.out / "best")
        else:
            state.evals_without_gain += 1
            state.stopped_early = stop.enabled and state.evals_without_gain >= stop.patience

    def val_perplexity(self) -> float:
        """Perplexity of the current weights on the validation items, as training computes it."""
        with self._autocast():
            return perplexity(self.model, self.val_items, self.config.batch_size, self.pad_id)

    def _checkpoint(self) -> None:
        state = self.state.__dict__.copy()
        save_checkpoint(self.out / "checkpoints", self.model, self.optimizer, self.scheduler, state)


def improves(best: float | None, ppl: float, min_delta: float) -> bool:
    """Early stopping's rule: the first validation, or one more than `min_delta` below the best
    (shared with the federated server's per-round validation)."""
    return best is None or best - ppl > min_delta


def _weights_precision(model) -> str:
    import torch

    return "bf16" if any(p.dtype == torch.bfloat16 for p in model.parameters()) else "fp32"


def _optimizer(model, config, total_steps: int):
    import torch
    from transformers import get_scheduler

    params = [p for p in model.parameters() if p.requires_grad]
    # The fused kernel updates each tensor in one pass (CPU too since torch 2.4).
    fused = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.weight_decay), lr=config.learning_rate, fused=fused or None
    )
    scheduler = get_scheduler(
        config.scheduler,
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    return optimizer, scheduler
