"""Deployable exports of the tuned model: merged folder, GGUF files, int8 weights; model cards."""
