"""The pretrain stage: continued pre-training on raw domain text, chained into fine-tuning."""
