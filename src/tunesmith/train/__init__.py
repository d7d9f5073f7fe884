"""The training stage: adapter fine-tuning with resumable checkpoints and early stopping."""
