"""The Flower client and the wire format shared with the server (strategy.py). Used by the
simulation and by the real server and client processes alike (transport.py).

Only the trained tensors travel (all of the adapter under svd, only B under freeze_a): the
frozen A is each side's own seeded init, checked equal by a digest the clients send. So what
the server aggregates, clips and noises (federated.privacy) is exactly what was trained.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tunesmith.artifacts.files import remove
from tunesmith.federated.partition import client_label, partition

_MODELS: dict = {}  # one LocalModel per process (a simulation worker serves several clients)


def local_model(recipe, run_dir):
    from tunesmith.federated.local import LocalModel

    key = (str(run_dir.root), recipe.model_dump_json())
    if key not in _MODELS:
        _MODELS[key] = LocalModel(recipe, run_dir)
    return _MODELS[key]


class Wire:
    """Which adapter tensors travel (the trained ones, by sorted name) and the frozen rest."""

    def __init__(self, initial: dict, trained: list[str]) -> None:
        self.names = sorted(trained)
        self.frozen = {name: v for name, v in initial.items() if name not in set(trained)}
        self.digest = digest(self.frozen)

    def arrays(self, state: dict) -> list:
        return [state[name] for name in self.names]

    def state(self, arrays: list) -> dict:
        """The whole adapter: the frozen tensors and the received trained ones."""
        return {**self.frozen, **dict(zip(self.names, arrays))}


def digest(state: dict) -> str:
    """A fingerprint of the frozen tensors: server and clients must hold the same A."""
    sha = hashlib.sha256()
    for name in sorted(state):
        sha.update(name.encode())
        sha.update(state[name].tobytes())
    return sha.hexdigest()[:16]


def client_plan(local, recipe, run_dir, index: int, examples: list[dict]):
    """Client `index`'s batch plan over all its rounds (train/plan.py: curriculum, replay),
    made once per process: Flower's simulation builds the client again every round."""
    fed = recipe.federated
    if index not in local.plans:
        folder = Path(run_dir.train) / "clients" / client_label(index)
        steps, seed = fed.rounds * fed.local_steps, recipe.training.seed + index
        local.plans[index] = local.plan(examples, local.encode(examples), steps, seed, folder)
    return local.plans[index]


def make_client(recipe, run_dir, index: int):
    """Client `index`'s Flower client: its partition of data/train.jsonl, trained locally."""
    from flwr.client import NumPyClient

    from tunesmith.artifacts import read_jsonl

    examples = partition(read_jsonl(run_dir.data / "train.jsonl"), recipe.federated)[index]
    local = local_model(recipe, run_dir)
    plan = client_plan(local, recipe, run_dir, index, examples)
    items = plan.items[: plan.train_count]
    wire = Wire(local.initial, local.trained)
    fed = recipe.federated

    class AdapterClient(NumPyClient):
        def get_parameters(self, config):
            return wire.arrays(local.initial)

        def fit(self, parameters, config):
            metrics = {"client": index, "frozen": wire.digest, "sampled": 1}
            if not int(config.get("sampled", 1)):  # DP: outside this round's Poisson sample
                return parameters, len(items), {**metrics, "sampled": 0, "loss": 0.0}
            round_ = int(config["round"])
            out = Path(run_dir.train) / "clients" / client_label(index) / f"round_{round_}"
            remove(out)  # what a stopped attempt's round left (resume.py): logged again now
            seed = recipe.training.seed + 1000 * round_ + index
            done = (round_ - 1) * fed.local_steps  # its schedule goes on over the rounds
            result = local.train(wire.state(parameters), plan, fed.local_steps, out, seed, done)
            return wire.arrays(local.state()), len(items), {**metrics, "loss": result["loss"]}

    return AdapterClient().to_client()
