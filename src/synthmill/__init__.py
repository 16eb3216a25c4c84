"""synthmill: make synthetic training data, and make it safe to train on."""

from importlib.metadata import PackageNotFoundError, version

from synthmill.api import generate
from synthmill.errors import ConfigError, SynthmillError
from synthmill.pipeline import Check, GlobalStage, Output, Pipeline, Source, Stage, StageContext
from synthmill.records import Meta, Record, Verdict

try:
    __version__ = version("synthmill")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "Check",
    "ConfigError",
    "GlobalStage",
    "Meta",
    "Output",
    "Pipeline",
    "Record",
    "Source",
    "Stage",
    "StageContext",
    "SynthmillError",
    "Verdict",
    "__version__",
    "generate",
]
