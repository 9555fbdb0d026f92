"""Work started ahead in a forked copy of this process, used if it turns out to be needed.

The sibling-group solver may need a second flow relaxation (without the together level)
after the first one and its repair: on a national problem each takes 2 s, on the stress
instance 5-9 s. Both depend on the problem alone, so the second can run on the other core
while the first runs here, and is thrown away when the first repair already meets the bound.
The answer is the same array either way (the child runs the same deterministic code on a
copy of the same memory); only the wall time changes.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable

import numpy as np

from matcher.tables import IntArray

__all__ = ["AHEAD_FROM_EDGES", "Ahead", "can_fork", "cores"]

# Below this many edges a relaxation takes a fraction of a second: not worth a process.
AHEAD_FROM_EDGES = 200_000


def can_fork() -> bool:
    """A fork copies one thread: a lock another thread held (a server's, a Dask worker's)
    would never be released in the copy. So only in a process with one Python thread, on a
    system that forks, and not in a worker of a process pool (its siblings use the cores)."""
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and multiprocessing.parent_process() is None
    )


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


class Ahead:
    """An integer array `job()` computes in a forked child. `result()` waits for it (None if
    the child failed: the caller then computes it itself); `cancel()` stops the child."""

    def __init__(self, pid: int, read: int) -> None:
        self._pid: int | None = pid
        self._read = read

    @classmethod
    def start(cls, job: Callable[[], IntArray]) -> Ahead | None:
        """The job running in a child; None where forking is not safe or did not work."""
        if not can_fork() or cores() < 2:
            return None
        try:
            read, write = os.pipe()
            pid = os.fork()
        except OSError:
            return None
        if pid:
            os.close(write)
            return cls(pid, read)
        code = 1
        try:  # the child: the array down the pipe, then out without any clean-up of ours
            os.close(read)
            values = np.asarray(job(), dtype=np.int64)
            # Sent sparse: a relaxation's flow is zero on nearly every edge (national: 3,200
            # of 1.15 million).
            used = np.flatnonzero(values)
            buffer = io.BytesIO()  # np.save writes to a pipe only through a seekable file
            for column in (np.array([len(values)]), used, values[used]):
                np.save(buffer, column, allow_pickle=False)
            with os.fdopen(write, "wb") as out:
                out.write(buffer.getbuffer())
            code = 0
        finally:
            os._exit(code)

    def result(self) -> IntArray | None:
        if self._pid is None:
            return None
        with os.fdopen(self._read, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status != 0 or not payload:
            return None
        stream = io.BytesIO(payload)
        length, used, values = (np.load(stream, allow_pickle=False) for _ in range(3))
        out = np.zeros(int(length[0]), dtype=np.int64)
        out[used] = values
        return out

    def cancel(self) -> None:
        """Stop the child if it still runs (a no-op after `result`)."""
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        os.close(self._read)
        os.waitpid(self._pid, 0)
        self._pid = None
