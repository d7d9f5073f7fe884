"""The `federated:` section: federated LoRA fine-tuning with Flower (docs/federated.md).

The aggregation names are the ones registered in `tunesmith.federated.aggregation` (a test keeps
them equal); the recipe stays torch- and flwr-free.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunesmith.config.base import Section, rule
from tunesmith.config.privacy import PrivacyConfig

AGGREGATIONS = ("freeze_a", "svd")
# The aggregations that are linear in the clients' updates: Flower's clipping and noise on what
# the clients send is then a calibrated Gaussian mechanism (docs/federated.md, "Privacy").
LINEAR_AGGREGATIONS = ("freeze_a",)


class FederatedConfig(Section):
    clients: int = Field(
        3, ge=1, description="Number of clients, each training on its own data partition."
    )
    partition_field: str | None = Field(
        None,
        description="Field of each training record naming the client that owns it (one client "
        "per distinct value; their number must equal `clients`). Default: a seeded IID split "
        "of data/train.jsonl into `clients` parts.",
    )
    seed: int = Field(0, description="Seed of the IID split and of client sampling.")
    rounds: int = Field(3, ge=1, description="Federated rounds (train locally, then aggregate).")
    client_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of the clients that train in each round (at least one). With "
        "`privacy`: each client's probability of training in a round (independent Poisson "
        "sampling, drawn from the OS's entropy, as the privacy accountant assumes).",
    )
    local_steps: int = Field(
        5, ge=1, description="Optimizer steps each selected client takes per round."
    )
    aggregation: Literal["freeze_a", "svd"] = Field(
        "freeze_a",
        description="How the server averages LoRA adapters. Averaging A and B separately is not "
        "averaging their product B·A, so: freeze_a = A stays at its shared seeded init and only "
        "B trains and is averaged (FFA-LoRA; exact); svd = both train, the server averages the "
        "products ΔW = B·A and re-factorises the mean by truncated SVD at rank r (exact when "
        "the mean has rank <= r, else its best rank-r approximation).",
    )
    baselines: bool = Field(
        True,
        description="Also train centralised LoRA on the union of the clients' data and each "
        "client alone (same steps: rounds x local_steps); evaluated as rows `centralised` and "
        "`client_1`... next to the federated (tuned) model.",
    )
    server_address: str | None = Field(
        None,
        description="host:port where the federated stage serves real Flower clients (started "
        "with `tunesmith federated client`); default: a local simulation of all clients "
        "(flwr.simulation.run_simulation). Set by `tunesmith federated server --address`.",
    )
    privacy: PrivacyConfig | None = Field(
        None,
        description="User-level central differential privacy of the aggregated adapter (off "
        "unless given): each client's update clipped, Gaussian noise added to the aggregate, "
        "the (epsilon, delta) budget reported. Needs aggregation freeze_a.",
    )

    @model_validator(mode="after")
    @rule(f"with privacy: {' or '.join(LINEAR_AGGREGATIONS)}", "aggregation")
    def _privacy_needs_a_linear_aggregation(self):
        if self.privacy is not None and self.aggregation not in LINEAR_AGGREGATIONS:
            raise ValueError(
                f"federated.privacy: needs aggregation {' or '.join(LINEAR_AGGREGATIONS)}, not "
                f"{self.aggregation}: its re-factorised mean is not linear in the clients' "
                "updates, so clipping what they send does not bound one client's effect on it "
                "and the noise would not be calibrated"
            )
        return self
