"""Measurement: diversity and homogeneity of a dataset (tails and fidelity live beside it)."""
