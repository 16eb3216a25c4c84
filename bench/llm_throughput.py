"""LLM throughput: synthmill versus llama-cpp-python called directly, and the openai backend.

    .venv/bin/python bench/llm_throughput.py        # writes bench/results/llm_throughput.json
    .venv/bin/python bench/llm_throughput.py --parts batched,quickstart   # keeps the others
    .venv/bin/python bench/llm_throughput.py --parts kernel      # bare llama-server curve

The same prompts, seeds and JSON schema go (1) straight to llama_cpp.Llama, (2) through
a synthmill pipeline on the embedded `llamacpp` backend (run directory, checkpoints,
Parquet and card included, response cache off), and (3) through the `openai` backend
against a local `python -m llama_cpp.server` at concurrency 1, 2 and 4. Direct and
synthmill runs alternate so that load from other processes hits both alike.

Batched decoding (`batched`, `quickstart`): the in-process engine (one sequence at a
time, the path before llama-server) against the llama-server engine at 1, 2, 4, 8 and 16
parallel sequences (on the Q4_1 file, the default, and on its Q8_0 copy at 1 and 8),
interleaved within each repeat; then examples/quickstart.yaml on each path, alternating,
on several seeds (which rows a seed keeps is luck of the draw, and differs by path),
counting kept rows per minute over all the runs of a path.

`kernel`: the ceiling, without synthmill: a bare llama-server (as the engine starts it)
decoding 1, 2, 4, 8 and 16 free-text sequences of 128 tokens at once, on 1 and 2
threads, on the Q4_1 file and its Q8_0 copy, with the server's CPU seconds a token: what
decoding B sequences at once saves per token on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel, Field

from bench._machine import machine
from synthmill.llm import BackendField, Request, backend_option, complete_structured
from synthmill.llm.llamacpp import default_model_path
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.stage import Stage, StageContext
from synthmill.records import Record
from synthmill.sources.range import Range

PROMPTS = 6
CURVE_PROMPTS = 16  # one batch of 16 structured calls per measurement
PARALLEL = (1, 2, 4, 8, 16)
QUICKSTART_N = 60  # the quickstart as it is (n: 60)
QUICKSTART_REPEATS = 2
QUICKSTART_SEEDS = (7, 8, 9)  # 7 is the example's own
KERNEL_SEQUENCES = (1, 2, 4, 8, 16)
KERNEL_TOKENS = 128
MAX_TOKENS = 64
THREADS = 1  # on 2 shared cores, 2 spinning llama.cpp threads lose badly to other load
REPEATS = 4
TOPICS = ["rivers", "bread", "chess", "volcanoes", "poetry", "bicycles", "tea", "stars"]
OUT = Path(__file__).resolve().parent / "results" / "llm_throughput.json"


class Task(BaseModel):
    # Length caps go into the JSON schema, so the grammar closes the object in time.
    instruction: str = Field(max_length=80)
    answer: str = Field(max_length=60)


def request(i: int) -> Request:
    text = f"Write one short instruction about {TOPICS[i % len(TOPICS)]} and its answer."
    schema = Task.model_json_schema()
    messages = ({"role": "user", "content": text},)
    return Request(messages=messages, json_schema=schema, max_tokens=MAX_TOKENS, seed=i)


class Generate(Stage):
    """One structured call per row, no retries, so the work equals the direct loop's."""

    kind: ClassVar[str] = "bench.generate"
    backend: BackendField = backend_option()

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        reqs = [request(r.data["index"]) for r in batch]
        results = complete_structured(self.backend, reqs, Task, ctx, retries=0)
        return [
            r.child(res.value.model_dump(), stage=self.label, **res.provenance())
            if res.value is not None
            else r.reject(self.label, res.reason or "", raw=res.rejection())
            for r, res in zip(batch, results, strict=True)
        ]


def direct(llm: Any, n: int = PROMPTS) -> dict[str, float]:
    """The baseline: the same calls straight into llama-cpp-python."""
    start, tokens, rows = time.perf_counter(), 0, 0
    for i in range(n):
        req = request(i)
        reply = llm.create_chat_completion(
            messages=list(req.messages),
            max_tokens=MAX_TOKENS,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            response_format={"type": "json_object", "schema": req.json_schema},
        )
        tokens += reply["usage"]["completion_tokens"]
        rows += _valid(reply["choices"][0]["message"]["content"])
    return _rates(time.perf_counter() - start, tokens, rows)


