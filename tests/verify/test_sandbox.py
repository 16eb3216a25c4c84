"""The hostile corpus: every program is contained and gets a clear verdict."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from synthmill.verify import sandbox
from synthmill.verify.sandbox import Limits, SandboxUnavailable, require_sandbox, run_python

pytestmark = pytest.mark.sandbox
LIMITS = Limits(wall_seconds=6, cpu_seconds=2, memory_mb=256, processes=16)


def _alive(token: str) -> bool:
    done = subprocess.run(["pgrep", "-f", token], capture_output=True, check=False)
    return done.returncode == 0


def test_a_plain_program_passes_and_a_failing_one_fails() -> None:
    assert run_python("print('hi')", LIMITS).stdout == "hi\n"
    result = run_python("assert 1 == 2", LIMITS)
    assert result.status == "failed" and "AssertionError" in result.stderr
    assert result.sandboxed


def test_no_network() -> None:
    code = (
        "import socket\n"
        "for host in [('1.1.1.1', 53), ('127.0.0.1', 22), ('pypi.org', 443)]:\n"
        "    try:\n"
        "        socket.create_connection(host, timeout=2)\n"
        "        print('CONNECTED', host)\n"
        "    except OSError as e:\n"
        "        print('blocked', e)\n"
    )
    result = run_python(code, LIMITS)
    assert result.status == "passed" and "CONNECTED" not in result.stdout
    assert result.stdout.count("blocked") == 3


def test_cannot_write_outside_the_sandbox(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    code = (
        "import os\n"
        f"for path in [{str(target)!r}, '/usr/pwned', '/pwned', os.path.expanduser('~/pwned')]:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as e:\n"
        "        print('refused', path, type(e).__name__)\n"
    )
    result = run_python(code, LIMITS)
    assert not target.exists() and not Path("/usr/pwned").exists()
    assert f"WROTE {target}" not in result.stdout and "WROTE /usr" not in result.stdout


def test_cannot_read_shadow_or_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHMILL_TEST_SECRET", "hunter2-do-not-leak")
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for path in ['/etc/shadow', '/etc/passwd', '/proc/1/environ']:\n"
        "    try:\n"
        "        print(open(path).read())\n"
        "    except OSError as e:\n"
        "        print('denied', path)\n"
    )
    result = run_python(code, LIMITS)
    assert "hunter2" not in result.stdout and "root:" not in result.stdout
    assert "denied /etc/shadow" in result.stdout


def test_fork_bomb_hits_the_process_limit() -> None:
    """The process rlimit stops it, and the verdict says so (a timeout would mean no limit)."""
    result = run_python("import os\nwhile True:\n    os.fork()\n", LIMITS)
    assert result.status == "process_limit", result
    assert not result.ok and "BlockingIOError" in result.stderr


def test_memory_bomb() -> None:
    result = run_python("x = []\nwhile True:\n    x.append(' ' * 10**7)\n", LIMITS)
    assert result.status == "memory"


def test_infinite_loop_is_stopped_by_the_cpu_limit() -> None:
    result = run_python("while True:\n    pass\n", LIMITS)
    assert result.status == "timeout"


def test_sleeping_forever_is_stopped_by_the_wall_clock() -> None:
    result = run_python("import time\ntime.sleep(600)\n", Limits(wall_seconds=1.5))
    assert result.status == "timeout"


def test_huge_output_is_capped() -> None:
    result = run_python("while True:\n    print('x' * 100000)\n", LIMITS)
    assert result.status == "output_limit"
    assert len(result.stdout) <= LIMITS.output_bytes


def test_killing_the_parent_only_kills_the_sandbox() -> None:
    code = (
        "import os, signal\n"
        "for pid in [os.getppid(), 1, " + str(os.getpid()) + "]:\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as e:\n"
        "        print('no', pid, e)\n"
        "os.killpg(0, signal.SIGKILL)\n"
    )
    result = run_python(code, LIMITS)
    assert result.status == "killed"
    assert run_python("print('still here')", LIMITS).stdout == "still here\n"


def test_background_processes_do_not_outlive_the_run() -> None:
    token = "31.4159"
    code = (
        "import subprocess, os\n"
        f"subprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execvp('sleep', ['sleep', '{token}'])\n"
        "print('spawned')\n"
    )
    result = run_python(code, LIMITS)
    assert result.stdout == "spawned\n"
    assert not _alive(f"sleep {token}")


def test_refuses_without_bubblewrap_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: False)
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        require_sandbox(False)
    assert require_sandbox(True) is False
    assert run_python("print(1)", LIMITS, sandbox=False).sandboxed is False
