"""Which process owns a stored run, and whether that process is still alive: a process is named by its id, its
start time (so that a recycled id is not taken for the old process) and the host it runs on."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessId:
    pid: int
    started: int | None  # start time in clock ticks after boot (Linux /proc); None where it cannot be read
    host: str


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def this_process() -> ProcessId:
    pid = os.getpid()
    return ProcessId(pid, start_time(pid), socket.gethostname())


def is_alive(owner: ProcessId) -> bool | None:
    """True while the owner runs, False once it is gone (exited, killed, a zombie, or its id now names another
    process), None when it cannot be told from here (the owner ran on another host)."""
    if owner.host != socket.gethostname():
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    fields = _stat(owner.pid)
    if fields is None:
        return True  # no /proc here: existence is all that can be checked
    if fields[0] in ("Z", "X"):
        return False
    return owner.started is None or start_time(owner.pid) == owner.started
