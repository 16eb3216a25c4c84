"""Dedup speed, recall and peak memory: synthmill exact + MinHash vs datasketch in one run.

    nice .venv/bin/python bench/dedup.py              # -> bench/results/dedup.json
    nice .venv/bin/python bench/dedup.py --docs 5000 --scale-docs 0 --out /tmp/d.json

Part 1 (`--docs`, default 50,000): documents of 180-220 random words, 8% planted
near-duplicates at known Jaccard (word 5-gram shingles; targets just above 0.8, 0.85, 0.9
and some below) and 2% exact copies. Every method uses the same normalization (lower
case, punctuation stripped), word 5-grams, 128 permutations and Jaccard threshold 0.8, and
runs in its own process (peak RSS is its own); timings exclude reading the corpus and
building records. datasketch (the test extra) runs in the same invocation, so the ratio
is taken under the same load; datatrove runs with `--datatrove` when it is installed.

Part 2 (`--scale-docs`, default 1,000,000): a generated corpus of that many ~200-word
documents (5% exact copies, 5% near copies) in a Parquet file, streamed to
`dedup.minhash` and `dedup.exact` a record batch at a time: peak RSS and docs/s.

Part 3: dedup.semantic's HNSW index (faiss) against exact search on `--vectors` random
384-dimensional unit vectors with 10% planted near-copies: recall of the pairs, CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

THRESHOLD, NUM_PERM, SHINGLE = 0.8, 128, 5
TARGETS = [0.99, 0.95, 0.912, 0.862, 0.812, 0.79, 0.7, 0.5]
WORDS = (180, 220)
METHODS = ["synthmill-exact", "synthmill-minhash", "datasketch-minhash", "datatrove-minhash"]
SCALE = ["scale-read", "scale-minhash", "scale-exact"]
BINS = [(1.0, 1.01), (0.9, 1.0), (0.85, 0.9), (0.8, 0.85), (0.7, 0.8), (0.0, 0.7)]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- part 1: planted corpus, synthmill vs datasketch -------------------------------------
def make_corpus(n_docs: int, path: Path) -> None:
    """Base docs + 8% planted near-duplicates + 2% exact copies, as JSONL with the truth."""
    import numpy as np

    from synthmill.curate.planted import corpus

    n_planted, n_exact = n_docs * 8 // 100, n_docs * 2 // 100
    docs, planted = corpus(n_docs - n_exact, TARGETS, n_planted, words=WORDS, seed=42)
    rng = np.random.default_rng(7)
    truth = {p.copy: round(p.jaccard, 4) for p in planted}
    for s in rng.integers(len(docs) - n_planted, size=n_exact).tolist():
        truth[len(docs)] = 1.0
        docs.append(docs[s])
    with open(path, "w") as fh:
        fh.write(json.dumps({"truth": truth}) + "\n")
        for d in docs:
            fh.write(json.dumps(d) + "\n")


def load(path: Path) -> tuple[list[str], dict[int, float]]:
    with open(path) as fh:
        truth = {int(k): v for k, v in json.loads(fh.readline())["truth"].items()}
        return [json.loads(line) for line in fh], truth


def run_synthmill(texts: list[str], exact: bool) -> tuple[set[int], float, float]:
    from synthmill.curate.exact_dedup import ExactDedup
    from synthmill.curate.minhash_dedup import MinHashDedup
    from synthmill.pipeline.stage import GlobalStage, StageContext
    from synthmill.records import Meta, Record

    records = [Record({"text": t}, Meta(id=str(i))) for i, t in enumerate(texts)]
    stage: GlobalStage = (
        ExactDedup(strip_punctuation=True)
        if exact
        else MinHashDedup(threshold=THRESHOLD, num_perm=NUM_PERM, shingle_size=SHINGLE)
    )
    start, cpu = time.perf_counter(), cpu_seconds()
    out = stage.process_all(records, StageContext(0, stage.label))
    removed = {i for i, r in enumerate(out) if r.rejected}
    return removed, time.perf_counter() - start, cpu_seconds() - cpu


def run_datasketch(texts: list[str]) -> tuple[set[int], float, float]:
    """Streaming keep-first: query the LSH, confirm by estimated Jaccard, else insert."""
    from datasketch import MinHash, MinHashLSH

    from synthmill.curate.text import normalize, shingles

    start, cpu = time.perf_counter(), cpu_seconds()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    kept: dict[int, MinHash] = {}
    removed = set()
    for i, text in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode() for s in shingles(normalize(text), "word", SHINGLE)])
        if any(kept[k].jaccard(m) >= THRESHOLD for k in lsh.query(m)):
            removed.add(i)
        else:
            lsh.insert(i, m)
            kept[i] = m
    return removed, time.perf_counter() - start, cpu_seconds() - cpu


def run_datatrove(texts: list[str]) -> tuple[set[int], float, float]:
    """datatrove's 4-stage MinHash pipeline (signatures, buckets, clusters, filter) on disk."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    from synthmill.curate.minhash import datasketch_params
    from synthmill.curate.text import normalize

    class Whitespace(WordTokenizer):  # the same word tokens as the other methods
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    bands, rows = datasketch_params(THRESHOLD, NUM_PERM)
    hashing = HashConfig(hash_fc="sha1", precision=64)  # its xxhash path breaks on xxhash 4
    cfg = MinhashConfig(
        n_grams=SHINGLE, num_buckets=bands, hashes_per_bucket=rows, hash_config=hashing
    )
    docs = [Document(text=normalize(t), id=str(i)) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), cpu_seconds()
        sig, buc, rem = f"{tmp}/sig", f"{tmp}/buc", f"{tmp}/rem"
        steps = [
            [docs, MinhashDedupSignature(sig, config=cfg, language=Whitespace())],
            [MinhashDedupBuckets(input_folder=sig, output_folder=buc, config=cfg)],
            [MinhashDedupCluster(input_folder=buc, output_folder=rem, config=cfg)],
            [docs, MinhashDedupFilter(input_folder=rem), keep_ids(f"{tmp}/kept.txt")],
        ]
        for k, (step, n) in enumerate(zip(steps, [1, bands, 1, 1], strict=True)):
            LocalPipelineExecutor(step, tasks=n, workers=1, logging_dir=f"{tmp}/log{k}").run()
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        kept = {int(line) for line in Path(f"{tmp}/kept.txt").read_text().split()}
    return set(range(len(texts))) - kept, seconds, cpu


