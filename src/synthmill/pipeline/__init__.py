"""The engine: stages, the pipeline that chains them, executors, and the run directory."""

from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.stage import Check, GlobalStage, Source, Stage, StageContext

__all__ = ["Check", "GlobalStage", "Output", "Pipeline", "Source", "Stage", "StageContext"]
