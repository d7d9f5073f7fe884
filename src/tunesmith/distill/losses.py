"""Soft-target losses on the teacher's stored top-k log-probabilities (one registered each).

Both distributions are taken at temperature T over the teacher's top-k tokens of each
position and renormalised there (the stored support), so forward KL, reverse KL and JSD are
all finite; the loss is scaled by T^2 so its gradients keep their size as T changes (Hinton
et al., 2015). Each returns the sum over positions, like the summed NLL it is mixed with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.registry import Registry

LOSSES: Registry[Callable] = Registry("distillation loss")


def _kl(log_p, log_q):
    """KL(p || q) per position, from log-probabilities over the same support."""
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def _forward(log_teacher, log_student):
    return _kl(log_teacher, log_student)


def _reverse(log_teacher, log_student):
    return _kl(log_student, log_teacher)


def _jsd(log_teacher, log_student):
    import math

    import torch

    log_mean = torch.logaddexp(log_teacher, log_student) - math.log(2.0)
    return 0.5 * (_kl(log_teacher, log_mean) + _kl(log_student, log_mean))


LOSSES.register("forward_kl", _forward)
LOSSES.register("reverse_kl", _reverse)
LOSSES.register("jsd", _jsd)


@dataclass(frozen=True)
class SoftTargets:
    """The `soft` part of train/objective.py's Objective for one distill config."""

    name: str
    temperature: float
    alpha: float

    def loss(self, chosen, batch):
        """Summed soft loss of the student's logits at the supervised positions."""
        import torch

        t = self.temperature
        log_teacher = torch.log_softmax(batch["soft_logp"].float() / t, -1)
        student = chosen.float().gather(-1, batch["soft_ids"].long()) / t
        log_student = torch.log_softmax(student, -1)
        return LOSSES.get(self.name)(log_teacher, log_student).sum() * t * t


def soft_targets(config) -> SoftTargets:
    return SoftTargets(config.loss, config.temperature, config.alpha)
