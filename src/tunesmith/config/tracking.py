"""The `tracking:` recipe section: experiment trackers and energy measurement.

A leaf: the backend names are listed here and a test keeps them equal to the tracker
registry (`tunesmith.tracking.TRACKERS`), so the schema never imports a component.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tunesmith.config.base import Section, adds_no_rule, rule

TRACKER_NAMES = ("mlflow", "tensorboard", "wandb")
DEFAULT_COUNTRY = "USA"


class MlflowSettings(Section):
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (sqlite:///path.db, file:, http(s)://server). Default: "
        "a SQLite store in the run folder, sqlite:///<run>/tracking/mlflow.db; for a search's "
        "trials or a group's members, one store in the search or group folder, their runs "
        "nested under its own run.",
    )
    experiment: str = Field("tunesmith", description="MLflow experiment the runs are filed in.")


class WandbSettings(Section):
    project: str = Field("tunesmith", description="Weights & Biases project.")
    entity: str | None = Field(None, description="W&B entity (team or user); default: yours.")
    mode: Literal["offline", "online"] = Field(
        "offline",
        description="offline: write W&B run files into <run>/tracking/wandb (a search's or "
        "group's: <folder>/tracking/wandb; no network; `wandb sync` uploads them later); "
        "online: log to the W&B server (needs a login).",
    )


class TensorboardSettings(Section):
    log_dir: str | None = Field(
        None,
        description="TensorBoard log folder; default <run>/tracking/tensorboard (one "
        "sub-folder per stage; a search's or group's run folders write under the search or "
        "group folder's, by their path there: trials/trial-0003/train). A folder given here "
        "may be shared by run folders: each writes into <log_dir>/<group>/<stage>, its group "
        "being its name and 8 random hex digits (manifest.json's tracking_group; a search's "
        "or group's run folders share its group).",
    )


class EnergySettings(Section):
    enabled: bool = Field(
        True,
        description="Measure energy (kWh) and CO2e per stage with codecarbon, offline, when "
        "it is installed (`pip install tunesmith[energy]`); a note otherwise.",
    )
    country_iso_code: str = Field(
        DEFAULT_COUNTRY,
        description="ISO 3166-1 alpha-3 country whose electricity mix converts kWh to CO2e "
        f"(codecarbon's offline data); default {DEFAULT_COUNTRY}.",
    )
    scope: Literal["process", "machine"] = Field(
        "process",
        description="process: count the energy share of tunesmith's own process (other "
        "programs on the machine excluded); machine: the whole machine's draw.",
    )
    measure_power_secs: float = Field(
        5.0, gt=0, description="Seconds between codecarbon's power readings."
    )

    @field_validator("country_iso_code")
    @classmethod
    @rule("3 letters")
    def _alpha3(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-3 code (e.g. USA, FRA, DEU)")
        return value.upper()


class TrackingConfig(Section):
    backends: list[Literal["mlflow", "tensorboard", "wandb"]] = Field(
        default_factory=list,
        description="Experiment trackers every stage logs to, besides the run folder's own "
        "JSONL log (always on): mlflow, tensorboard, wandb (`pip install tunesmith[tracking]`).",
    )
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    wandb: WandbSettings = Field(default_factory=WandbSettings)
    tensorboard: TensorboardSettings = Field(default_factory=TensorboardSettings)
    energy: EnergySettings = Field(default_factory=EnergySettings)

    @field_validator("backends")
    @classmethod
    @adds_no_rule  # a repeated name is dropped, not refused
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))
