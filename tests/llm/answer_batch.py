"""Answer an OpenAI Batch API request file the way the Batch API / vLLM run_batch do.

    python tests/llm/answer_batch.py requests.jsonl results.jsonl [--fail CUSTOM_ID]

Each output line: {"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}; the reply text is bench.mock_server.default_reply(body), the same function the
online test server answers with. `--fail` gives that line an error instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.mock_server import default_reply


def answer(line: dict[str, object], n: int, fail: set[str]) -> dict[str, object]:
    body = line["body"]
    assert isinstance(body, dict)
    out: dict[str, object] = {"id": f"batch_req_{n}", "custom_id": line["custom_id"]}
    if line["custom_id"] in fail:
        return {**out, "response": None, "error": {"code": "server_error", "message": "x"}}
    text = default_reply(body)
    raw = line["url"] == "/v1/completions"
    choice = {"index": 0, "finish_reason": "stop"}
    choice.update({"text": text} if raw else {"message": {"role": "assistant", "content": text}})
    usage = {"prompt_tokens": 10, "completion_tokens": len(text.split())}
    reply = {
        "id": f"cmpl-{n}",
        "object": "chat.completion",
        "model": "served-name",
        "choices": [choice],
        "usage": usage,
    }
    response = {"status_code": 200, "request_id": f"req-{n}", "body": reply}
    return {**out, "response": response, "error": None}


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    fail = set(sys.argv[sys.argv.index("--fail") + 1 :]) if "--fail" in sys.argv else set()
    lines = [json.loads(t) for t in source.read_text().splitlines() if t.strip()]
    with target.open("w") as fh:
        for n, line in enumerate(lines):
            assert line["method"] == "POST" and line["url"].startswith("/v1/")
            fh.write(json.dumps(answer(line, n, fail)) + "\n")


if __name__ == "__main__":
    main()
