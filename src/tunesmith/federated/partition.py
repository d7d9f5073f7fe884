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
            "in data/train.jsonl; every client needs at least one"
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
