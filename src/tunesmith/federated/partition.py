"""Each client's share of data/train.jsonl: by a record field, or a seeded IID split."""

from __future__ import annotations

from tunesmith.errors import UserError

CLIENT_KEY = "client"  # where the data stage keeps federated.partition_field's value


def partition(examples: list[dict], federated) -> list[list[dict]]:
    """`federated.clients` lists of training examples, every example in exactly one list."""
    count = federated.clients
    if len(examples) < count:
        raise UserError(
            f"federated.clients: {count} clients but only {len(examples)} training examples "
            "in the train split; every client needs at least one"
        )
    if federated.partition_field:
        return _by_field(examples, federated)
    import random

    order = list(range(len(examples)))
    random.Random(federated.seed).shuffle(order)
    return [[examples[i] for i in sorted(order[k::count])] for k in range(count)]


def _by_field(examples: list[dict], federated) -> list[list[dict]]:
    owners = sorted({str(e.get(CLIENT_KEY)) for e in examples})
    if len(owners) != federated.clients:
        shown = ", ".join(owners[:10])
        raise UserError(
            f"federated.partition_field '{federated.partition_field}': {len(owners)} distinct "
            f"values in data/train.jsonl ({shown}) but federated.clients is {federated.clients}"
        )
    return [[e for e in examples if str(e.get(CLIENT_KEY)) == owner] for owner in owners]


def client_label(index: int) -> str:
    """Row and folder name of client `index` (0-based): client_1, client_2, ..."""
    return f"client_{index + 1}"


def check_federated(recipe, train: list[dict]) -> str:
    """Pre-flight: Flower (and Ray for the simulation) importable, and the split possible on the
    training examples before curation (the stage checks again after it)."""
    import importlib.util

    fed = recipe.federated
    needed = ["flwr"] + (["ray"] if fed.server_address is None else [])
    needed += ["opacus"] if fed.privacy is not None else []  # its privacy accountant
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"federated: {', '.join(missing)} not installed; run make setup (docs/federated.md)"
        )
    sizes = [len(share) for share in partition(train, fed)]
    line = f"federated: ok ({fed.clients} clients of {min(sizes)}-{max(sizes)} examples)"
    if fed.privacy is not None:
        from tunesmith.federated.privacy import budget, describe

        line += f"; differential privacy: {describe(budget(fed, fed.rounds))}"
    return line
