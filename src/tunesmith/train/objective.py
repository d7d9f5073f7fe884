"""The loss of one optimizer step: supervised NLL, KL to the base model, L1/L2 penalties.

    loss = (sum NLL + kl_to_base * sum KL(base || tuned)) / supervised tokens
           + l1 * sum |w| + l2 * sum (w - w0)^2        (w0 = 0, or the start values: L2-SP)

With a `soft` loss (distillation, distill/losses.py) the token term is
(1 - alpha) * NLL + alpha * soft(teacher's stored top-k, student's logits).

KL is taken on the response tokens only, against the same model with its adapter disabled
(peft's `disable_adapter()`), so forgetting mitigation costs one extra no-grad forward pass
and no second model in memory.
"""

from __future__ import annotations

import contextlib

from tunesmith.models.nll import nll_of_logits, supervised_logits
from tunesmith.models.shared_head import supervised_logits_after_head, usable_head


class Objective:
    def __init__(self, model, regularization, soft=None) -> None:
        """`regularization`'s kl_to_base needs an adapter to switch off (the caller has
        checked the method: methods.base.check_kl_to_base)."""
        reg = regularization
        self.soft = soft  # None, or a SoftTargets: alpha and (chosen, batch) -> summed loss
        self.l1, self.l2, self.kl = reg.l1, reg.l2, reg.kl_to_base
        self.weights = [p for p in model.parameters() if p.requires_grad]
        self.anchors = None
        if reg.l2 and reg.l2_to_start:  # L2-SP: a frozen copy of the starting values
            self.anchors = [p.detach().clone() for p in self.weights]

    def backward(self, model, passes, autocast=contextlib.nullcontext) -> dict:
        """Backpropagate the step's loss over its forward passes; its parts as floats."""
        count = max(sum(int((b["labels"][:, 1:] != -100).sum()) for b in passes), 1)
        nll_sum = kl_sum = soft_sum = 0.0
        skipped = 0  # head tokens not run again (the rows after the first of each pass)
        with autocast():
            for batch in passes:
                # each pass's common head runs once (models/shared_head.py)
                head = usable_head(model, batch)
                chosen, targets = supervised_logits_after_head(model, batch, head)
                skipped += head * (batch["input_ids"].shape[0] - 1)
                nll = nll_of_logits(chosen, targets, batch)
                loss = nll
                if self.soft is not None:
                    soft = self.soft.loss(chosen, batch)
                    loss = (1 - self.soft.alpha) * nll + self.soft.alpha * soft
                    soft_sum += soft.item()
                if self.kl:
                    kl = self._kl(model, batch, chosen)
                    loss = loss + self.kl * kl
                    kl_sum += kl.item()
                (loss / count).backward()
                nll_sum += nll.item()
        penalty = self.penalty()
        if penalty is not None:
            penalty.backward()
        parts = {"loss": nll_sum / count, "head_tokens_shared": skipped}
        if self.kl:
            parts["kl"] = kl_sum / count
        if self.soft is not None:
            parts["soft"] = soft_sum / count
        if penalty is not None:
            parts["penalty"] = penalty.item()
        token_sum = nll_sum
        if self.soft is not None:
            token_sum = (1 - self.soft.alpha) * nll_sum + self.soft.alpha * soft_sum
        parts["objective"] = (token_sum + self.kl * kl_sum) / count + parts.get("penalty", 0.0)
        return parts

    def _kl(self, model, batch, chosen):
        import torch
        import torch.nn.functional as F

        with torch.no_grad(), model.disable_adapter():
            base, _ = supervised_logits(model, batch)
        return F.kl_div(
            F.log_softmax(chosen.float(), -1),
            F.log_softmax(base.float(), -1),
            log_target=True,
            reduction="sum",
        )

    def penalty(self):
        """l1 * sum |w| + l2 * sum (w - w0)^2 over the trainable weights (None when off)."""
        if not (self.l1 or self.l2):
            return None
        total = 0.0
        for i, weight in enumerate(self.weights):
            if self.l1:
                total = total + self.l1 * weight.abs().sum()
            if self.l2:
                delta = weight if self.anchors is None else weight - self.anchors[i]
                total = total + self.l2 * delta.pow(2).sum()
        return total
