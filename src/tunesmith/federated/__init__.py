"""Federated LoRA fine-tuning with Flower: clients train locally, the server aggregates."""
