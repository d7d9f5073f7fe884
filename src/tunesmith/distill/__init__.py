"""Knowledge distillation: a shallower student trained on the tuned teacher's soft targets."""
