"""federated.privacy: the accountant against reference computations, Flower's clipping and noise
as the server applies them (one client's influence bounded, noise of the stated std, secret),
bad input, and a private Flower simulation on the tiny model that reports epsilon."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tunesmith.config.federated import LINEAR_AGGREGATIONS, FederatedConfig
from tunesmith.config.training import training_config
from tunesmith.errors import UserError
from tunesmith.federated.aggregation import AGGREGATIONS
from tunesmith.federated.flower_app import Wire
from tunesmith.federated.privacy import budget, default_delta

A, B = "m.q_proj.lora_A.default.weight", "m.q_proj.lora_B.default.weight"


def _fed(clients=10, rounds=3, q=1.0, **privacy) -> FederatedConfig:
    return FederatedConfig(clients=clients, rounds=rounds, client_fraction=q, privacy=privacy)


def _convert(orders, rdp, delta):
    """RDP -> (epsilon, delta), Balle et al. 2020, Theorem 21."""
    eps = rdp - (np.log(delta) + np.log(orders)) / (orders - 1) + np.log((orders - 1) / orders)
    return eps.min()


def _exact_gaussian_epsilon(mu: float, delta: float) -> float:
    """The tight epsilon of a mu-GDP mechanism (Balle & Wang 2018; Dong et al. 2019)."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    def gap(e):
        return norm.cdf(-e / mu + mu / 2) - np.exp(e) * norm.cdf(-e / mu - mu / 2) - delta

    return brentq(gap, 0, 100)


@pytest.mark.parametrize(("sigma", "rounds"), [(1.0, 3), (4.0, 5)])
def test_every_client_every_round_is_the_composed_gaussian_mechanism(sigma, rounds):
    # q = 1: R Gaussian mechanisms have RDP R*alpha/(2 sigma^2); a dense grid of orders.
    ours = budget(_fed(rounds=rounds, noise_multiplier=sigma, delta=1e-5), rounds)["epsilon"]
    orders = np.linspace(1.001, 600, 200_000)
    reference = _convert(orders, rounds * orders / (2 * sigma**2), 1e-5)
    assert ours == pytest.approx(reference, rel=1e-4)
    # RDP is an upper bound of the tight value (R rounds are sqrt(R)/sigma-GDP), and close to it.
    exact = _exact_gaussian_epsilon(np.sqrt(rounds) / sigma, 1e-5)
    assert exact < ours < 1.1 * exact


def test_poisson_sampled_clients_match_the_binomial_rdp_formula():
    from scipy.special import gammaln, logsumexp

    q, sigma, rounds, delta = 0.5, 1.1, 10, 1e-5

    def rdp(alpha: int) -> float:  # Mironov, Talwar, Zhang 2019: integer orders, exact
        k = np.arange(alpha + 1)
        log_binom = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)
        terms = (
            log_binom + (alpha - k) * np.log1p(-q) + k * np.log(q) + (k * k - k) / (2 * sigma**2)
        )
        return rounds * logsumexp(terms) / (alpha - 1)

    orders = np.arange(2, 513)
    reference = _convert(orders.astype(float), np.array([rdp(a) for a in orders]), delta)
    ours = budget(_fed(q=q, noise_multiplier=sigma, delta=delta), rounds)["epsilon"]
    assert reference * 0.99 < ours <= reference + 1e-9  # ours adds fractional orders: tighter


def test_default_delta_is_below_one_over_the_clients_and_noise_zero_is_no_guarantee():
    assert default_delta(3) == 1e-5 and default_delta(1_000_000) == pytest.approx(1e-7)
    spent = budget(_fed(clients=3, noise_multiplier=0.0), 3)
    assert spent["epsilon"] is None and spent["delta"] == 1e-5


# --- the server's strategy, driven by hand with fake clients -----------------------------------


class _Local:
    """What the strategy needs of a LocalModel: the initial adapter and the trained names."""

    def __init__(self, size: int = 6) -> None:
        rng = np.random.default_rng(0)
        self.initial = {
            A: rng.normal(size=(2, size)).astype(np.float32),
            B: np.zeros((size, 2), dtype=np.float32),
        }
        self.trained = [B]


