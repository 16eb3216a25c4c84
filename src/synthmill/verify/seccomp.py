"""A seccomp filter for the sandbox (bwrap --seccomp): system calls a candidate never needs.

Denied with EPERM: tracing and reading other processes (ptrace, process_vm_*, kcmp,
pidfd_getfd), memory that no limit counts (SysV shm/msg/sem, POSIX queues, memfd,
userfaultfd, io_uring), kernel keyrings, bpf, perf, mounts and new namespaces (unshare,
setns, clone with namespace flags), module and kexec loading. clone3 answers ENOSYS so
the C library falls back to clone, whose flags the filter can read. Any other
architecture (32-bit calls through int 0x80, x32) kills the process. Only x86_64 has a
table; elsewhere `filter_bytes()` returns None and the sandbox runs without it.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}

DENIED_X86_64 = {
    "ptrace": 101, "syslog": 103, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "pidfd_getfd": 438, "process_madvise": 440,
    "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "msgget": 68, "mq_open": 240,
    "memfd_create": 319, "memfd_secret": 447, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "add_key": 248, "request_key": 249, "keyctl": 250, "bpf": 321, "perf_event_open": 298,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
    "setns": 308, "open_by_handle_at": 304, "name_to_handle_at": 303, "fanotify_init": 300,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169,
    "fsopen": 430, "fsmount": 432, "move_mount": 429, "open_tree": 428, "mount_setattr": 442,
}  # fmt: skip
CLONE, CLONE3 = 56, 435

# classic BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _x86_64_program() -> list[bytes]:
    """arch check, x32 check, the deny list, clone's namespace flags, then allow."""
    deny = RET_ERRNO | errno.EPERM
    head = [
        _op(LD_W_ABS, 4),  # seccomp_data.arch
        _op(JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _op(RET_K, RET_KILL_PROCESS),
        _op(LD_W_ABS, 0),  # seccomp_data.nr
        _op(JGE_K, X32_BIT, jf=1),
        _op(RET_K, RET_KILL_PROCESS),
        _op(JEQ_K, CLONE3, jf=1),
        _op(RET_K, RET_ERRNO | errno.ENOSYS),
    ]
    numbers = sorted(set(DENIED_X86_64.values()))
    checks = [_op(JEQ_K, nr, jt=len(numbers) - i + 4) for i, nr in enumerate(numbers)]
    clone = [
        _op(JEQ_K, CLONE, jf=3),
        _op(LD_W_ABS, 16),  # low half of args[0], clone's flags
        _op(JSET_K, NAMESPACE_FLAGS, jt=2),
        _op(RET_K, RET_ALLOW),
        _op(RET_K, RET_ALLOW),
        _op(RET_K, deny),
    ]
    return head + checks + clone


def filter_bytes() -> bytes | None:
    """The compiled filter for this machine, or None where there is no table for it."""
    if platform.machine() != "x86_64":
        return None
    return b"".join(_x86_64_program())
