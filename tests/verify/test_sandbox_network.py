"""The sandbox has no network, shown against a listener that surely exists (issue 19).

`test_no_network` only tried outside addresses, which fail anyway on a host without
outside network, so removing the network namespace (`--share-net`) went unnoticed. Here
the host listens on 127.0.0.1; the same program reaches it unsandboxed (the control) and
must not reach it from inside the sandbox, warm or fresh, nor from a judged solution.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from synthmill.verify.code_check import run_solution
from synthmill.verify.sandbox import Limits, run_python

pytestmark = pytest.mark.sandbox
LIMITS = Limits(wall_seconds=10, cpu_seconds=4, memory_mb=256)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    yield server
    server.close()


def connect_code(port: int) -> str:
    return (
        "import socket\n"
        "try:\n"
        f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    s.sendall(b'hello from the sandbox')\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('blocked', type(e).__name__)\n"
    )


def accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except (TimeoutError, OSError):
        return False
    conn.close()
    return True


def test_the_control_reaches_the_host_listener_unsandboxed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = run_python(connect_code(port), LIMITS, sandbox=False)
    assert result.stdout == "CONNECTED\n", result
    assert accepted(listener)


@pytest.mark.parametrize("fresh", [False, True], ids=["warm", "fresh"])
def test_sandbox_cannot_reach_a_host_listener(listener: socket.socket, fresh: bool) -> None:
    port = listener.getsockname()[1]
    result = run_python(connect_code(port), LIMITS, fresh=fresh)
    assert result.sandboxed and result.status == "passed", result
    assert result.stdout.startswith("blocked"), result.stdout
    assert not accepted(listener), "the host listener got a connection from the sandbox"


def test_a_judged_solution_cannot_reach_a_host_listener(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    solution = (
        "import socket\n"
        "def f():\n"
        "    try:\n"
        f"        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        "        return 'CONNECTED'\n"
        "    except OSError:\n"
        "        return 'blocked'\n"
    )
    tests = "def check(candidate):\n    assert candidate() == 'blocked'\n"
    result = run_solution(solution, tests, "f")
    assert result.ok, result
    assert not accepted(listener)
