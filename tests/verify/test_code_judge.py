"""The judge: plain data both ways, honest solutions pass, the candidate's reach is small."""

from __future__ import annotations

import pytest

from synthmill.verify import sandbox_pool
from synthmill.verify.code_check import run_solution
from synthmill.verify.sandbox import Limits, run_check

pytestmark = pytest.mark.sandbox
LIMITS = Limits(wall_seconds=8, cpu_seconds=4, memory_mb=256)


def judge(code: str, tests: str, entry: str = "f", **kwargs: object) -> str:
    result = run_check(code, tests, entry, kwargs.pop("limits", LIMITS), **kwargs)  # type: ignore[arg-type]
    return result.status


PLAIN = """\
def f(kind):
    return {
        "tuple": (1, (2, 3)), "set": {1, 2}, "frozenset": frozenset({"a"}),
        "bytes": b"\\x00\\xff", "dict": {(1, 2): [None, True, 1.5]}, "big": 10**400,
        "nan": float("nan"), "inf": float("-inf"), "text": "ü\\n\\u2603", "neg0": -0.0,
    }[kind]
"""
PLAIN_TESTS = """\
import math
def check(candidate):
    assert candidate("tuple") == (1, (2, 3)) and type(candidate("tuple")[1]) is tuple
    assert candidate("set") == {1, 2} and type(candidate("set")) is set
    assert type(candidate("frozenset")) is frozenset
    assert candidate("bytes") == b"\\x00\\xff"
    assert candidate(kind="dict") == {(1, 2): [None, True, 1.5]}
    assert candidate("big") == 10**400
    assert math.isnan(candidate("nan")) and candidate("inf") == -math.inf
    assert candidate("text") == "ü\\n\\u2603"
    assert math.copysign(1, candidate("neg0")) == -1
    assert candidate("dict")[(1, 2)][1] is True
"""


def test_plain_data_crosses_both_ways_exactly() -> None:
    assert judge(PLAIN, PLAIN_TESTS) == "passed"


def test_bool_is_not_an_int_and_types_are_kept() -> None:
    tests = "def check(candidate):\n    assert candidate() is True\n"
    assert judge("def f():\n    return 1\n", tests) == "failed"
    assert judge("def f():\n    return True\n", tests) == "passed"


def test_arguments_are_plain_data_and_copies() -> None:
    code = (
        "def f(xs, d, t=()):\n    xs.append(1)\n    return [len(xs), sorted(d), type(t).__name__]\n"
    )
    tests = (
        "def check(candidate):\n    xs = [0]\n"
        "    assert candidate(xs, {'b': 1, 'a': 2}, t=(1,)) == [2, ['a', 'b'], 'tuple']\n"
        "    assert xs == [0]\n"
    )
    assert judge(code, tests) == "passed"


def test_standard_containers_become_plain() -> None:
    code = (
        "from collections import Counter, OrderedDict, defaultdict, deque\n"
        "def f():\n"
        "    return [Counter('aab'), OrderedDict(a=1), defaultdict(int, b=2), deque([3])]\n"
    )
    tests = (
        "def check(candidate):\n"
        "    assert candidate() == [{'a': 2, 'b': 1}, {'a': 1}, {'b': 2}, [3]]\n"
    )
    assert judge(code, tests) == "passed"


def test_builtin_exceptions_reach_tests_that_expect_them() -> None:
    code = "import json\ndef f(x):\n    if x < 0:\n        json.loads('{')\n    return 1 // x\n"
    tests = (
        "def check(candidate):\n"
        "    for bad, error in ((0, ZeroDivisionError), (-1, ValueError)):\n"
        "        try:\n            candidate(bad)\n        except error:\n            pass\n"
        "        else:\n            raise AssertionError('no error')\n"
    )
    assert judge(code, tests) == "passed"


def test_honest_solutions_that_print_recurse_or_take_two_seconds_pass() -> None:
    tests = "def check(candidate):\n    assert candidate(30000) == 30000\n"
    prints = "def f(n):\n    print('thinking about', n)\n    return n\n"
    deep = (
        "import sys\nsys.setrecursionlimit(100000)\n"
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
    )
    slow = (
        "import time\ndef f(n):\n    t = time.time()\n"
        "    while time.time() - t < 2:\n        pass\n    return n\n"
    )
    sleepy = "import time\ndef f(n):\n    time.sleep(2)\n    return n\n"
    result = run_check(prints, tests, "f", LIMITS)
    assert result.status == "passed" and "thinking about 30000" in result.stdout
    for code in (deep, slow, sleepy):
        assert judge(code, tests) == "passed", code


def test_a_demo_under_the_main_guard_does_not_run() -> None:
    code = (
        "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n"
        "def f(x):\n    return P(x).x\n"
        "if __name__ == '__main__':\n    print(f(int(input())))\n"
    )
    assert judge(code, "def check(candidate):\n    assert candidate(3) == 3\n") == "passed"


def test_candidate_and_judge_do_not_share_random_state() -> None:
    code = "import random\ndef f():\n    v = random.getrandbits(64)\n    print(v)\n    return v\n"
    tests = (
        "import random\ndef check(candidate):\n    assert candidate() != random.getrandbits(64)\n"
    )
    runs = [run_check(code, tests, "f", LIMITS) for _ in range(2)]
    assert [r.status for r in runs] == ["passed", "passed"]
    assert runs[0].stdout != runs[1].stdout


