"""Dedup throughput, peak memory and recall: synthmill exact + MinHash vs datasketch (+ datatrove).

    .venv/bin/python bench/dedup.py                 # 100k documents -> bench/results/dedup.json
    .venv/bin/python bench/dedup.py --docs 20000    # a quicker run (not written unless --out)

The corpus has random-word base documents, planted near-duplicates of known Jaccard
(word 5-gram shingles) and exact copies. Every method uses the same normalization
(lowercase, punctuation stripped), word 5-gram shingles, 128 permutations and Jaccard
threshold 0.8, and runs in its own process so peak RSS is its own. Timings exclude
reading the corpus and building records. datatrove is optional (`pip install datatrove`;
its run is recorded as an error when it is missing); datasketch comes with the test extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

THRESHOLD, NUM_PERM, SHINGLE = 0.8, 128, 5
TARGETS = [0.98, 0.95, 0.92, 0.9, 0.85, 0.75, 0.6, 0.4]
METHODS = ["synthmill-exact", "synthmill-minhash", "datasketch-minhash", "datatrove-minhash"]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_corpus(n_docs: int, path: Path) -> None:
    """Base docs + 8% planted near-duplicates + 2% exact copies, written as JSONL with truth."""
    import numpy as np

    from synthmill.curate.planted import corpus

    n_planted, n_exact = n_docs * 8 // 100, n_docs * 2 // 100
    docs, planted = corpus(n_docs - n_exact, TARGETS, n_planted, seed=42)
    rng = np.random.default_rng(7)
    sources = rng.integers(len(docs) - n_planted, size=n_exact)
    truth = {p.copy: round(p.jaccard, 4) for p in planted}
    for s in sources.tolist():
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

    from synthmill.curate.minhash import lsh_params
    from synthmill.curate.text import normalize

    class Whitespace(WordTokenizer):  # the same word tokens as the other methods
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    bands, rows = lsh_params(THRESHOLD, NUM_PERM)
    hashing = HashConfig(hash_fc="sha1", precision=64)  # its xxhash path breaks on xxhash 4
    cfg = MinhashConfig(
        n_grams=SHINGLE, num_buckets=bands, hashes_per_bucket=rows, hash_config=hashing
    )
    docs = [Document(text=normalize(t), id=str(i)) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), cpu_seconds()
        steps = [
            [docs, MinhashDedupSignature(f"{tmp}/sig", config=cfg, language=Whitespace())],
            [
                MinhashDedupBuckets(
                    input_folder=f"{tmp}/sig", output_folder=f"{tmp}/buc", config=cfg
                )
            ],
            [
                MinhashDedupCluster(
                    input_folder=f"{tmp}/buc", output_folder=f"{tmp}/rem", config=cfg
                )
            ],
            [docs, MinhashDedupFilter(input_folder=f"{tmp}/rem"), keep_ids(f"{tmp}/kept.txt")],
        ]
        tasks = [1, bands, 1, 1]
        for k, (step, n) in enumerate(zip(steps, tasks, strict=True)):
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(method: str, corpus_path: Path) -> dict[str, Any]:
    texts, truth = load(corpus_path)
    base = rss_mb()
    if method == "synthmill-exact":
        removed, seconds, cpu = run_synthmill(texts, exact=True)
    elif method == "synthmill-minhash":
        removed, seconds, cpu = run_synthmill(texts, exact=False)
    elif method == "datasketch-minhash":
        removed, seconds, cpu = run_datasketch(texts)
    else:
        removed, seconds, cpu = run_datatrove(texts)
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


def quality(removed: set[int], truth: dict[int, float]) -> dict[str, Any]:
    """Recall per planted-Jaccard bin, and removals of rows that are no near-duplicates."""
    bins = [(1.0, 1.01), (0.9, 1.0), (0.85, 0.9), (0.8, 0.85), (0.7, 0.8), (0.0, 0.7)]
    recall = {}
    for lo, hi in bins:
        rows = [i for i, j in truth.items() if lo <= j < hi]
        if rows:
            recall[f"J[{lo},{hi})"] = round(sum(i in removed for i in rows) / len(rows), 4)
    false = [i for i in removed if truth.get(i, 0.0) < 0.7]
    return {"recall_by_jaccard": recall, "removed_not_near_duplicate": len(false)}


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in ("synthmill", "rensa", "numpy", "datasketch", "datatrove"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child", choices=METHODS)
    ap.add_argument("--corpus", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.corpus)))
        return
    out = args.out or (
        Path(__file__).parent / "results" / "dedup.json" if args.docs == 100_000 else None
    )
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "versions": versions(),
        "settings": {
            "docs": args.docs,
            "threshold": THRESHOLD,
            "num_perm": NUM_PERM,
            "shingles": f"word {SHINGLE}-grams, lowercase, no punctuation",
        },
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = Path(tmp) / "corpus.jsonl"
        start = time.perf_counter()
        make_corpus(args.docs, corpus_path)
        print(f"corpus: {args.docs} docs in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        for method in METHODS:
            cmd = [sys.executable, __file__, "--child", method, "--corpus", str(corpus_path)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ["failed"]
                results["runs"].append({"method": method, "error": tail[0][:300]})
            else:
                results["runs"].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(results["runs"][-1]), file=sys.stderr)
    if out is not None:
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
