"""`federated.privacy`: user-level central differential privacy (docs/federated.md, "Privacy")."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class PrivacyConfig(Section):
    noise_multiplier: float = Field(
        1.0,
        ge=0,
        description="Standard deviation of the Gaussian noise added to the sum of the clipped "
        "client updates, in units of clip_norm (Flower's noise_multiplier). Larger: more "
        "private (smaller epsilon), noisier adapter. 0 adds no noise: no privacy guarantee.",
    )
    clip_norm: float = Field(
        1.0,
        gt=0,
        description="Each client's update of the adapter (what it sends minus what it got, "
        "all tensors together) is scaled down to at most this L2 norm, which bounds one "
        "client's influence on the aggregate. The rounds in train/federated.json report the "
        "updates' norms before clipping, to choose it.",
    )
    delta: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="The delta of the reported (epsilon, delta) guarantee: the probability "
        "allowed for it to fail. Default: min(1e-5, 0.1 / clients), well below 1/clients "
        "(a delta of 1/clients would allow releasing one whole client's data).",
    )
