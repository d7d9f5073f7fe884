"""The Flower side: a client that trains its partition locally, a FedAvg strategy whose
aggregation is the recipe's LoRA-aware one (aggregation.py). Used by the simulation and by the
real server and client processes alike (transport.py)."""

from __future__ import annotations

import math
from pathlib import Path

from tunesmith.federated.aggregation import AGGREGATIONS
from tunesmith.federated.partition import client_label, partition

_MODELS: dict = {}  # one LocalModel per process (a simulation worker serves several clients)


def local_model(recipe, run_dir):
    from tunesmith.federated.local import LocalModel

    key = (str(run_dir.root), recipe.model_dump_json())
    if key not in _MODELS:
        _MODELS[key] = LocalModel(recipe, run_dir)
    return _MODELS[key]


def to_arrays(state: dict) -> list:
    return [state[name] for name in sorted(state)]


def from_arrays(arrays: list, names: list[str]) -> dict:
    return dict(zip(names, arrays))


def make_client(recipe, run_dir, index: int):
    """Client `index`'s Flower client: its partition of data/train.jsonl, trained locally."""
    from flwr.client import NumPyClient

    from tunesmith.artifacts import read_jsonl

    examples = partition(read_jsonl(run_dir.data / "train.jsonl"), recipe.federated)[index]
    local = local_model(recipe, run_dir)
    items = local.encode(examples)
    names = sorted(local.initial)
    fed = recipe.federated

    class AdapterClient(NumPyClient):
        def get_parameters(self, config):
            return to_arrays(local.initial)

        def fit(self, parameters, config):
            round_ = int(config["round"])
            out = Path(run_dir.train) / "clients" / client_label(index) / f"round_{round_}"
            seed = recipe.training.seed + 1000 * round_ + index
            state = from_arrays(parameters, names)
            result = local.train(state, items, fed.local_steps, out, seed)
            return to_arrays(local.state()), len(items), {"loss": result["loss"], "client": index}

    return AdapterClient().to_client()


def make_strategy(recipe, local, val_items, log):
    """FedAvg over the clients, aggregating with the recipe's aggregation; `log(record)` gets
    each round's clients, training loss and the aggregated adapter's validation perplexity."""
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    fed = recipe.federated
    aggregation = AGGREGATIONS.get(fed.aggregation)
    names = sorted(local.initial)

    class AdapterFedAvg(FedAvg):
        def aggregate_fit(self, server_round, results, failures):
            if failures:  # a lost client would silently change the average: stop instead
                raise RuntimeError(f"round {server_round}: {len(failures)} client(s) failed")
            states = [from_arrays(parameters_to_ndarrays(r.parameters), names) for _, r in results]
            weights = [r.num_examples for _, r in results]
            self.latest = aggregation.combine(states, weights)
            record = {
                "round": server_round,
                "clients": sorted(int(r.metrics["client"]) + 1 for _, r in results),
                "examples": int(sum(weights)),
                "train_loss": _weighted([float(r.metrics["loss"]) for _, r in results], weights),
            }
            if val_items:
                record["val_ppl"] = local.val_perplexity(self.latest, val_items)
            self.rounds_done = server_round
            log(record)
            return ndarrays_to_parameters(to_arrays(self.latest)), {}

    strategy = AdapterFedAvg(
        fraction_fit=fed.client_fraction,
        fraction_evaluate=0.0,  # the server validates the aggregated adapter itself
        # Flower sizes a round by the clients connected so far: a floor keeps late joiners in.
        min_fit_clients=max(1, math.ceil(fed.clients * fed.client_fraction)),
        min_evaluate_clients=0,
        min_available_clients=fed.clients,
        on_fit_config_fn=lambda server_round: {"round": server_round},
        accept_failures=False,
        initial_parameters=ndarrays_to_parameters(to_arrays(local.initial)),
    )
    strategy.latest, strategy.rounds_done = dict(local.initial), 0
    return strategy


def _weighted(values: list[float], weights: list[int]) -> float:
    return sum(v * w for v, w in zip(values, weights)) / max(sum(weights), 1)
