"""`tunesmith tune`: a driver above the pipeline that searches recipes with Optuna.

It composes trial recipes through `config.overrides`, curates the data once, runs each trial's
train stage in its own run folder under hpo/trials/, and never reads the test split until the
final best-vs-default runs.
"""
