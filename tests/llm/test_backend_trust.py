"""A dead backend fails fast; transient failures are retried next run; keys never leak.

Each test reproduces a failure of issue 9 (items 2, 3, 6, 10, 12) against a real local
HTTP server (tests/llm/faults.py) or the fake backend.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from synthmill.errors import ConfigError
from synthmill.llm import Request, complete, complete_structured
from synthmill.llm.base import Backend, BackendError
from synthmill.llm.cache import cache_key
from synthmill.llm.fake import FakeBackend
from synthmill.llm.llamacpp import LlamaCppBackend
from synthmill.llm.openai import OpenAIBackend
from synthmill.llm.transport import connect
from synthmill.pipeline.pipeline import Output, Pipeline
from synthmill.pipeline.stage import StageContext
from synthmill.pipeline.transient import TransientFailuresError
from synthmill.sources.range import Range
from tests.llm import replies
from tests.llm.faults import PROBE, FaultServer, fault_server
from tests.llm.stages import QA, AskQA
from tests.llm.test_openai_faults import backend, read_run, run

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


def _ask(i: int) -> Request:
    return Request(messages=({"role": "user", "content": f"row {i}"},), seed=i)


# ---- item 2a: a dead or refusing backend fails fast, in one line ----------------------------
@pytest.mark.parametrize("base_url", [DEAD, "http://no-such-host.invalid/v1"])
def test_unreachable_backend_fails_fast_with_one_line(tmp_path: Path, base_url: str) -> None:
    stage = AskQA(backend=OpenAIBackend(model="m", base_url=base_url), batch_size=4)
    pipe = Pipeline(stages=[Range(n=8), stage], output=Output(dir=tmp_path / "run"))
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        pipe.run()
    assert time.monotonic() - start < 8  # default max_retries=6 would take ~30 s per row
    message = str(info.value)
    assert base_url in message and "\n" not in message and "cannot connect" in message
    assert not (tmp_path / "run").exists()  # found before the run directory is made


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "http://", "ftp://h/v1", "http://[::1"])
def test_a_malformed_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^stages\.0\.backend: base_url: not an http"):
        Pipeline.from_config(
            {
                "stages": [
                    {"use": "distill", "backend": {"type": "openai", "model": "m", "base_url": url}}
                ],
                "output": {"dir": "x"},
            }
        )


def test_plain_calls_fail_fast_too() -> None:
    backend_ = OpenAIBackend(model="m", base_url=DEAD, concurrency=2)
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"127\.0\.0\.1:9"):
        complete(backend_, [_ask(i) for i in range(20)])
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("sent", ["sk-wrong-key-1234", "sk-right-key-9999"])
def test_refused_key_fails_fast_and_never_shows_the_key(
    sent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_ENV", sent)
    plan: dict[int | str, list[str]] = {PROBE: ["s403"]}  # the right key, but forbidden
    status = 401 if "wrong" in sent else 403
    with fault_server(plan, api_key="sk-right-key-9999") as server:
        b = backend(server, api_key_env="SECRET_ENV")
        with pytest.raises(BackendError) as info:
            complete_structured(b, [_ask(1)], QA)
    message = str(info.value)
    assert f"HTTP {status}" in message and "$SECRET_ENV" in message
    assert sent not in message and server.base_url in message and "\n" not in message
    assert server.attempts[PROBE] <= 1  # refused: not retried


def test_unknown_model_404_names_base_url_and_model() -> None:
    plan: dict[int | str, list[str]] = {PROBE: ["s404"] * 9, 1: ["s404"] * 9}
    match = r"HTTP 404.*backend.model \(m\)"
    with fault_server(plan) as server, pytest.raises(BackendError, match=match):
        complete(backend(server), [_ask(1)])


def test_after_a_success_an_outage_is_transient_not_fatal() -> None:
    with fault_server({}) as server:
        b = backend(server, max_retries=1)
        assert complete(b, [_ask(1)])[0].error is None
        url = server.base_url
    down = OpenAIBackend(model="m", base_url=url, max_retries=1, backoff=0.01)
    (failed,) = complete(down, [_ask(2)])  # the server was reached once: reject, retry later
    assert failed.error and failed.transient


# ---- item 3: the structured-output probe -----------------------------------------------------
def _probe(server: FaultServer) -> object:
    b = backend(server)

    async def go() -> object:
        async with connect(server.base_url) as client:
            return await b.dialect(client)

    return asyncio.run(go())


def test_transient_500_during_the_probe_does_not_downgrade() -> None:
    plan: dict[int | str, list[str]] = {PROBE: ["500", "429plain", "drop"]}
    with fault_server(plan, accept=("json_schema", "json_object")) as server:
        assert _probe(server) == "json_schema"
        assert server.attempts[PROBE] == 4


def test_a_probe_that_cannot_decide_fails_the_rows_transiently_and_probes_again() -> None:
    plan: dict[int | str, list[str]] = {PROBE: ["500"] * 4}
    with fault_server(plan, accept=("json_schema",)) as server:
        b = backend(server, max_retries=3)
        first = complete(b, [replace(_ask(1), json_schema={"type": "object"})])
        assert first[0].error and first[0].transient and "probe" in first[0].error
        results = complete_structured(b, [_ask(1)], QA)
        assert results[0].ok  # the probe ran again, got an answer, and json_schema is used
        assert server.bodies[-1]["response_format"]["type"] == "json_schema"


# ---- item 6: the cache key covers everything that changes a reply ----------------------------
def test_cache_key_changes_with_whatever_changes_the_reply() -> None:
    def key(backend_: Backend) -> str:
        return cache_key(backend_, _ask(1))

    a = OpenAIBackend(model="m", base_url="http://127.0.0.1:1/v1")
    assert key(a) != key(a.model_copy(update={"base_url": "http://x/v1"}))
    assert key(a) != key(a.model_copy(update={"structured": "prompt"}))
    speed = {"max_in_flight": 9, "requests_per_minute": 60.0, "tokens_per_minute": 1e5}
    same = a.model_copy(update={**speed, "timeout": 3.0, "max_retries": 0})
    assert key(a) == key(same)  # speed never changes a reply
    fake = FakeBackend(replies=["a"])
    assert key(fake) != key(FakeBackend(replies=["b"]))
    assert key(fake) != key(FakeBackend(replies=["a"], model="m"))
    echo = FakeBackend(function="tests.llm.replies:echo")
    assert key(echo) != key(FakeBackend(function="tests.llm.replies:wrong_schema"))
    assert "return json.dumps" in echo.cache_identity()["function_source"]
    local = LlamaCppBackend(model_path=__file__)
    assert key(local) == key(local.model_copy(update={"n_threads": 3}))
    assert key(local) != key(local.model_copy(update={"seed": 4}))
    assert key(local) != key(LlamaCppBackend(model_path=str(Path(__file__).parent / "faults.py")))


def test_two_servers_with_one_model_name_do_not_share_answers(tmp_path: Path) -> None:
    ctx = StageContext(seed=0, stage="t", cache_dir=str(tmp_path))
    with fault_server({}) as first, fault_server({}) as second:
        complete(backend(first), [_ask(1)], ctx)
        complete(backend(second), [_ask(1)], ctx)
        assert first.calls() == 1 and second.calls() == 1


def test_changing_fake_replies_is_not_served_stale(tmp_path: Path) -> None:
    ctx = StageContext(seed=0, stage="t", cache_dir=str(tmp_path))
    assert complete(FakeBackend(replies=["old"]), [_ask(1)], ctx)[0].text == "old"
    assert complete(FakeBackend(replies=["new"]), [_ask(1)], ctx)[0].text == "new"


# ---- item 12: calls count when paid, also those of a killed attempt --------------------------
def test_a_resumed_shard_counts_what_its_killed_attempt_paid(tmp_path: Path) -> None:
    fake = FakeBackend(function="tests.llm.replies:echo")
    first = StageContext(seed=0, stage="s", shard=3, cache_dir=str(tmp_path), run="r1")
    complete(fake, [_ask(i) for i in range(3)], first)
    again = StageContext(seed=0, stage="s", shard=3, cache_dir=str(tmp_path), run="r1")
    complete(fake, [_ask(i) for i in range(4)], again)
    assert again.counters["llm.calls"] == 4 and again.counters["llm.paid_before_resume"] == 3
    assert again.counters.get("llm.cache_hits", 0) == 0
    other = StageContext(seed=0, stage="s", shard=3, cache_dir=str(tmp_path), run="r2")
    complete(fake, [_ask(i) for i in range(4)], other)
    assert other.counters["llm.cache_hits"] == 4 and other.counters.get("llm.calls", 0) == 0


def test_stats_count_calls_paid_in_a_batch_that_was_killed(tmp_path: Path) -> None:
    stage = AskQA(backend=FakeBackend(function="tests.llm.replies:dies_after"), batch_size=10)
    pipe = Pipeline(stages=[Range(n=10), stage], output=Output(dir=tmp_path / "run"))
    replies.DIE_AFTER["calls"] = 4
    try:
        with pytest.raises(Exception, match="killed mid-batch"):
            pipe.run()
        replies.DIE_AFTER["calls"] = -1
        pipe.run()
    finally:
        replies.DIE_AFTER["calls"] = -1
    kept, _, stats = read_run(tmp_path / "run")
    counters = stats["stages"]["test.ask_qa"]["counters"]
    assert len(kept) == 10
    assert counters["llm.calls"] == 10 and counters["llm.paid_before_resume"] == 4
    assert counters["llm.completion_tokens"] > 0


# ---- item 2b/2c: exit code 3, and transient rejects are retried next run ---------------------
@pytest.mark.slow
def test_transient_rejects_are_retried_next_run_and_content_rejects_stay(tmp_path: Path) -> None:
    plan: dict[int | str, list[str]] = {3: ["500"] * 4, 5: ["badjson"] * 9, 8: ["timeout"] * 4}
    with fault_server(plan, stall=1.5) as server:
        with pytest.raises(TransientFailuresError) as info:
            run(server, tmp_path / "run", n=12)
        assert info.value.exit_code == 3 and "max_failed_share=0.05" in str(info.value)
        kept, rejects, stats = read_run(tmp_path / "run")  # written before exit code 3
        assert len(kept) == 9 and stats["stages"]["test.ask_qa"]["rejected_transient"] == 2
        asked_row5 = server.calls(5)
        run(server, tmp_path / "run", n=12)  # the same command again
        assert server.calls(5) == asked_row5  # a content reject is final
        assert not server.paid_twice()  # the 9 kept rows came from the cache
    kept, rejects, stats = read_run(tmp_path / "run")
    assert sorted(int(str(k["question"]).split()[-1]) for k in kept) == [
        i for i in range(12) if i != 5
    ]
    assert [r["row"]["index"] for r in rejects] == [5]
    counters = stats["stages"]["test.ask_qa"]["counters"]
    assert stats["stages"]["test.ask_qa"]["rejected_transient"] == 0
    assert counters["llm.paid_before_resume"] >= 9 and counters.get("llm.cache_hits", 0) == 0


def test_fake_transient_failures_are_redone_by_the_next_run(tmp_path: Path) -> None:
    flaky = FakeBackend(function="tests.llm.replies:echo", fail_every=3, transient=True)
    pipe = Pipeline(stages=[Range(n=9), AskQA(backend=flaky)], output=Output(dir=tmp_path))
    with pytest.raises(TransientFailuresError):
        pipe.run()
    kept, rejects, _ = read_run(tmp_path)
    assert rejects and all(r["raw"]["transient"] for r in rejects)
    with pytest.raises(TransientFailuresError):
        pipe.run()  # the fake fails the same requests again; the rest come from the cache
    again, rejects_again, stats = read_run(tmp_path)
    counters = stats["stages"]["test.ask_qa"]["counters"]
    assert len(again) == len(kept) and len(rejects_again) == len(rejects)
    assert counters["llm.paid_before_resume"] == len(kept)
    assert counters["llm.transient_failures"] == len(rejects)


def test_max_failed_share_is_validated() -> None:
    base = {"stages": [{"use": "range", "n": 1}], "output": {"dir": "x"}}
    assert Pipeline.from_config({**base, "max_failed_share": 0.5}).max_failed_share == 0.5
    with pytest.raises(ConfigError, match="max_failed_share"):
        Pipeline.from_config({**base, "max_failed_share": 2})


# ---- item 10: keys never reach what is written ----------------------------------------------
def test_key_echoed_by_a_server_is_redacted_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("SECRET_ENV", secret)
    caplog.set_level("DEBUG")
    server = fault_server({2: ["echo"] * 9}, api_key=secret)
    with server as s, pytest.raises(TransientFailuresError):
        run(s, tmp_path / "run", n=4, api_key_env="SECRET_ENV", max_retries=1)
    _, rejects, _ = read_run(tmp_path / "run")
    (reject,) = rejects
    error = reject["raw"]["error"]
    assert '"Bearer [REDACTED]", "key": "[REDACTED]"' in error and reject["raw"]["transient"]
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in caplog.text and "Bearer sk-" not in json.dumps(rejects)


@pytest.mark.slow
def test_a_server_gone_mid_run_does_not_cost_minutes_per_row() -> None:
    with fault_server({}) as server:
        url = server.base_url
        complete(backend(server), [_ask(0)])
    down = OpenAIBackend(model="m", base_url=url, max_retries=6, backoff=0.1, concurrency=1)
    start = time.monotonic()
    results = complete(down, [_ask(i) for i in range(1, 6)])
    assert all(r.error and r.transient for r in results)
    # one full backoff (at most 6.3 s), then quick retries: 5 full ones would take ~24 s
    assert time.monotonic() - start < 13


def test_a_key_repeated_in_model_output_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-fedcba9876543210"
    monkeypatch.setenv("SECRET_ENV", secret)
    with fault_server({1: ["leak"]}, api_key=secret) as server:
        run(server, tmp_path / "run", n=3, api_key_env="SECRET_ENV")
    kept, _, _ = read_run(tmp_path / "run")
    assert any(k["answer"] == "[REDACTED]" for k in kept)
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
