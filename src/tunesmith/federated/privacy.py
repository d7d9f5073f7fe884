"""User-level central DP of the aggregated adapter: Flower's clipping and noise, Opacus' budget.

The mechanism is DP-FedAvg (McMahan et al. 2018): each round every client is sampled
independently with probability q = federated.client_fraction (Poisson sampling, which the RDP
accountant assumes), each sampled client's update is clipped to L2 norm C (Flower's
`DifferentialPrivacyServerSideFixedClipping`), the clipped updates are summed and divided by the
fixed q·N (not by the number that happened to be sampled, which would leak it), and Gaussian
noise of std noise_multiplier·C/(q·N) is added (Flower's wrapper). Neighbouring datasets differ by
one client's whole data (add or remove), so the guarantee is per client, not per example.

Randomness an attacker could recompute gives no privacy, so the noise and the sample come from
the OS's entropy, never from the recipe's seed (which also seeds numpy's global generator,
Flower's noise source).
"""

from __future__ import annotations

import logging
import math
import secrets
import warnings
from contextlib import contextmanager

# Orders up to 512 (Opacus stops at 63): a few rounds of large noise are optimal at high orders.
EXTRA_ORDERS = [64, 80, 96, 128, 192, 256, 384, 512]


def default_delta(clients: int) -> float:
    """Well below 1/N: a delta of 1/N allows a mechanism that publishes one whole client."""
    return min(1e-5, 0.1 / clients)


def budget(fed, rounds: int) -> dict:
    """The (epsilon, delta) after `rounds` rounds, with the settings that produced it."""
    from opacus.accountants import RDPAccountant

    privacy = fed.privacy
    delta = privacy.delta if privacy.delta is not None else default_delta(fed.clients)
    q, sigma = fed.client_fraction, privacy.noise_multiplier
    epsilon = None  # no noise: no guarantee at any epsilon
    if sigma > 0 and rounds > 0:
        accountant = RDPAccountant()
        accountant.history = [(sigma, q, rounds)]
        with warnings.catch_warnings():  # "optimal order at the range's end": still a bound
            warnings.simplefilter("ignore", UserWarning)
            epsilon = accountant.get_epsilon(
                delta, alphas=RDPAccountant.DEFAULT_ALPHAS + EXTRA_ORDERS
            )
    return {
        "epsilon": epsilon,
        "delta": delta,
        "noise_multiplier": sigma,
        "clip_norm": privacy.clip_norm,
        "sample_rate": q,
        "rounds": rounds,
        "clients": fed.clients,
        "accountant": "opacus RDPAccountant (Poisson-subsampled Gaussian, RDP -> (eps, delta))",
        "unit": "client (user-level: one client's whole data added or removed)",
    }


def describe(privacy: dict) -> str:
    """One line for the CLI and the pre-flight."""
    eps = privacy["epsilon"]
    head = "no guarantee (noise_multiplier 0)" if eps is None else f"epsilon {eps:.3g}"
    return (
        f"{head} at delta {privacy['delta']:.3g}, per client, after {privacy['rounds']} rounds "
        f"(noise {privacy['noise_multiplier']:g} x clip {privacy['clip_norm']:g}, "
        f"q {privacy['sample_rate']:g}, {privacy['clients']} clients)"
    )


def sample(count: int, rate: float) -> list[bool]:
    """Poisson sampling: each of `count` clients independently with probability `rate`."""
    draw = secrets.SystemRandom()
    return [rate >= 1.0 or draw.random() < rate for _ in range(count)]


def rescale(merged: dict, current: dict, scale: float) -> dict:
    """current + (merged - current) * scale: with the uniform mean of m updates and scale
    m / (q·N), the sum of the sampled updates over the fixed q·N (not over m, which would
    make one client's weight depend on who else was sampled)."""
    if scale == 1.0:
        return merged
    return {name: current[name] + (merged[name] - current[name]) * scale for name in merged}


def update_norm(sent: list, received: list) -> float:
    """The L2 norm of a client's whole update, as Flower's clipping measures it."""
    return math.sqrt(sum(float(((s - r) ** 2).sum()) for s, r in zip(sent, received)))


def wrap(strategy, fed):
    """Flower's central-DP wrapper (server-side fixed clipping) around `strategy`."""
    from flwr.server.strategy import DifferentialPrivacyServerSideFixedClipping

    privacy = fed.privacy
    _quiet_expected_count_warning()
    # Flower's noise std is noise_multiplier * clip / num_sampled_clients: the fixed q·N.
    return DifferentialPrivacyServerSideFixedClipping(
        strategy, privacy.noise_multiplier, privacy.clip_norm, fed.client_fraction * fed.clients
    )


@contextmanager
def secret_noise():
    """numpy's global generator (Flower's noise source) seeded from the OS's entropy, then
    restored, so the recipe's seed neither predicts the noise nor changes elsewhere."""
    import numpy as np

    saved = np.random.get_state()
    np.random.seed(None)  # RandomState reads the OS's entropy
    try:
        yield
    finally:
        np.random.set_state(saved)


def _quiet_expected_count_warning() -> None:
    """Every client answers every round (unsampled ones with a zero update), so Flower's warning
    that the answers differ from q·N is expected under q < 1 and says nothing."""
    from flwr.supercore.differential_privacy import CLIENTS_DISCREPANCY_WARNING

    logger = logging.getLogger("flwr")
    if not any(getattr(f, "tunesmith_dp", False) for f in logger.filters):
        drop = logging.Filter()
        drop.filter = lambda record: record.msg != CLIENTS_DISCREPANCY_WARNING
        drop.tunesmith_dp = True
        logger.addFilter(drop)