def keep_ids(path: str) -> Any:
    """A last pipeline step that writes the ids of the documents that survived."""

    def step(data: Any, rank: int = 0, world_size: int = 1) -> Any:
        with open(path, "a") as fh:
            for doc in data:
                fh.write(f"{doc.id}\n")
                yield doc

    return step


def quality(removed: set[int], truth: dict[int, float]) -> dict[str, Any]:
    """Recall per planted-Jaccard bin, and removals of rows that are no near-duplicates."""
    recall = {}
    for lo, hi in BINS:
        rows = [i for i, j in truth.items() if lo <= j < hi]
        if rows:
            recall[f"J[{lo},{hi})"] = round(sum(i in removed for i in rows) / len(rows), 4)
    false = [i for i in removed if truth.get(i, 0.0) < THRESHOLD]
    return {"recall_by_jaccard": recall, "removed_below_threshold": len(false)}


def child_planted(method: str, corpus_path: Path) -> dict[str, Any]:
    texts, truth = load(corpus_path)
    base = rss_mb()
    runners = {
        "synthmill-exact": lambda: run_synthmill(texts, exact=True),
        "synthmill-minhash": lambda: run_synthmill(texts, exact=False),
        "datasketch-minhash": lambda: run_datasketch(texts),
        "datatrove-minhash": lambda: run_datatrove(texts),
    }
    removed, seconds, cpu = runners[method]()
    return {
        "method": method,
        "docs": len(texts),
        "wall_seconds": round(seconds, 2),
        "docs_per_second": round(len(texts) / seconds),
        "cpu_seconds": round(cpu, 2),
        "docs_per_cpu_second": round(len(texts) / cpu),
        "rss_before_mb": round(base),
        "peak_rss_mb": round(peak_mb()),
        "removed": len(removed),
        **quality(removed, truth),
    }


