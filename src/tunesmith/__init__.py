"""tunesmith: fine-tune a general LLM into a measurably better specialist for one task."""

__version__ = "0.1.0"
