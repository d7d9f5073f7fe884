"""Local training of the LoRA adapter, on the shared train path (train/session.py).

One `LocalModel` per process: the base model and its LoRA wrapper are built once; every local
run (a client's round, or a baseline) starts from given adapter weights and trains with the
ordinary `Trainer` for a fixed number of steps, validation off (the server validates).
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.federated.aggregation import A_KEY, AGGREGATIONS


class LocalModel:
    def __init__(self, recipe, run_dir) -> None:
        from tunesmith.models.base import load_base
        from tunesmith.train.session import make_trainable, prepare

        self.recipe = recipe
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

    def encode(self, examples: list[dict]) -> list:
        from tunesmith.models.formatting import encode_example

        length = self.recipe.training.max_seq_length
        return [encode_example(e, self.tokenizer, length) for e in examples]

    def train(self, state: dict, items: list, steps: int, out: Path, seed: int) -> dict:
        """`steps` optimizer steps on `items` from adapter `state`; the mean logged loss."""
        from tunesmith.train.session import make_trainer, run_trainer

        self.load(state)
        # No checkpoint (the round is short) and a fresh batch order per round and client.
        update = {"max_steps": steps, "eval_every": steps, "checkpoint_every": steps + 1}
        cfg = self.recipe.training.model_copy(update={**update, "seed": seed})
        trainer = make_trainer(self.model, cfg, items, [], self.tokenizer, out, self.precision)
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
