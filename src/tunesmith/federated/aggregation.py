"""How the server averages LoRA adapters (FedAvg weighted by each client's examples).

LoRA's update is the product ΔW = B·A, and the mean of products is not the product of means:
mean(B_i)·mean(A_i) != mean(B_i·A_i). Each registered aggregation is one correct answer:

- freeze_a (FFA-LoRA, Sun et al. 2024): A stays at its init, identical on every client (same
  seed, sent by the server), only B trains; then mean(B_i·A) = mean(B_i)·A exactly.
- svd: A and B both train; the server averages the products and re-factorises the mean by
  truncated SVD at the adapter's rank (exact when the mean's rank is <= r, else the best rank-r
  approximation in Frobenius norm, by Eckart-Young).

States are {parameter name: numpy array} of the adapter's weights (peft names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.registry import Registry

A_KEY, B_KEY = "lora_A", "lora_B"


@dataclass(frozen=True)
class Aggregation:
    name: str
    combine: Callable  # (list of states, list of weights) -> the aggregated state
    trains_a: bool  # False: lora_A is frozen on the clients


AGGREGATIONS: Registry[Aggregation] = Registry("aggregation")


def weighted_mean(arrays: list, weights: list[float]):
    """FedAvg's mean: each client weighted by its number of training examples."""
    total = float(sum(weights))
    return sum(a * (w / total) for a, w in zip(arrays, weights))


def lora_pairs(state: dict) -> list[tuple[str, str]]:
    """(A name, B name) of each adapted module."""
    return [(name, name.replace(A_KEY, B_KEY)) for name in sorted(state) if A_KEY in name]


def delta_w(state: dict, a_name: str, b_name: str):
    """The module's update B·A (without the constant alpha/r scale, shared by all clients)."""
    return state[b_name] @ state[a_name]


def _freeze_a(states: list[dict], weights: list[float]) -> dict:
    first = states[0]
    for a_name, _ in lora_pairs(first):  # the premise of exactness: one shared A
        if any(not (s[a_name] == first[a_name]).all() for s in states[1:]):
            raise ValueError(f"freeze_a: clients sent different {a_name}; A must stay frozen")
    merged = {name: weighted_mean([s[name] for s in states], weights) for name in first}
    merged.update({a_name: first[a_name] for a_name, _ in lora_pairs(first)})  # bit-exact A
    return merged


def _svd(states: list[dict], weights: list[float]) -> dict:
    import numpy as np

    first = states[0]
    merged = {name: weighted_mean([s[name] for s in states], weights) for name in first}
    for a_name, b_name in lora_pairs(first):
        mean = weighted_mean([delta_w(s, a_name, b_name) for s in states], weights)
        rank = first[a_name].shape[0]
        u, sigma, vt = np.linalg.svd(mean.astype(np.float64), full_matrices=False)
        root = np.sqrt(sigma[:rank])  # split the singular values evenly between B and A
        merged[b_name] = (u[:, :rank] * root).astype(first[b_name].dtype)
        merged[a_name] = (root[:, None] * vt[:rank]).astype(first[a_name].dtype)
    return merged


AGGREGATIONS.register("freeze_a", Aggregation("freeze_a", _freeze_a, trains_a=False))
AGGREGATIONS.register("svd", Aggregation("svd", _svd, trains_a=True))
