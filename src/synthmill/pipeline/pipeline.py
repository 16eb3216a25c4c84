"""The Pipeline: a source, then stages, then an output. YAML and Python build the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from synthmill.errors import ConfigError
from synthmill.pipeline.config import apply_overrides, describe, load_yaml, validate
from synthmill.pipeline.function import FunctionStage
from synthmill.pipeline.portable import portable_path
from synthmill.pipeline.preflight import check_requirements
from synthmill.pipeline.registry import stage_class
from synthmill.pipeline.stage import Source, Stage

if TYPE_CHECKING:
    from synthmill.pipeline.progress import Progress
    from synthmill.pipeline.runner import RunResult


class Output(BaseModel):
    """Where and how the final dataset is written."""

    model_config = ConfigDict(extra="forbid")
    dir: Path = Field(description="Run directory; created if missing, resumed if present.")
    format: Literal["parquet", "jsonl"] = "parquet"
    # File layout only: publish re-cuts the same rows, so (like everything in output but
    # format) these stay out of the run fingerprint and a finished run may be re-published.
    file_rows: int = Field(
        default=100_000, ge=1, description="About the most rows per file in data/."
    )
    file_mb: int = Field(
        default=256,
        ge=1,
        description="About the most MiB (uncompressed) per file in data/; files are cut "
        "evenly so that neither limit is passed.",
    )


class Pipeline(BaseModel):
    """A named, seeded list of stages whose first stage is a Source."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str = "pipeline"
    seed: int = 0
    shard_size: int = Field(
        default=1000,
        ge=1,
        description="Rows per checkpointed shard. Unset, a segment of whole-table stages "
        "(read, length and dedup, no model calls) uses shards of about 8 MiB instead.",
    )
    backend: dict[str, Any] | None = Field(
        default=None, description="Default model backend for every stage that has a backend."
    )
    cache: bool = Field(
        default=True, description="Reuse cached model responses (SYNTHMILL_CACHE_DIR)."
    )
    max_failed_share: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Largest share of a stage's rows that may fail for transient reasons "
        "(timeouts, server errors) before the run ends with exit code 3; rerun to retry them.",
    )
    allow_empty: bool = Field(
        default=False,
        description="Publish an empty dataset (exit 0) when the stages reject every row; "
        "otherwise such a run publishes nothing and ends with exit code 1.",
    )
    executor: Literal["local", "ray"] = Field(
        default="local",
        description="Where the shards run: in this process (each stage's own executor), or "
        "as Ray tasks, one per shard (needs synthmill[ray]); the rows are the same.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster for executor: ray (HOST:PORT of the head, ray://HOST:PORT, "
        "auto); unset: $RAY_ADDRESS, else a local Ray started for the run.",
    )
    stages: list[Stage]
    output: Output

    @field_validator("stages", mode="before")
    @classmethod
    def _wrap_functions(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [FunctionStage(function=s) if callable(s) else s for s in value]

    @model_validator(mode="after")
    def _check_shape(self) -> Pipeline:
        if not self.stages or not isinstance(self.stages[0], Source):
            raise ValueError("the first stage must be a source such as 'read' or a recipe")
        if any(isinstance(s, Source) for s in self.stages[1:]):
            raise ValueError("only the first stage may be a source")
        self._apply_backend()
        self._name_stages()
        check_requirements(self.stages)
        if self.executor == "ray" or any(s.executor == "ray" for s in self.stages):
            from synthmill.pipeline.ray_executor import require_ray

            require_ray("executor: ray")
        return self

    def _apply_backend(self) -> None:
        """Validate `backend` (used or not) and give it to each stage that set none.

        One rule for YAML and Python: a stage's own `backend` wins; otherwise the
        pipeline's, instead of the stage's default, also for a backend nested in an option
        (decontaminate's `semantic.backend`).
        """
        if self.backend is None:
            return
        from synthmill.llm.registry import make_backend

        make_backend(self.backend, "backend")
        for i, stage in enumerate(self.stages):
            self.stages[i] = with_default_backend(stage, self.backend)

    def _name_stages(self) -> None:
        seen: dict[str, int] = {}
        for stage in self.stages:
            label = stage.label
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                if stage.name is not None:
                    raise ValueError(f"two stages are named {label!r}; names must be unique")
                stage.name = f"{label}-{seen[label]}"

    # ---- YAML <-> Python -------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Pipeline:
        """Build from a plain dict (parsed YAML), with one-line errors naming the key."""
        config = dict(config)
        stages = config.get("stages")
        if not isinstance(stages, list) or not stages:
            raise ConfigError("stages: required list of stages is missing or empty; add one")
        backend = config.get("backend")
        if backend is not None:  # checked even when no stage uses it
            from synthmill.llm.registry import make_backend

            make_backend(backend, "backend")
        config["stages"] = [_build_stage(s, i, backend) for i, s in enumerate(stages)]
        try:
            return cls.model_validate(config)
        except ValidationError as exc:
            raise ConfigError(describe(exc, cls, "")) from None

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> Pipeline:
        config = apply_overrides(load_yaml(path), overrides or [], set(cls.model_fields))
        return cls.from_config(config)

    def to_config(self) -> dict[str, Any]:
        """The plain-dict form; from_config(to_config()) rebuilds an equal pipeline."""
        head = self.model_dump(mode="json", exclude={"stages", "output", "backend"})
        defaults = {"executor": "local", "ray_address": None, "allow_empty": False}  # if set
        head = {k: v for k, v in head.items() if k not in defaults or v != defaults[k]}
        config: dict[str, Any] = {**head}
        if self.backend is not None:
            config["backend"] = self.backend
        config["stages"] = [s.to_config() for s in self.stages]
        output = self.output.model_dump(mode="json")
        config["output"] = {**output, "dir": portable_path(output["dir"])}
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_config(), sort_keys=False, allow_unicode=True)

    def run(self, *, progress: Progress | None = None, overwrite: bool = False) -> RunResult:
        """Run (or resume) this pipeline into output.dir."""
        from synthmill.pipeline.runner import Runner

        return Runner(self, progress=progress, overwrite=overwrite).run()


M = TypeVar("M", bound=BaseModel)


def with_default_backend(model: M, backend: dict[str, Any]) -> M:
    """`model` with `backend` given to each backend option it left unset, at any depth of
    nested options (never one set explicitly, so a stage's own backend wins)."""
    from synthmill.llm.base import Backend
    from synthmill.llm.registry import make_backend

    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, Backend):
            if name not in model.model_fields_set:
                updates[name] = make_backend(backend, "backend")
        elif isinstance(value, BaseModel):
            inner = with_default_backend(value, backend)
            if inner is not value:
                updates[name] = inner
    return model.model_copy(update=updates) if updates else model


def _build_stage(spec: Any, index: int, backend: Any) -> Stage:
    where = f"stages.{index}"
    if isinstance(spec, Stage):
        return spec
    if not isinstance(spec, dict) or "use" not in spec:
        raise ConfigError(f"{where}: each stage needs a 'use:' key naming its kind")
    options = {k: v for k, v in spec.items() if k != "use"}
    cls = stage_class(str(spec["use"]), f"{where}.use")
    if backend is not None and "backend" in cls.model_fields and "backend" not in options:
        options["backend"] = backend
    return validate(cls, options, where)  # type: ignore[return-value]
