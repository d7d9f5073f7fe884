"""The domain stage: perplexity of every evaluation row on the held-out pre-training slice."""
