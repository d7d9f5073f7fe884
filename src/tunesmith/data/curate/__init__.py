"""Data curation steps: each a registered step configured in the recipe's data.curation."""

# Importing the step modules registers them (each is light: heavy imports live in functions).
from tunesmith.data.curate import augment, balance, checks, clean, dedup, leakage, pii  # noqa: F401
from tunesmith.data.curate.base import CURATION_STEPS, Step, StepOutput
from tunesmith.data.curate.pipeline import CurationContext, post_split, pre_split

__all__ = ["CURATION_STEPS", "CurationContext", "Step", "StepOutput", "pre_split", "post_split"]