def _strategy(fed: FederatedConfig, local: _Local, records: list | None = None):
    from tunesmith.federated.strategy import make_strategy

    log = records.append if records is not None else lambda record: None
    recipe = SimpleNamespace(federated=fed, training=training_config())
    return make_strategy(recipe, local, [], log)


def _round(strategy, local: _Local, updates: list, examples: list | None = None):
    """One round: every client sends (its instruction's B + update); the released B."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.client_manager import SimpleClientManager

    manager = SimpleClientManager()
    for i in range(len(updates)):
        manager.register(_proxy(str(i)))
    start = strategy.initialize_parameters(manager)
    instructions = strategy.configure_fit(1, start, manager)
    digest = Wire(local.initial, local.trained).digest
    results = []
    for i, ((proxy, ins), update) in enumerate(zip(instructions, updates)):
        (b,) = parameters_to_ndarrays(ins.parameters)
        sampled = int(ins.config.get("sampled", 1))
        sent = b + update if sampled else b
        metrics = {"client": i, "frozen": digest, "sampled": sampled, "loss": 1.0}
        params = ndarrays_to_parameters([sent.astype(np.float32)])
        n = examples[i] if examples else 5
        results.append((proxy, FitRes(Status(Code.OK, ""), params, n, metrics)))
    released, _ = strategy.aggregate_fit(1, results, [])
    flags = [int(ins.config.get("sampled", 1)) for _, ins in instructions]
    return parameters_to_ndarrays(released)[0], flags


def _proxy(cid: str):
    from flwr.server.client_proxy import ClientProxy

    class Proxy(ClientProxy):
        def get_properties(self, *args, **kwargs):
            raise NotImplementedError

        get_parameters = fit = evaluate = reconnect = get_properties

    return Proxy(cid)


def _updates(count: int, seed: int = 1, scale: float = 0.01) -> list:
    rng = np.random.default_rng(seed)
    return [(scale * rng.normal(size=(6, 2))).astype(np.float32) for _ in range(count)]


def test_one_client_moves_the_aggregate_by_at_most_clip_norm_over_n():
    local, clip, n = _Local(), 0.5, 3
    fed = _fed(clients=n, noise_multiplier=0.0, clip_norm=clip)
    honest = _updates(n - 1)
    huge = np.full((6, 2), 1e6, dtype=np.float32)
    records = []
    with_huge, _ = _round(_strategy(fed, local, records), local, [huge, *honest])
    with_nothing, _ = _round(_strategy(fed, local), local, [np.zeros_like(huge), *honest])
    # The huge update is clipped to norm exactly `clip`, then averaged over n clients.
    assert np.linalg.norm(with_huge - with_nothing) == pytest.approx(clip / n, rel=1e-5)
    # The round's record: the norms before clipping, and one client clipped.
    assert records[0]["update_norms"][0] == pytest.approx(1e6 * np.sqrt(12), rel=1e-6)
    assert records[0]["clipped"] == 1 and records[0]["clients"] == [1, 2, 3]


def test_no_noise_and_a_huge_clip_is_the_non_private_fedavg():
    local, updates = _Local(), _updates(3)
    plain, _ = _round(_strategy(FederatedConfig(clients=3), local), local, updates)
    private = _strategy(_fed(clients=3, noise_multiplier=0.0, clip_norm=1e9), local)
    released, _ = _round(private, local, updates)
    # Flower clips in place as start + (sent - start): float32 rounding, no more.
    np.testing.assert_allclose(released, plain, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(plain, np.mean(updates, axis=0), rtol=1e-6, atol=1e-9)


def test_private_clients_weigh_the_same_whatever_their_size():
    local, updates = _Local(), _updates(2)
    fed = _fed(clients=2, noise_multiplier=0.0, clip_norm=1e9)
    released, _ = _round(_strategy(fed, local), local, updates, examples=[100, 1])
    np.testing.assert_allclose(released, (updates[0] + updates[1]) / 2, rtol=1e-6)


def test_poisson_rounds_divide_the_sampled_updates_by_q_times_n():
    local, n, q = _Local(), 4, 0.5
    updates = _updates(n, scale=0.001)
    fed = _fed(clients=n, q=q, noise_multiplier=0.0, clip_norm=1e9)
    released, flags = _round(_strategy(fed, local), local, updates)
    expected = sum(u for u, f in zip(updates, flags) if f) / (q * n)
    np.testing.assert_allclose(released, expected, rtol=1e-5, atol=1e-9)


def test_noise_has_the_stated_std_and_does_not_follow_the_seed():
    local, n, sigma, clip = _Local(size=5000), 4, 2.0, 0.5
    fed = _fed(clients=n, noise_multiplier=sigma, clip_norm=clip)
    zeros = [np.zeros((5000, 2), dtype=np.float32)] * n
    np.random.seed(0)
    first, _ = _round(_strategy(fed, local), local, zeros)
    after_first = np.random.rand()
    np.random.seed(0)
    second, _ = _round(_strategy(fed, local), local, zeros)
    assert np.std(first) == pytest.approx(sigma * clip / n, rel=0.03)  # Flower: sigma*C/(q*N)
    assert not np.allclose(first, second)  # the recipe's seed does not predict the noise
    np.random.seed(0)
    assert np.random.rand() == after_first  # and the global generator is left as it was


def test_a_client_whose_frozen_a_differs_is_refused():
    local = _Local()
    strategy = _strategy(FederatedConfig(clients=2), local)
    other = _Local()
    other.initial[A] = other.initial[A] + 1
    with pytest.raises(ValueError, match="client 1: its frozen adapter tensors differ"):
        _round(strategy, other, _updates(2))


# --- the recipe -------------------------------------------------------------------------------


def test_linear_aggregations_are_the_registered_ones_that_combine_linearly():
    # freeze_a's combine is a weighted mean; svd's is not (its product re-factorised).
    assert set(LINEAR_AGGREGATIONS) <= set(AGGREGATIONS.names())
    assert "svd" not in LINEAR_AGGREGATIONS


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("noise_multiplier=-1", "federated.privacy.noise_multiplier"),
        ("clip_norm=0", "federated.privacy.clip_norm"),
        ("delta=0", "federated.privacy.delta"),
        ("delta=1", "federated.privacy.delta"),
    ],
)
def test_bad_privacy_settings_are_one_line_naming_the_key(
    tmp_path, tiny_model_dir, setting, message
):
    from test_federated import _write_recipe

    from tunesmith.config.loader import load_recipe

    recipe = _write_recipe(tmp_path, tiny_model_dir)
    with pytest.raises(UserError, match=message.replace(".", r"\.")) as caught:
        load_recipe(recipe, [f"federated.privacy.{setting}"])
    assert "\n" not in str(caught.value)


def test_privacy_with_svd_aggregation_is_refused_by_validate_with_exit_2(tmp_path, tiny_model_dir):
    from test_federated import _cli, _write_recipe

    recipe = _write_recipe(tmp_path, tiny_model_dir, aggregation="svd")
    done = _cli("validate", recipe, "--set", "federated.privacy.noise_multiplier=1")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "needs aggregation freeze_a, not svd" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


# --- a whole private run ------------------------------------------------------------------------


PRIVATE = {"noise_multiplier": 0.8, "clip_norm": 0.5}


def test_private_simulation_reports_epsilon_everywhere(tmp_path, tiny_model_dir):
    from test_federated import _cli, _write_recipe

    recipe = _write_recipe(tmp_path, tiny_model_dir, baselines=False, privacy=PRIVATE)
    run = tmp_path / "run"
    done = _cli("run", recipe, "-o", run)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = budget(_fed(clients=3, rounds=2, **PRIVATE), 2)["epsilon"]
    report = json.loads((run / "train" / "federated.json").read_text())
    assert report["privacy"]["epsilon"] == pytest.approx(expected)
    assert [len(r["update_norms"]) for r in report["rounds"]] == [3, 3]
    summary = json.loads((run / "train" / "summary.json").read_text())
    assert summary["privacy"]["delta"] == 1e-5
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["federated"]["result"]["epsilon"] == pytest.approx(expected)
    printed = " ".join((done.stdout + done.stderr).split())  # the console wraps long lines
    assert f"differential privacy (federated): epsilon {expected:.3g} at delta 1e-05" in printed
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert f"ε = {expected:.3g}" in page and "per <b>client</b>" in page
