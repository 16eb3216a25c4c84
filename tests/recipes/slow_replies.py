"""A slow fake model: the replies of tests.recipes.replies, each after a short sleep, so a
test can kill -9 a run while its calls are in flight."""

from __future__ import annotations

import os
import time

from synthmill.llm.base import Request
from tests.recipes.replies import reply


def slow_reply(request: Request) -> str:
    time.sleep(float(os.environ.get("SYNTHMILL_TEST_REPLY_SLEEP", "0.1")))
    return reply(request)