def test_failures_are_named() -> None:
    tests = "def check(candidate):\n    assert candidate() == 1\n"
    spin = Limits(wall_seconds=6, cpu_seconds=1)
    assert judge("def f():\n    while True:\n        pass\n", tests, limits=spin) == "timeout"
    sleep = Limits(wall_seconds=1.5)
    assert judge("import time\ndef f():\n    time.sleep(60)\n", tests, limits=sleep) == "timeout"
    assert judge("def f():\n    return bytearray(10**9)\n", tests) == "memory"
    assert judge("def f(:\n", tests) == "failed"
    result = run_check("def f():\n    return 2\n", tests, "f", LIMITS)
    assert "assert candidate() == 1" in result.stderr and result.status == "failed"


def test_tests_that_never_call_the_solution_do_not_pass() -> None:
    assert judge("def f():\n    return 1\n", "def check(candidate):\n    pass\n") == "failed"
    assert judge("def f():\n    return 1\n", "x = 1\n") == "failed"


def test_helpers_without_a_prompt_come_from_the_solution() -> None:
    code = "def helper(x):\n    return x + 1\ndef f(x):\n    return helper(x) * 2\n"
    tests = "def check(candidate):\n    assert candidate(1) == 2 * helper(1)\n"
    result = run_check(code, tests, "f", LIMITS)
    assert result.status == "passed" and "the solution's helper" in result.stderr
    assert judge(code, tests, helpers="def helper(x):\n    return x + 2\n") == "failed"


def test_unsandboxed_mode_judges_the_same_way() -> None:
    tests = "def check(candidate):\n    assert candidate(2) == 4\n"
    assert run_check("def f(x):\n    return 2 * x\n", tests, "f", sandbox=False).status == "passed"
    hack = "class E(int):\n    __eq__ = lambda s, o: True\ndef f(x):\n    return E(0)\n"
    assert run_check(hack, tests, "f", sandbox=False).status == "failed"


PROBE = """\
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)

def _denied(call):
    try:
        call()
    except OSError as e:
        return e.errno
    return 0

def f():
    me = os.getpid()
    others = sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)
    reach = []
    for pid in others:
        for part in ('fd', 'mem', 'environ', 'fdinfo', 'maps'):
            try:
                if os.path.isdir(f'/proc/{pid}/{part}'):
                    os.listdir(f'/proc/{pid}/{part}')
                else:
                    open(f'/proc/{pid}/{part}', 'rb').read(1)
                reach.append(f'{pid}/{part}')
            except OSError:
                pass
    return {
        'others': len(others),
        'init_fds': [os.readlink(f'/proc/1/fd/{x}') for x in os.listdir('/proc/1/fd')],
        'reach': reach,
        'ptrace': [libc.ptrace(16, pid, 0, 0) for pid in others],
        'memfd': _denied(lambda: os.memfd_create('x')),
        'shmget': libc.shmget(0, 4096, 0o1600),
        'unshare': libc.unshare(0x10000000),
        'uid': os.getuid(),
        'fds': sorted(int(x) for x in os.listdir('/proc/self/fd'))[:5],
        'writable': [p for p in ('/', '/usr', '/dev', '/etc', '/tmp', '/dev/shm', '/proc/sys')
                     if os.access(p, os.W_OK)],
        'net': _denied(lambda: socket.create_connection(('1.1.1.1', 53), timeout=1)),
        'env': sorted(os.environ),
    }
"""
PROBE_TESTS = """\
def check(candidate):
    r = candidate()
    assert r['others'] == 3, r  # bwrap's init, the zygote, the judge
    assert [x for x in r['reach'] if not x.startswith('1/')] == [], r['reach']
    assert set(r['init_fds']) <= {'/dev/null', 'anon_inode:[eventfd]'}, r  # bwrap's init
    assert r['ptrace'] == [-1, -1, -1], r
    assert r['memfd'] != 0 and r['shmget'] == -1 and r['unshare'] == -1, r
    assert r['uid'] == 65534, r
    assert r['fds'] == [0, 1, 2, 3, 4], r['fds']
    assert r['writable'] == ['/tmp', '/dev/shm'], r['writable']
    assert r['net'] != 0, r
    assert set(r['env']) <= {'HOME', 'PATH', 'PWD', 'LC_CTYPE'}, r['env']
"""


def test_what_the_candidate_can_reach() -> None:
    """Run as a judged solution: the judge passes it only if every denial holds."""
    result = run_check(PROBE, PROBE_TESTS, "f", LIMITS)
    assert result.status == "passed", result.stderr


def test_the_probe_notices_a_missing_protection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a zygote that stays dumpable exposes the judge, and the probe says so."""
    weak = sandbox_pool.ZYGOTE_SOURCE.replace("prctl(PR_SET_DUMPABLE, 0)", "pass")
    assert weak != sandbox_pool.ZYGOTE_SOURCE
    monkeypatch.setattr(sandbox_pool, "ZYGOTE_SOURCE", weak)
    result = run_check(PROBE, PROBE_TESTS, "f", LIMITS, fresh=True)
    assert result.status == "failed" and "'2/fd'" in result.stderr, result.stderr  # the zygote


def test_a_run_solution_with_a_prompt_prefix() -> None:
    prompt = 'def f(x):\n    """Double x."""\n'
    result = run_solution("    return 2 * x\n", "def check(c):\n    assert c(3) == 6\n", "f",
                          limits=LIMITS, prefix=prompt)  # fmt: skip
    assert result.status == "passed"
