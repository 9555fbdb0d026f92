"""Work started ahead in a forked copy of this process, used if it turns out to be needed.

The sibling-group solver may need a second flow relaxation (without the together level)
after the first one and its repair: on a national problem each takes 2 s, on the stress
instance 5-9 s. Both depend on the problem alone, so the second can run on the other core
while the first runs here, and is thrown away when the first repair already meets the bound.
The flows are the same array either way (the child runs the same deterministic code on a
copy of the same memory). With a time limit in wall seconds (not `--deterministic`), the
child's work shares the machine with the parent's repair while both run, as any other load
would. `PLACEMENT_EDGE_WORKERS=1` forks nothing, here as for the edges.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Self

import numpy as np

from matcher.tables import IntArray

__all__ = ["AHEAD_FROM_EDGES", "FORK_OFF_ENV", "Ahead", "Forked", "can_fork", "cores", "may_fork"]

# Below this many edges a relaxation takes a fraction of a second: not worth a process.
AHEAD_FROM_EDGES = 200_000
# "1": nothing forked (the variable that sets the edge builder's processes).
FORK_OFF_ENV = "PLACEMENT_EDGE_WORKERS"


def can_fork() -> bool:
    """A fork copies one thread: a lock another thread held (a server's, a Dask worker's)
    would never be released in the copy. So only in a process with one Python thread, on a
    system that forks, and not in a worker of a process pool (its siblings use the cores)."""
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and multiprocessing.parent_process() is None
    )


def may_fork() -> bool:
    """Whether work may go ahead in a child: forking is safe (`can_fork`), a second core is
    there, and `PLACEMENT_EDGE_WORKERS=1` does not forbid it."""
    return can_fork() and cores() >= 2 and os.environ.get(FORK_OFF_ENV, "").strip() != "1"


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


class Forked:
    """Arrays `job()` returns, computed in a forked child and sent back down a pipe as .npy
    bytes (no pickle on either side). `arrays()` waits for them (None if the child failed
    or did not answer in time: the caller then works them out itself); `cancel()` stops and
    reaps the child. The forked edge builder, `Ahead` and the groups' proof (a placement
    priced ahead, a pricing halfway, a polish) use it."""

    def __init__(self, pid: int, read: int) -> None:
        self._pid: int | None = pid
        self._read = read

    @classmethod
    def fork(cls, job: Callable[[], Sequence[np.ndarray]]) -> Self | None:
        """The job running in a child; None if no child could be started. Whether a fork is
        safe here (`can_fork`) is the caller's to ask."""
        try:
            read, write = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None
        if pid:
            os.close(write)
            return cls(pid, read)
        code = 1
        try:  # the child: the arrays down the pipe, then out without any clean-up of ours
            os.close(read)
            buffer = io.BytesIO()  # np.save writes to a pipe only through a seekable file
            for array in job():
                np.save(buffer, array, allow_pickle=False)
            with os.fdopen(write, "wb") as out:
                out.write(buffer.getbuffer())
            code = 0
        finally:
            os._exit(code)

    def arrays(self, timeout: float | None = None) -> list[np.ndarray] | None:
        """The child's arrays; None if it failed or gave none within `timeout` seconds."""
        if self._pid is None:
            return None
        payload = b""
        try:
            payload = self._read_all(timeout)
        finally:
            self.cancel()  # reaps the child whether it answered, failed or hung
        stream = io.BytesIO(payload)
        found = []
        try:
            while stream.tell() < len(payload):
                found.append(np.load(stream, allow_pickle=False))
        except (ValueError, OSError, EOFError):
            return None  # a child killed mid-write
        return found or None

    def _read_all(self, timeout: float | None) -> bytes:
        """Everything the child writes until it closes the pipe, or b"" past the deadline."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks: list[bytes] = []
        poller = select.poll()  # not select.select: it refuses descriptors past 1023
        poller.register(self._read, select.POLLIN | select.POLLHUP)
        while True:
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not poller.poll(None if wait is None else int(wait * 1000)):
                return b""
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def cancel(self) -> None:
        """Stop the child if it still runs and reap it; close the pipe. Idempotent."""
        pid, self._pid = self._pid, None
        if self._read >= 0:
            with contextlib.suppress(OSError):
                os.close(self._read)
            self._read = -1
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


class Ahead(Forked):
    """An integer array `job()` computes in a forked child, started only where forking is
    safe and a second core is there. `result()` waits for it (None if the child failed: the
    caller then computes it itself); `cancel()` stops the child."""

    @classmethod
    def start(cls, job: Callable[[], IntArray]) -> Ahead | None:
        """The job running in a child; None where forking is not safe or did not work."""
        if not may_fork():
            return None
        return cls.fork(partial(_sparse, job))

    def result(self, timeout: float | None = None) -> IntArray | None:
        """The child's array; None if it failed or gave none within `timeout` seconds (it is
        then stopped: the caller computes the array itself)."""
        found = self.arrays(timeout)
        if found is None or len(found) != 3:
            return None
        length, used, values = found
        out = np.zeros(int(length[0]), dtype=np.int64)
        out[used] = values
        return out


def _sparse(job: Callable[[], IntArray]) -> tuple[np.ndarray, ...]:
    """The job's array as (length, nonzero positions, their values): a relaxation's flow is
    zero on nearly every edge (national: 3,200 of 1.15 million)."""
    values = np.asarray(job(), dtype=np.int64)
    used = np.flatnonzero(values)
    return np.array([len(values)]), used, values[used]
