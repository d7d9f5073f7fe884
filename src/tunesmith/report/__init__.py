"""The report: a self-contained HTML page built from the run folder (read-only consumer)."""
