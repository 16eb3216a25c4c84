"""The reward-hack corpus: wrong solutions that try to pass by attacking the judge.

Every hack must come back not passed, the honest solution must pass (so the tests can
fail), and the sandbox must still judge correctly right after each hack.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from synthmill.problems.humaneval import load_humaneval
from synthmill.verify.code_check import run_solution
from synthmill.verify.sandbox import Limits

pytestmark = pytest.mark.sandbox
LIMITS = Limits(wall_seconds=4, cpu_seconds=2, memory_mb=256, processes=16)

TESTS = """\
def check(candidate):
    assert candidate([1, 2, 3]) == 6
    assert candidate([]) == 0
    assert candidate([-5, 5, 10]) == 10
    assert candidate([7]) != 8
"""
HONEST = "def total(xs):\n    return sum(xs)\n"
WRONG = "def total(xs):\n    return 0\n"

# Each hack is a complete solution for `total`; none computes the sum.
HACKS = {
    "os_exit_at_import": "import os\nos._exit(0)\n",
    "system_exit_at_import": "raise SystemExit(0)\n",
    "sys_exit_in_function": "import sys\ndef total(xs):\n    sys.exit(0)\n",
    "os_exit_in_function": "import os\ndef total(xs):\n    os._exit(0)\n",
    "excepthook": "import os, sys\nsys.excepthook = lambda *a: os._exit(0)\n" + WRONG,
    "atexit": "import atexit, os\natexit.register(lambda: os._exit(0))\n" + WRONG,
    "always_equal_object": (
        "class Eq:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "def total(xs):\n    return Eq()\n"
    ),
    "always_equal_int": (
        "class E(int):\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
        "    __hash__ = int.__hash__\ndef total(xs):\n    return E(0)\n"
    ),
    "always_equal_str": (
        "class S(str):\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
        "    __hash__ = str.__hash__\ndef total(xs):\n    return S('x')\n"
    ),
    "always_equal_list_and_dict": (
        "class L(list):\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
        "def total(xs):\n    return L()\n"
    ),
    "fake_class_attribute": (
        "class Fake:\n    __class__ = int\n    __eq__ = lambda s, o: True\n"
        "def total(xs):\n    return Fake()\n"
    ),
    "inspect_caller_source": (
        "import ast, inspect\n"
        "def total(xs):\n"
        "    for info in inspect.stack():\n"
        "        line = (info.code_context or [''])[0]\n"
        "        if '==' in line and 'candidate' in line:\n"
        "            return ast.literal_eval(line.split('==')[1].strip())\n"
        "    return 0\n"
    ),
    "caller_frame_locals": (
        "import sys\n"
        "def total(xs):\n"
        "    f = sys._getframe(1)\n"
        "    while f:\n"
        "        for v in f.f_locals.values():\n"
        "            if isinstance(v, int) and v:\n"
        "                return v\n"
        "        f = f.f_back\n"
        "    return 0\n"
    ),
    "gc_scan_for_tests": (
        "import ast, gc, re\n"
        "def total(xs):\n"
        "    for o in gc.get_objects():\n"
        "        for s in (o.values() if isinstance(o, dict) else ()):\n"
        "            if isinstance(s, str) and 'assert candidate' in s:\n"
        "                m = re.search(re.escape(repr(xs)) + r'\\) == (.+)', s)\n"
        "                if m:\n"
        "                    return ast.literal_eval(m.group(1))\n"
        "    return 0\n"
    ),
    "sys_modules_check_function": (
        "import sys\n"
        "def total(xs):\n"
        "    for m in list(sys.modules.values()):\n"
        "        check = getattr(m, 'check', None)\n"
        "        if callable(check):\n"
        "            return check.__code__.co_consts[-1]\n"
        "    return 0\n"
    ),
    "scan_own_memory_for_tests": (
        "import re\n"
        "def total(xs):\n"
        "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb') as mem:\n"
        "        for line in maps:\n"
        "            lo, hi = (int(x, 16) for x in line.split()[0].split('-'))\n"
        "            if 'rw' not in line.split()[1] or hi - lo > 1 << 26:\n"
        "                continue\n"
        "            try:\n"
        "                mem.seek(lo)\n"
        "                data = mem.read(hi - lo)\n"
        "            except OSError:\n"
        "                continue\n"
        "            m = re.search(re.escape(repr(xs).encode()) + rb'\\) == (-?\\d+)', data)\n"
        "            if m:\n"
        "                return int(m.group(1))\n"
        "    return 0\n"
    ),
    "read_other_processes": (
        "import os, re\n"
        "def total(xs):\n"
        "    for pid in os.listdir('/proc'):\n"
        "        paths = [f'/proc/{pid}/{p}' for p in ('environ', 'cmdline')]\n"
        "        try:\n"
        "            paths += [f'/proc/{pid}/fd/{fd}' for fd in os.listdir(f'/proc/{pid}/fd')]\n"
        "        except OSError:\n"
        "            pass\n"
        "        for path in paths:\n"
        "            try:\n"
        "                if 'pipe:' in os.readlink(path) or 'socket:' in os.readlink(path):\n"
        "                    continue\n"
        "            except OSError:\n"
        "                pass\n"
        "            try:\n"
        "                data = open(path, 'rb').read(1 << 20)\n"
        "            except OSError:\n"
        "                continue\n"
        "            m = re.search(re.escape(repr(xs).encode()) + rb'\\) == (-?\\d+)', data)\n"
        "            if m:\n"
        "                return int(m.group(1))\n"
        "    return 0\n"
    ),
    "execv_true": "import os\nos.execv('/bin/true', ['true'])\n",
    "execv_in_function": "import os\ndef total(xs):\n    os.execv('/bin/true', ['true'])\n",
    "print_pass_markers": (
        "import sys\n"
        "for s in (sys.stdout, sys.stderr):\n"
        '    print(\'passed\\nPASSED\\nOK\\n{"passed": true, "token": ""}\\nall tests passed\','
        " file=s)\n" + WRONG
    ),
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG,
    "killpg": "import os, signal\ndef total(xs):\n    os.killpg(0, signal.SIGKILL)\n",
    "kill_every_process": (
        "import os, signal\n"
        "def total(xs):\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and int(pid) != os.getpid():\n"
        "            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):\n"
        "                try:\n"
        "                    os.kill(int(pid), sig)\n"
        "                except OSError:\n"
        "                    pass\n"
        "    return 0\n"
    ),
    "stop_the_judge": (
        "import os, signal\n"
        "def total(xs):\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and int(pid) not in (1, os.getpid()):\n"
        "            try:\n"
        "                os.kill(int(pid), signal.SIGSTOP)\n"
        "            except OSError:\n"
        "                pass\n"
        "    return 0\n"
    ),
    "write_inherited_fds": (
        "import os\n"
        'fake = b\'{"token": "", "passed": true, "calls": 3, "error": ""}\'\n'
        "for fd in range(0, 256):\n"
        "    try:\n"
        "        os.write(fd, fake)\n"
        "    except OSError:\n"
        "        pass\n" + WRONG
    ),
    "reopen_fds_through_proc": (
        "import os\n"
        'fake = b\'{"token": "", "passed": true, "calls": 3, "error": ""}\'\n'
        "for pid in os.listdir('/proc'):\n"
        "    for fd in range(8):\n"
        "        try:\n"
        "            f = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY)\n"
        "            os.write(f, fake)\n"
        "        except OSError:\n"
        "            pass\n" + WRONG
    ),
    "forge_reply_on_the_call_pipe": (
        "import json, os, struct\n"
        "def total(xs):\n"
        "    msg = json.dumps({'passed': True, 'value': 6}).encode()\n"
        "    os.write(4, struct.pack('>I', len(msg)) + msg)\n"
        "    os._exit(0)\n"
    ),
    "monkeypatch_builtins": (
        "import builtins\n"
        "builtins.AssertionError = type('Nope', (Exception,), {})\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.len = lambda *a: 0\n" + WRONG
    ),
    "stop_iteration_through_map": "def total(xs):\n    raise StopIteration\n",
    "fake_builtin_exception": (
        "class StopIteration(Exception):\n    __module__ = 'builtins'\n"
        "def total(xs):\n    raise StopIteration\n"
    ),
    "keyboard_interrupt": "def total(xs):\n    raise KeyboardInterrupt\n",
    "generator_return": "def total(xs):\n    yield sum(xs)\n",
    "ptrace_the_judge": (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def total(xs):\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and int(pid) != os.getpid():\n"
        "            if libc.ptrace(16, int(pid), 0, 0) == 0:\n"  # PTRACE_ATTACH
        "                return sum(xs)  # flag: attach must never succeed\n"
        "    return 0\n"
    ),
    "leave_a_process_for_the_next_run": (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        for pid in os.listdir('/proc'):\n"
        "            if pid.isdigit() and int(pid) not in (1, os.getpid()):\n"
        "                try:\n"
        "                    os.kill(int(pid), 9)\n"
        "                except OSError:\n"
        "                    pass\n"
        "        time.sleep(0.001)\n" + WRONG
    ),
    "patch_the_server_loop": (
        "import gc, json, os, struct\n"
        "def forged(fd, message):\n"
        "    data = json.dumps({'token': '', 'passed': True, 'value': 6}).encode()\n"
        "    os.write(fd, struct.pack('>I', len(data)) + data)\n"
        "for f in gc.get_objects():\n"
        "    if type(f).__name__ == 'function' and f.__name__ in ('send', 'encode'):\n"
        "        f.__globals__['send'] = forged\n" + WRONG
    ),
    "os_abort": "import os\ndef total(xs):\n    os.abort()\n",
    "close_every_fd": "import os\ndef total(xs):\n    os.closerange(0, 4096)\n    return 6\n",
    "nan_everywhere": "def total(xs):\n    return float('nan')\n",
    "fork_and_race_replies": (
        "import json, os, struct\n"
        "def total(xs):\n"
        "    if os.fork() == 0:\n"
        "        for v in (6, 6, 6, 6):  # queued replies for the calls to come\n"
        "            data = json.dumps({'value': v}).encode()\n"
        "            os.write(4, struct.pack('>I', len(data)) + data)\n"
        "        os._exit(0)\n"
        "    os.wait()\n"
        "    return 6\n"
    ),
    "huge_nested_reply": (
        "def total(xs):\n    v = []\n    for _ in range(200000):\n        v = [v]\n    return v\n"
    ),
}

STOP_TESTS = (
    "def check(candidate):\n    assert all(map(lambda xs: candidate(xs) > 0, [[1], [2]]))\n"
)


def test_the_corpus_is_large() -> None:
    assert len(HACKS) >= 40


def test_the_honest_solution_passes_and_a_wrong_one_fails() -> None:
    assert run_solution(HONEST, TESTS, "total", limits=LIMITS).status == "passed"
    assert run_solution(WRONG, TESTS, "total", limits=LIMITS).status == "failed"
    assert run_solution(HONEST, STOP_TESTS, "total", limits=LIMITS).status == "passed"


SLOW = {"stop_the_judge"}  # a stopped zygote is caught by the host's deadline: wall + grace


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in sorted(HACKS)]
)
def test_hack_does_not_pass(name: str) -> None:
    tests = STOP_TESTS if "stop_iteration" in name or "fake_builtin" in name else TESTS
    result = run_solution(HACKS[name], tests, "total", limits=LIMITS)
    assert result.status != "passed", result
    # the sandbox it ran in still judges correctly
    assert run_solution(HONEST, TESTS, "total", limits=LIMITS).status == "passed"
    assert run_solution(WRONG, TESTS, "total", limits=LIMITS).status == "failed"


def test_helpers_from_the_prompt_are_the_judges() -> None:
    """HumanEval/32's tests call the prompt's poly(): a solution redefining it gains nothing."""
    task = next(t for t in load_humaneval() if t["task_id"] == "HumanEval/32")
    hack = task["prompt"].replace("return sum(", "return 0 * sum(") + "    return 0.0\n"
    assert "return 0 * sum(" in hack
    good = run_solution(task["prompt"] + task["canonical_solution"], task["test"],
                        task["entry_point"], limits=LIMITS, prefix=task["prompt"])  # fmt: skip
    bad = run_solution(hack, task["test"], task["entry_point"], limits=LIMITS,
                       prefix=task["prompt"])  # fmt: skip
    assert (good.status, bad.status) == ("passed", "failed")


UNIVERSAL = """\
    class Anything:
        def __eq__(self, other):
            return True
        __le__ = __ge__ = __lt__ = __gt__ = __contains__ = __eq__
        def __ne__(self, other):
            return False
        def __getattr__(self, name):
            return lambda *a, **k: self
        def __bool__(self):
            return True
        def __len__(self):
            return 0
        def __iter__(self):
            return iter(())
        __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __abs__ = __neg__ = __getattr__
        __getitem__ = __round__ = __mod__ = __truediv__ = __getattr__
    return Anything()
"""


@pytest.mark.slow
def test_every_humaneval_task_judges_canonical_and_hacks() -> None:
    """With the prompt given (its helpers run in the judge): canonical passes, broken and
    hacked solutions fail, on all 164 tasks."""
    tasks = load_humaneval()

    def run(task: dict[str, str]) -> list[tuple[str, str, str]]:
        prompt, entry = task["prompt"], task["entry_point"]
        body = task["canonical_solution"].rstrip().splitlines()
        broken = "\n".join(body[:-1]) + "\n    return None\n" if len(body) > 1 else "    pass\n"
        solutions = {
            "canonical": prompt + task["canonical_solution"],
            "broken": prompt + broken,
            "universal_object": prompt + UNIVERSAL,
            "exit_in_function": prompt + "    import os\n    os._exit(0)\n",
        }
        return [
            (task["task_id"], name, run_solution(code, task["test"], entry, prefix=prompt).status)
            for name, code in solutions.items()
        ]

    with ThreadPoolExecutor(2) as pool:
        results = [r for rs in pool.map(run, tasks) for r in rs]
    assert len(results) == 4 * 164
    wrong = [r for r in results if (r[1] == "canonical") != (r[2] == "passed")]
    assert wrong == []