def through_synthmill(
    backend: dict[str, Any], n: int = PROMPTS, batch: int = PROMPTS
) -> dict[str, float]:
    """A full pipeline run (range -> generate -> publish) with the cache off."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = Generate(backend=backend, batch_size=batch)
        pipe = Pipeline(
            name="bench",
            stages=[Range(n=n), stage],
            output=Output(dir=Path(tmp)),
            cache=False,
        )
        start, cpu = time.perf_counter(), cpu_seconds()
        result = pipe.run()
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    counters = result.stats["stages"]["bench.generate"]["counters"]
    return _rates(seconds, counters.get("llm.completion_tokens", 0), result.rows, cpu)


def cpu_seconds() -> float:
    """CPU of this process (the in-process engine, synthmill) plus its llama-servers: the
    work a run costs, which the load of other processes on the machine does not change."""
    from synthmill.llm.llamacpp_server import _SERVERS

    own = os.times()
    total = own.user + own.system
    for server in list(_SERVERS.values()):
        if server.proc is not None and server.proc.poll() is None:
            total += _proc_cpu(server.proc.pid)
    return total


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _valid(text: str) -> int:
    try:
        Task.model_validate_json(text)
    except ValueError:
        return 0
    return 1


def _rates(seconds: float, tokens: int, rows: int, cpu: float | None = None) -> dict[str, float]:
    out = {
        "seconds": round(seconds, 3),
        "completion_tokens": tokens,
        "rows": rows,
        "tokens_per_s": round(tokens / seconds, 2),
        "rows_per_min": round(rows * 60 / seconds, 2),
    }
    if cpu is not None:  # rows per CPU-minute: what the path costs, whatever the load
        out["cpu_seconds"] = round(cpu, 2)
        out["rows_per_cpu_min"] = round(rows * 60 / cpu, 2)
    return out


def embedded() -> dict[str, Any]:
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=default_model_path(),
        n_ctx=2048,
        n_threads=THREADS,
        n_threads_batch=THREADS,  # as synthmill does; llama-cpp-python's default is all cores
        verbose=False,
    )
    backend = {"type": "llamacpp", "n_threads": THREADS, "engine": "python"}
    direct(llm, 1)  # warm up both paths: model load and first-call costs
    through_synthmill(backend, 1)
    runs: dict[str, list[dict[str, float]]] = {"direct": [], "synthmill": []}
    for repeat in range(REPEATS):  # alternate which goes first, so drifting load hits both
        order = ["direct", "synthmill"] if repeat % 2 == 0 else ["synthmill", "direct"]
        for name in order:
            runs[name].append(direct(llm) if name == "direct" else through_synthmill(backend))
        log(f"embedded repeat {repeat}: {runs['direct'][-1]} {runs['synthmill'][-1]}")
    median = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    ratio = median["synthmill"] / median["direct"]
    return {
        "runs": runs,
        "median_tokens_per_s": median,
        "median_rows_per_min": {
            k: statistics.median(r["rows_per_min"] for r in v) for k, v in runs.items()
        },
        "ratio_synthmill_to_direct": round(ratio, 3),
    }


def served() -> dict[str, Any]:
    """The openai backend against a local llama_cpp.server at concurrency 1, 2, 4."""
    from tests.llm.servers import MODEL_ALIAS, free_port, wait_ready

    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", default_model_path()]
    args += ["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--n_threads", str(THREADS), "--n_threads_batch", str(THREADS), "--verbose", "False"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(url, proc)
        backend = {"type": "openai", "model": MODEL_ALIAS, "base_url": url}
        through_synthmill(backend, 1)  # warm up: dialect probe, first call
        out = {}
        for c in (1, 2, 4):
            out[f"concurrency_{c}"] = through_synthmill({**backend, "concurrency": c})
            log(f"server concurrency {c}: {out[f'concurrency_{c}']}")
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


PYTHON_ENGINE = {"type": "llamacpp", "n_threads": THREADS, "engine": "python"}


def server_engine(parallel: int) -> dict[str, Any]:
    """The server at its default threads (all cores): its threads sleep, never spin."""
    return {"type": "llamacpp", "engine": "server", "parallel": parallel}


def batched() -> dict[str, Any]:
    """Tokens/s and rows/min of 16 structured calls: in-process vs llama-server at 1..16
    (the Q4_1 file as it is, the default) and on its Q8_0 copy at 1 and 8."""
    paths = {"python": PYTHON_ENGINE} | {f"server_{p}": server_engine(p) for p in PARALLEL}
    paths |= {f"server_q8_0_{p}": {**server_engine(p), "weights": "q8_0"} for p in (1, 8)}
    for backend in paths.values():  # warm up: model load, server start
        through_synthmill(backend, 1, 1)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for repeat in range(REPEATS // 2):  # in each repeat every path runs once, order reversed
        names = list(paths) if repeat % 2 == 0 else list(reversed(paths))
        for name in names:
            runs[name].append(through_synthmill(paths[name], CURVE_PROMPTS, CURVE_PROMPTS))
            log(f"batched repeat {repeat} {name}: {runs[name][-1]}")
    return _summary(runs, "python")


def quickstart() -> dict[str, Any]:
    """examples/quickstart.yaml (n: 60) on each seed: in-process at 1 thread and at all
    cores (the path before llama-server; the faster is the baseline), llama-server as the
    example runs it (the Q4_1 file, batches of 16 calls), with each model stage's 60
    calls as one batch, and on the Q8_0 copy (`weights: q8_0`). Rates are pooled over a
    path's runs (kept rows / seconds), since each seed keeps its own share of rows."""
    from synthmill import Pipeline

    example = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"
    one_batch = [f"stages.{i}.batch_size=64" for i in (1, 3)]  # question, answer
    paths: dict[str, tuple[dict[str, Any], list[str]]] = {
        "python_1_thread": (PYTHON_ENGINE, []),
        "python_all_cores": ({**PYTHON_ENGINE, "n_threads": os.cpu_count()}, []),
        "server": ({"type": "llamacpp"}, []),  # the example's own
        "server_one_batch": ({"type": "llamacpp"}, one_batch),
        "server_q8_0": ({"type": "llamacpp", "weights": "q8_0"}, []),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for repeat in range(QUICKSTART_REPEATS):
        names = list(paths) if repeat % 2 == 0 else list(reversed(paths))
        for seed in QUICKSTART_SEEDS:
            for name in names:
                backend, extra = paths[name]
                with tempfile.TemporaryDirectory() as tmp:
                    sets = [*extra, f"seed={seed}", f"stages.0.n={QUICKSTART_N}"]
                    sets += [f"backend={json.dumps(backend)}", f"output.dir={tmp}", "cache=false"]
                    start, cpu = time.perf_counter(), cpu_seconds()
                    result = Pipeline.from_yaml(example, sets).run()
                    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
                stages = result.stats["stages"].values()
                tokens = sum(s["counters"].get("llm.completion_tokens", 0) for s in stages)
                runs[name].append(_rates(seconds, tokens, result.rows, cpu))
                runs[name][-1] |= {"seed": seed, "load_average": os.getloadavg()[0]}
                log(f"quickstart repeat {repeat} seed {seed} {name}: {runs[name][-1]}")
    return _pooled(runs, "python_1_thread", "python_all_cores")


def _pooled(runs: dict[str, list[dict[str, float]]], *bases: str) -> dict[str, Any]:
    """Each path's kept rows and tokens over its seconds and CPU seconds, all runs pooled;
    ratios to the fastest of `bases`."""
    pooled: dict[str, dict[str, float]] = {}
    for name, rs in runs.items():
        seconds, cpu = sum(r["seconds"] for r in rs), sum(r["cpu_seconds"] for r in rs)
        rows, tokens = sum(r["rows"] for r in rs), sum(r["completion_tokens"] for r in rs)
        pooled[name] = {
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_min": round(rows * 60 / seconds, 2),
            "tokens_per_s": round(tokens / seconds, 2),
            "rows_per_cpu_min": round(rows * 60 / cpu, 2),
        }
    base = max(bases, key=lambda b: pooled[b]["rows_per_min"])
    ratios = {
        key: {k: round(v[key] / pooled[base][key], 2) for k, v in pooled.items()}
        for key in ("rows_per_min", "tokens_per_s", "rows_per_cpu_min")
    }
    return {"runs": runs, "pooled": pooled, "baseline": base, "ratio_to_baseline": ratios}


def kernel() -> dict[str, Any]:
    """Bare llama-server (started as the engine starts it): B free-text sequences of
    KERNEL_TOKENS at once, B in KERNEL_SEQUENCES, per threads and weights; tokens/s and
    the server's CPU milliseconds a token (what batching saves, whatever the load)."""
    from synthmill.llm.llamacpp import LlamaCppBackend
    from synthmill.llm.llamacpp_server import (
        _SAMPLING,
        LlamaServer,
        ServerSettings,
        find_binary,
        post,
    )

    out: dict[str, Any] = {}
    for weights in ("file", "q8_0"):
        model = LlamaCppBackend(weights=weights).served_path()
        for threads in (1, 2):
            binary = str(find_binary() or "llama-server")
            settings = ServerSettings(binary, model, 2048, threads, max(KERNEL_SEQUENCES))
            server = LlamaServer(settings)
            server.ensure()
            assert server.proc is not None
            pid = server.proc.pid

            def one(i: int, n: int = KERNEL_TOKENS, server: LlamaServer = server) -> Any:
                text = f"Tell me a story about {TOPICS[i % len(TOPICS)]}."
                body: dict[str, Any] = {"max_tokens": n, "temperature": 0.5, "seed": i}
                body |= _SAMPLING | {"ignore_eos": True}
                body["messages"] = [{"role": "user", "content": text}]
                return post(server, "/v1/chat/completions", body).json()

            curve: dict[str, dict[str, float]] = {}
            try:
                one(0, 8)  # warm: model pages, first-call costs
                for b in KERNEL_SEQUENCES:
                    cpu, start = _proc_cpu(pid), time.perf_counter()
                    with ThreadPoolExecutor(b) as pool:
                        replies = list(pool.map(one, range(b)))
                    seconds, cpu = time.perf_counter() - start, _proc_cpu(pid) - cpu
                    tokens = sum(r["usage"]["completion_tokens"] for r in replies)
                    curve[str(b)] = {
                        "tokens_per_s": round(tokens / seconds, 1),
                        "server_cpu_ms_per_token": round(1000 * cpu / tokens, 2),
                    }
                    log(f"kernel {weights} threads {threads} sequences {b}: {curve[str(b)]}")
            finally:
                server.stop()
            one_seq = curve["1"]["server_cpu_ms_per_token"]
            for point in curve.values():  # how much cheaper a token is than alone
                point["cpu_saving_vs_1"] = round(one_seq / point["server_cpu_ms_per_token"], 2)
            out[f"{weights}_threads_{threads}"] = curve
    return out


def _summary(runs: dict[str, list[dict[str, float]]], base: str) -> dict[str, Any]:
    tokens = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    rows = {k: statistics.median(r["rows_per_min"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r.get("rows_per_cpu_min", 0.0) for r in v) for k, v in runs.items()}
    out = {
        "runs": runs,
        "median_tokens_per_s": tokens,
        "median_rows_per_min": rows,
        f"tokens_ratio_to_{base}": {k: round(v / tokens[base], 2) for k, v in tokens.items()},
        f"rows_ratio_to_{base}": {k: round(v / rows[base], 2) for k, v in rows.items()},
    }
    if cpu[base]:
        out["median_rows_per_cpu_min"] = cpu
        out[f"rows_per_cpu_ratio_to_{base}"] = {k: round(v / cpu[base], 2) for k, v in cpu.items()}
    return out


PARTS = {
    "batched": batched,
    "quickstart": quickstart,
    "kernel": kernel,
    "embedded": embedded,
    "openai_backend_llama_cpp_server": served,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="parts to run; the others are kept from the file"
    )
    wanted = parser.parse_args().parts.split(",")
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    result: dict[str, Any] = {
        "benchmark": "llm_throughput",
        "machine": machine(),
        "params": {
            "prompts": PROMPTS,
            "max_tokens": MAX_TOKENS,
            "threads": THREADS,
            "server_threads": os.cpu_count(),
            "curve_prompts": CURVE_PROMPTS,
            "quickstart_n": QUICKSTART_N,
            "quickstart_repeats": QUICKSTART_REPEATS,
            "quickstart_seeds": list(QUICKSTART_SEEDS),
            "kernel_sequences": list(KERNEL_SEQUENCES),
            "kernel_tokens": KERNEL_TOKENS,
        },
    }
    for name, part in PARTS.items():
        if name in wanted:
            result[name] = part()
        elif name in old:
            result[name] = {**old[name], "from_an_earlier_run": True}
    result["parts_run"] = wanted
    result["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for part in wanted:
        print(json.dumps({k: v for k, v in result[part].items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
