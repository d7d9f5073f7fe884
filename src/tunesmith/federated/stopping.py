"""Early stopping at the round level: `training.early_stopping` applied to the server's
validation perplexity of each round's released adapter. Patience counts rounds (the server
validates once per round); the best round's adapter is kept, for the stage to ship."""

from __future__ import annotations


class RoundStopping:
    def __init__(self, stop) -> None:
        self.stop = stop  # training.early_stopping
        self.best_round: int | None = None
        self.best_val_ppl: float | None = None
        self.best_state: dict | None = None
        self.rounds_without_gain = 0
        self.stopped_early = False

    def update(self, round_: int, ppl: float, state: dict) -> None:
        """Round `round_` released `state`, of validation perplexity `ppl`."""
        from tunesmith.train.loop import improves

        if improves(self.best_val_ppl, ppl, self.stop.min_delta):
            self.best_round, self.best_val_ppl, self.best_state = round_, ppl, state
            self.rounds_without_gain = 0
        else:
            self.rounds_without_gain += 1
            patience = self.stop.patience
            self.stopped_early = self.stop.enabled and self.rounds_without_gain >= patience

    def restore(self, counters: dict, best_state: dict | None) -> None:
        """Where a stopped federation's stopping was (its checkpoint, resume.py)."""
        self.best_round, self.best_val_ppl = counters["best_round"], counters["best_val_ppl"]
        self.rounds_without_gain = counters["rounds_without_gain"]
        self.stopped_early = counters["stopped_early"]
        self.best_state = best_state
