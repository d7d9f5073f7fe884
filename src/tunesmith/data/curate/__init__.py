"""Data curation steps: each a registered step configured in the recipe's data.curation."""

from tunesmith.data.curate.pipeline import CurationContext, post_split, pre_split

__all__ = ["CurationContext", "pre_split", "post_split"]