# ---- part 2: a million documents streamed from Parquet ----------------------------------
def make_scale_corpus(n_docs: int, path: Path, chunk: int = 50_000) -> None:
    """Random ~200-word docs; 5% exact copies and 5% copies with their last 3 words changed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, size=n)) for n in rng.integers(3, 10, 50_000)])
    schema = pa.schema([("text", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n_docs, chunk):
            n = min(chunk, n_docs - start)
            words = vocab[rng.integers(len(vocab), size=(n, 200))]
            copy = rng.random(n)
            src = rng.integers(n, size=n)
            near = (copy < 0.05) & (src < np.arange(n))
            exact = (copy > 0.95) & (src < np.arange(n))
            words[exact] = words[src[exact]]
            words[near] = words[src[near]]
            words[near, -3:] = vocab[rng.integers(len(vocab), size=(int(near.sum()), 3))]
            texts = [" ".join(w) for w in words.tolist()]
            writer.write_table(pa.table({"text": texts}, schema=schema), row_group_size=8192)


class ParquetRecords:
    """The rows of a Parquet file as records, re-iterable, one record batch at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[Any]:
        import pyarrow.parquet as pq

        from synthmill.records import Meta, Record

        k = 0
        # pre_buffer=False: with pyarrow's default the reader's RSS grows to about the
        # file's size while iterating (400 MB for a 260 MB file), which is not the stage's
        for batch in pq.ParquetFile(self.path, pre_buffer=False).iter_batches(batch_size=8192):
            for text in batch.column(0).to_pylist():
                yield Record({"text": text}, Meta(id=str(k)))
                k += 1


def child_scale(method: str, corpus_path: Path) -> dict[str, Any]:
    from synthmill.curate.exact_dedup import ExactDedup
    from synthmill.curate.minhash_dedup import MinHashDedup
    from synthmill.pipeline.stage import GlobalStage, StageContext

    records = ParquetRecords(corpus_path)
    base = rss_mb()
    stage: GlobalStage = MinHashDedup() if method == "scale-minhash" else ExactDedup()
    start, cpu = time.perf_counter(), cpu_seconds()
    docs = removed = 0
    out = records if method == "scale-read" else stage.process_all(records, StageContext(0, "d"))
    for r in out:
        docs += 1
        removed += r.rejected
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {
        "method": method,
        "docs": docs,
        "removed": removed,
        "wall_seconds": round(seconds, 1),
        "docs_per_second": round(docs / seconds),
        "cpu_seconds": round(cpu, 1),
        "docs_per_cpu_second": round(docs / cpu),
        "rss_before_mb": round(base),
        "peak_rss_mb": round(peak_mb()),
        "note": "reading Parquet and building records is inside the timing here; "
        "scale-read does only that",
    }


