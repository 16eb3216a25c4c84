"""The collapse lab: recursive training on synthetic data under different data policies."""

from synthmill.collapse.base import Family
from synthmill.collapse.experiment import FAMILIES, make_family, run_experiment, run_family
from synthmill.collapse.policies import POLICIES, run_chain

__all__ = [
    "FAMILIES",
    "POLICIES",
    "Family",
    "make_family",
    "run_chain",
    "run_experiment",
    "run_family",
]
