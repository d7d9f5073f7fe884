"""Ensembles at the output (registered methods) and adapter merges of a run group's members."""