# ---- part 3: HNSW vs exact neighbour search ----------------------------------------------
def child_semantic(n: int) -> dict[str, Any]:
    import numpy as np

    from synthmill.curate.semantic_dedup import ann_pairs, similar_pairs

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 384)).astype(np.float32)
    src, dst = rng.integers(n // 2, size=n // 10), n // 2 + rng.choice(n // 2, n // 10, False)
    x[dst] = x[src] + rng.normal(scale=0.25, size=(len(src), 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out: dict[str, Any] = {"method": "semantic-hnsw-vs-exact", "vectors": n, "threshold": 0.95}
    found = {}
    for name, fn in [("exact", similar_pairs), ("hnsw", ann_pairs)]:
        start, cpu = time.perf_counter(), cpu_seconds()
        found[name] = {tuple(p) for p in fn(x, 0.95).tolist()}
        out[f"{name}_wall_seconds"] = round(time.perf_counter() - start, 2)
        out[f"{name}_cpu_seconds"] = round(cpu_seconds() - cpu, 2)
        out[f"{name}_pairs"] = len(found[name])
    out["hnsw_recall_vs_exact"] = round(
        len(found["hnsw"] & found["exact"]) / len(found["exact"]), 4
    )
    out["hnsw_false_pairs"] = len(found["hnsw"] - found["exact"])
    return out


# ---- driver ------------------------------------------------------------------------------
def spawn(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["failed"]
        return {"method": args[1], "error": tail[0][:300]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_planted(docs: int, tmp: Path, methods: list[str], results: dict[str, Any]) -> None:
    corpus_path = tmp / "corpus.jsonl"
    make_corpus(docs, corpus_path)
    results["runs"] = []
    for method in methods:
        results["runs"].append(spawn(["--child", method, "--corpus", str(corpus_path)]))
        print(json.dumps(results["runs"][-1]), file=sys.stderr)
    results["ratios"] = ratios(results["runs"])


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["method"]: r for r in runs if "error" not in r}
    out: dict[str, Any] = {}
    ours, peer = by.get("synthmill-minhash"), by.get("datasketch-minhash")
    if ours and peer:
        for key in ("docs_per_second", "docs_per_cpu_second"):
            out[f"minhash_{key}_vs_datasketch"] = round(ours[key] / peer[key], 2)
    return out


def versions() -> dict[str, str]:
    out = {}
    for name in ("rensa", "numpy", "datasketch", "datatrove", "faiss-cpu"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--scale-docs", type=int, default=1_000_000)
    ap.add_argument("--vectors", type=int, default=50_000)
    ap.add_argument("--datatrove", action="store_true", help="also run datatrove's MinHash")
    ap.add_argument(
        "--parts",
        default="planted,scale,semantic",
        help="which parts to run; the others are kept from an existing --out file",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dedup.json")
    ap.add_argument("--child", choices=[*METHODS, *SCALE, "semantic"])
    ap.add_argument("--corpus", type=Path)
    args = ap.parse_args()
    if args.child in METHODS:
        print(json.dumps(child_planted(args.child, args.corpus)))
        return
    if args.child in SCALE:
        print(json.dumps(child_scale(args.child, args.corpus)))
        return
    if args.child == "semantic":
        print(json.dumps(child_semantic(args.vectors)))
        return
    from bench._machine import machine

    parts = set(args.parts.split(","))
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "docs": args.docs,
            "words_per_doc": list(WORDS),
            "threshold": THRESHOLD,
            "num_perm": NUM_PERM,
            "shingles": f"word {SHINGLE}-grams, lowercase, no punctuation",
        },
        "runs": [],
    }
    kept = {"runs", "ratios", "settings"} - (set() if "planted" not in parts else {"settings"})
    results.update({k: old[k] for k in (*kept, "scale", "semantic") if k in old})
    methods = [m for m in METHODS if args.datatrove or m != "datatrove-minhash"]
    with tempfile.TemporaryDirectory() as tmp:
        if "planted" in parts:
            run_planted(args.docs, Path(tmp), methods, results)
        if args.scale_docs and "scale" in parts:
            scale_path = Path(tmp) / "scale.parquet"
            make_scale_corpus(args.scale_docs, scale_path)
            results["scale"] = []
            for method in SCALE:
                results["scale"].append(spawn(["--child", method, "--corpus", str(scale_path)]))
                print(json.dumps(results["scale"][-1]), file=sys.stderr)
    if args.vectors and "semantic" in parts:
        results["semantic"] = spawn(["--child", "semantic", "--vectors", str(args.vectors)])
        print(json.dumps(results["semantic"]), file=sys.stderr)
    results["load_average_at_end"] = os.getloadavg()  # other work on the machine slows wall time
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
