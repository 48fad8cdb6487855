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
from typing import Any, Callable, Deque, Optional, Tuple

WAIT_SLICE = 0.2


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def wait(future, on_wait: Optional[Callable[[], None]] = None) -> Any:
    """future.result(), waiting in short slices so signals are handled;
    on_wait, if given, is called after each slice (progress reports).
    Works for concurrent.futures and dask.distributed futures alike.

    The slices wait on an event the future sets when it finishes, and the
    result is asked for only then. Polling a dask future with
    result(timeout=...) races with distributed's own timeout: under load
    its sync() returned with neither a result nor an error
    (UnboundLocalError), and the block was lost."""
    finished = threading.Event()
    future.add_done_callback(lambda _: finished.set())
    while not finished.wait(WAIT_SLICE):
        if on_wait is not None:
            on_wait()
    return future.result()


class JobQueue:
    """Jobs whose results come back in the order they were submitted, with
    at most `workers` of them in flight. Subclasses say where jobs run.
    Jobs that can stop early take ``cancel``, which close() sets; arguments
    given as ``local`` (callbacks, that event) only make sense in this
    process and are not sent elsewhere."""

    shares_memory = True  # the jobs' memory adds up in this process
    reports_frames = True  # the jobs call their local on_frame as they go

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.cancel = threading.Event()
        self._jobs: Deque[Tuple[Any, Any]] = deque()

    def _start(self, fn: Callable[..., Any], args: tuple, kwargs: dict, local: dict) -> Any:
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], *args: Any, tag: Any = None, local: Optional[dict] = None,
               **kwargs: Any) -> None:
        self._jobs.append((self._start(fn, args, kwargs, local or {}), tag))

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
        any exception, every job is cancelled and the queue is closed."""
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
        for future, _ in self._jobs:
            future.cancel()
        self._jobs.clear()


class OrderedRunner(JobQueue):
    """Jobs on up to `workers` threads of this process.
    (statesmix.cluster.DaskRunner runs them on a Dask cluster.)"""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="statesmix")

    def _start(self, fn: Callable[..., Any], args: tuple, kwargs: dict, local: dict) -> Future:
        try:
            return self._pool.submit(fn, *args, **kwargs, **local)
        except RuntimeError as exc:
            # a thread's stack did not fit under the memory limit (ulimit -v):
            # the same failure as any other allocation's
            if "can't start new thread" in str(exc):
                raise MemoryError("no memory for another thread") from exc
            if self.cancel.is_set():  # closed by its owner
                raise
            # The interpreter is exiting and has stopped every thread pool: a
            # file left open, or closed by an atexit handler, is being
            # finished. The job runs here, or its stream would lose its end.
            return _run_here(fn, args, {**kwargs, **local})

    def close(self) -> None:
        super().close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run_here(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Future:
    """fn(*args, **kwargs) run on this thread, as a finished future."""
    future: Future = Future()
    try:
        future.set_result(fn(*args, **kwargs))
    except BaseException as exc:
        future.set_exception(exc)
    return future
