"""Data curation steps: each a registered step configured in the recipe's data.curation."""

# Importing the step modules registers them (each is light: heavy imports live in functions).
from tunesmith.data.curate import (  # noqa: F401
    augment,
    balance,
    checks,
    clean,
    counterfactual,
    dedup,
    leakage,
    pii,
)
from tunesmith.data.curate.base import CURATION_STEPS, Step, StepOutput
from tunesmith.data.curate.pipeline import CurationContext, post_split, pre_split

__all__ = ["CURATION_STEPS", "CurationContext", "Step", "StepOutput", "pre_split", "post_split"]
