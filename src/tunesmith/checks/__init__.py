"""Model risk checks: forgetting, robustness, bias, explainability, triggers (docs/checks.md)."""
