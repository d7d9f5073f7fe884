"""Local training of the LoRA adapter, on the shared train path (train/session.py).

One `LocalModel` per process: the base model and its LoRA wrapper are built once; every local
run (a client's round, or a baseline) starts from given adapter weights and trains with the
ordinary `Trainer` for a fixed number of steps, validation off (the server validates), on the
train stage's encoding (class weights) and batch plan (curriculum, replay).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tunesmith.federated.aggregation import A_KEY, AGGREGATIONS


class LocalModel:
    def __init__(self, recipe, run_dir) -> None:
        from tunesmith.models.base import load_base
        from tunesmith.train.encoded import read_class_weights
        from tunesmith.train.session import make_trainable, prepare

        self.recipe = recipe
        self.class_weights = read_class_weights(run_dir.data)
        self.plans: dict = {}  # client index -> its batch plan (flower_app.client_plan)
        device, self.precision = prepare(recipe, recipe.training)
        model, self.tokenizer = load_base(recipe, run_dir, pretrained=True, device=device)
        self.model = make_trainable(model, recipe.training, self.precision)
        if not AGGREGATIONS.get(recipe.federated.aggregation).trains_a:
            for name, parameter in self.model.named_parameters():
                if A_KEY in name:  # FFA-LoRA: A stays at the shared seeded init
                    parameter.requires_grad_(False)
        self.initial = self.state()
        self.trained = [
            n for n, p in self.model.named_parameters() if "lora_" in n and p.requires_grad
        ]

    def state(self) -> dict:
        """The adapter's weights, {peft name: float32 numpy array}."""
        return {
            name: p.detach().float().cpu().numpy().copy()
            for name, p in self.model.named_parameters()
            if "lora_" in name
        }

    def load(self, state: dict) -> None:
        import torch

        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(torch.as_tensor(value, dtype=params[name].dtype))

    def encode(self, examples: list[dict], weighted: bool = True) -> list:
        """Training items as the train stage encodes them: a labelled row gets its class's loss
        weight from the balance step (weighted=False: validation rows, unweighted there too)."""
        from tunesmith.train.encoded import encode_rows

        weights = self.class_weights if weighted else None
        return encode_rows(examples, self.tokenizer, self.recipe.training.max_seq_length, weights)

    def plan(self, examples: list[dict], items: list, steps: int, seed: int, out: Path):
        """The train stage's batch plan (train/plan.py: curriculum, replay) for `steps` local
        steps in all; the base_loss scorer scores with the adapter switched off (the base)."""
        from tunesmith.train.plan import plan_batches

        cfg = self.recipe.training.model_copy(update={"max_steps": steps, "seed": seed})
        with self.model.disable_adapter():
            return plan_batches(cfg, self.model, self.tokenizer, examples, items, out)

    def train(self, state: dict, plan, steps: int, out: Path, seed: int, done: int = 0) -> dict:
        """`steps` optimizer steps on `plan` (self.plan) from adapter `state`, continuing its
        schedule after `done` earlier steps (a client's earlier rounds); the mean logged loss."""
        from tunesmith.train.session import make_trainer, run_trainer

        self.load(state)
        # No checkpoint (the round is short) and a fresh batch order per round and client.
        update = {"max_steps": steps, "eval_every": steps, "checkpoint_every": steps + 1}
        cfg = self.recipe.training.model_copy(update={**update, "seed": seed})
        sampler = plan.sampler and _Continued(plan.sampler, done * cfg.gradient_accumulation)
        continued = dataclasses.replace(plan, sampler=sampler)
        trainer = make_trainer(self.model, cfg, continued, [], self.tokenizer, out, self.precision)
        run_trainer(trainer)
        losses = [r["loss"] for r in trainer.tracker.records() if "loss" in r]
        return {"loss": sum(losses) / max(len(losses), 1), "steps": trainer.state.step}

    def val_perplexity(self, state: dict, items: list) -> float:
        from tunesmith.models.nll import perplexity

        self.load(state)
        self.model.eval()
        batch, pad = self.recipe.training.batch_size, self.tokenizer.pad_token_id
        return perplexity(self.model, items, batch, pad)

    def save(self, state: dict, folder: Path) -> Path:
        """The adapter `state` as a PEFT folder (plain `PeftModel.from_pretrained` loads it)."""
        from tunesmith.methods import method_of

        self.load(state)
        folder.parent.mkdir(parents=True, exist_ok=True)
        method_of(self.recipe.training).save(self.model, folder)
        self.tokenizer.save_pretrained(folder)
        return folder


class _Continued:
    """A batch plan's sampler from micro-batch `offset` on: a client's curriculum paces over
    all its rounds, and its batch order goes on where the previous round stopped."""

    def __init__(self, inner, offset: int) -> None:
        self.inner, self.offset = inner, offset

    def batches(self, skip: int):
        return self.inner.batches(self.offset + skip)
