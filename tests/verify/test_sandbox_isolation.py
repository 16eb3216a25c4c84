"""Memory that no rlimit counts is capped, and one run leaves nothing for the next."""

from __future__ import annotations

import re

import pytest

from synthmill.verify.sandbox import Limits, run_check, run_python
from synthmill.verify.sandbox_pool import POOL

pytestmark = pytest.mark.sandbox
BUDGET = Limits(wall_seconds=20, cpu_seconds=10, memory_mb=128, max_files=100_000)

FILL = """\
import os, sys
total, last = 0, None
def fill(root):
    global total, last
    for i in range(10**6):
        try:
            with open(os.path.join(root, f'fill{i}'), 'wb') as f:
                for _ in range(4):
                    f.write(b'x' * 2**20)
                    f.flush()
                    total += 2**20
        except OSError as e:
            last = e
            return
writable = []
mounts = [line.split()[1] for line in open('/proc/self/mounts')]
guesses = ['/dev/shm', '/tmp', '/dev/mqueue', '/run', '/var/tmp', os.path.expanduser('~')]
for root, dirs, files in os.walk('/'):
    if root.startswith(('/proc', '/sys')) or root.count('/') > 3:
        dirs[:] = []
    elif os.access(root, os.W_OK):
        writable.append(root)
for path in mounts + guesses:
    if os.path.isdir(path) and path not in writable and os.access(path, os.W_OK):
        writable.append(path)
for path in writable:
    fill(path)
for name, call in (('memfd', lambda: os.memfd_create('x')),):
    try:
        fd = call()
        for _ in range(64):
            os.write(fd, b'x' * 2**20)
            total += 2**20
    except OSError as e:
        print(name, 'refused', e.errno)
print('WRITABLE', writable)
print('TOTAL', total)
sys.stdout.flush()
raise last
"""


def test_filling_every_writable_path_stays_under_the_memory_budget() -> None:
    result = run_python(FILL, BUDGET)
    assert result.status in ("output_limit", "memory"), result
    total = int(re.findall(r"TOTAL (\d+)", result.stdout)[0])
    assert total <= BUDGET.tmp_bytes + BUDGET.shm_bytes <= BUDGET.memory_mb * 2**20
    assert total >= BUDGET.tmp_bytes // 2  # it really wrote: /tmp is usable
    assert "memfd refused 1" in result.stdout
    assert "'/tmp'" in result.stdout and "'/dev/shm'" in result.stdout


def test_every_writable_mount_is_a_capped_tmpfs() -> None:
    code = "print(open('/proc/self/mounts').read())"
    mounts = run_python(code, BUDGET).stdout.splitlines()
    devices = {f"/dev/{d}" for d in ("null", "zero", "full", "random", "urandom", "tty")}
    writable = [m.split() for m in mounts if " rw," in m and m.split()[1] not in devices]
    writable = [m for m in writable if m[2] not in ("proc", "devpts")]
    assert sorted(m[1] for m in writable) == ["/dev/shm", "/tmp"], mounts
    sizes = [int(re.findall(r"size=(\d+)k", m[3])[0]) * 1024 for m in writable]
    assert sum(sizes) == BUDGET.tmp_bytes + BUDGET.shm_bytes
    assert sum(sizes) + BUDGET.address_space == BUDGET.memory_mb * 2**20


def test_many_small_files_are_stopped() -> None:
    code = "for i in range(10**6):\n    open(f'/tmp/f{i}', 'w').close()\n"
    result = run_python(code, Limits(max_files=2000, wall_seconds=20, cpu_seconds=10))
    assert result.status == "output_limit"


LEAVE = """\
import os, subprocess
for d in ('/tmp', '/dev/shm'):
    os.setxattr(d, 'user.left-by-a', b'secret of a')
    open(f'{d}/left-by-a', 'w').write('secret of a')
    os.makedirs(f'{d}/dir-by-a/sub', exist_ok=True)
    os.chmod(f'{d}/dir-by-a', 0)
    os.utime(d, (12345, 12345))
subprocess.Popen(['sleep', '271.828'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '271.828'])
    os._exit(0)
"""
LOOK = """\
import os
def look():
    roots = ('/tmp', '/dev/shm')
    files = [n for d in roots for n in os.listdir(d) + os.listxattr(d)]
    files += [d for d in roots if os.stat(d).st_mtime == 12345]
    cmdlines = []
    for pid in os.listdir('/proc'):
        try:
            cmdlines.append(open(f'/proc/{pid}/cmdline', 'rb').read().decode())
        except OSError:
            pass
    return [files, [c for c in cmdlines if 'sleep' in c]]
"""


@pytest.mark.parametrize("mode", ["program", "check"])
def test_what_a_run_leaves_is_gone_for_the_next(mode: str) -> None:
    limits = Limits(wall_seconds=5)
    if mode == "program":
        first = run_python(LEAVE, limits)
        assert first.status == "passed", first
        started = POOL.started
        after = run_python(LOOK + "print(look())\n", limits)
        assert after.stdout.strip() == "[[], []]", after
    else:
        first = run_check(LEAVE + "def f():\n    return 1\n", "def check(c):\n    c()\n", "f")
        assert first.status == "passed", first
        started = POOL.started
        after = run_check(LOOK, "def check(c):\n    assert c() == [[], []]\n", "look", limits)
        assert after.status == "passed", after.stderr
    assert POOL.started == started  # the same warm sandbox ran both


def test_a_fresh_sandbox_shares_not_even_pid_numbers() -> None:
    code = "import os\nprint(os.getpid(), os.listxattr('/tmp'))\n"
    warm = [run_python(code).stdout for _ in range(2)]
    assert warm[0] != warm[1]  # the warm sandbox's pid counter moves on
    started = POOL.started
    fresh = [run_python(code, fresh=True).stdout for _ in range(2)]
    assert fresh[0] == fresh[1] and POOL.started == started + 2
