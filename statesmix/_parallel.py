"""Worker threads for blocks and frames, with waits that Ctrl-C can break.

The native engine releases the GIL, so blocks coded on worker threads run
in parallel. The calling thread only waits, in slices of WAIT_SLICE
seconds, so a KeyboardInterrupt reaches it within a second even while a
long frame is being coded; the jobs it abandons see ``cancel`` set and stop
at their next frame boundary.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as _Timeout
from typing import Any, Callable, Deque, Optional, Tuple

WAIT_SLICE = 0.2


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def wait(future: Future, on_wait: Optional[Callable[[], None]] = None) -> Any:
    """future.result(), waiting in short slices so signals are handled;
    on_wait, if given, is called after each slice (progress reports)."""
    while True:
        try:
            return future.result(timeout=WAIT_SLICE)
        except _Timeout:
            if on_wait is not None:
                on_wait()


class OrderedRunner:
    """Runs jobs on up to `workers` threads; results come back in the order
    the jobs were submitted. Jobs that can stop early take the runner's
    ``cancel`` event, which close() sets."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.cancel = threading.Event()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="statesmix")
        self._jobs: Deque[Tuple[Future, Any]] = deque()

    def submit(self, fn: Callable[..., Any], *args: Any, tag: Any = None, **kwargs: Any) -> None:
        self._jobs.append((self._pool.submit(fn, *args, **kwargs), tag))

    @property
    def pending(self) -> int:
        return len(self._jobs)

    @property
    def full(self) -> bool:
        return len(self._jobs) >= self.workers

    def oldest_done(self) -> bool:
        return bool(self._jobs) and self._jobs[0][0].done()

    def oldest_tag(self) -> Any:
        return self._jobs[0][1]

    def pop(self, on_wait: Optional[Callable[[], None]] = None) -> Any:
        """The result of the oldest job, waiting for it (interruptibly). On
        any exception, every job is cancelled and the runner is closed."""
        future, _ = self._jobs[0]
        try:
            result = wait(future, on_wait)
        except BaseException:
            self.close()
            raise
        self._jobs.popleft()
        return result

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs one job now and waits for it (a frame, on a worker thread)."""
        self.submit(fn, *args, **kwargs)
        return self.pop()

    def close(self) -> None:
        self.cancel.set()
        self._jobs.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
