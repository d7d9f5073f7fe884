"""The recipe's name lists (a leaf, no torch) equal the registries that implement them."""

from __future__ import annotations

from tunesmith.config.curation import AUGMENT_METHODS
from tunesmith.config.schema import METRIC_NAMES
from tunesmith.config.strategies import PACINGS, SCORERS
from tunesmith.config.training import METHOD_NAMES


def test_schema_name_lists_equal_the_registries():
    import tunesmith.metrics  # noqa: F401  (registers the metrics)
    from tunesmith.data.curate import augment_model, augment_noise, augment_translate  # noqa: F401
    from tunesmith.data.curate.augment import AUGMENTERS
    from tunesmith.methods import METHODS
    from tunesmith.metrics.registry import METRICS
    from tunesmith.train import curriculum

    assert sorted(METHOD_NAMES) == METHODS.names()
    assert sorted(SCORERS) == curriculum.SCORERS.names()
    assert sorted(PACINGS) == curriculum.PACINGS.names()
    assert sorted(AUGMENT_METHODS) == AUGMENTERS.names()
    # perplexity comes from the model's loss, the others are registered text metrics
    assert set(METRIC_NAMES) == {"perplexity", *METRICS.names()}
