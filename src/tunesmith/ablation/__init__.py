"""The pre-training ablation: a driver above the pipeline (no stage of its own)."""
