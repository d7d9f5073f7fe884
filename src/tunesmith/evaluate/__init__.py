"""The evaluate stage: base vs tuned on the held-out test split."""
