"""Blocks over a Dask cluster: ``pip install 'statesmix[dask]'``.

The same block pipeline as the local one (api.Compressor and Decompressor),
with the blocks sent to the workers of a ``dask.distributed.Client``
instead of local threads, so the bytes written are exactly those of a
local run with the same level and block size (and any -T). This process
reads the input, keeps at most ``in_flight`` blocks out on the cluster,
and writes the results in order.

    from dask.distributed import Client
    import statesmix.cluster as sc

    client = Client("tcp://scheduler:8786")
    sc.compress_files(client, ["a.log", "b.log"], level=6, block_size=16 << 20)   # writes a.log.smx, b.log.smx
    sc.decompress_files(client, ["a.log.smx"])                                      # writes a.log

Every worker needs statesmix installed, at the same version as the client:
a block sent to a worker of another format version fails with a
StatesmixError that says so.
"""

from __future__ import annotations

import os
import stat
import uuid
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

from . import api, container
from ._files import without_suffix, write_output
from ._parallel import JobQueue
from .errors import ArgumentTypeError, ArgumentValueError, StatesmixError

try:
    from distributed import Client, Future
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("statesmix.cluster needs Dask: pip install 'statesmix[dask]'") from exc

READ_SIZE = 1 << 20
PathName = Union[str, bytes, os.PathLike]


def _check_client(client) -> Client:
    """client, if it is a distributed Client that can still take work:
    checked before any block is read or sent, whatever the input's length."""
    if not isinstance(client, Client):
        raise ArgumentTypeError(f"client must be a dask.distributed Client, not {client!r}")
    if client.status in ("closing", "closed"):
        raise ArgumentValueError("client is closed")
    return client


def _check_paths(src, dst) -> Tuple[str, Optional[str]]:
    """src and dst (None: not given) as str, from what open() takes: a str,
    bytes or os.PathLike (never an int, which open() and os.stat() would
    take as a file descriptor)."""
    for name, path in (("src", src), ("dst", dst)):
        if not (isinstance(path, (str, bytes, os.PathLike)) or (path is None and name == "dst")):
            raise ArgumentTypeError(f"{name} must be a path (str, bytes or os.PathLike), not {path!r}")
    return os.fsdecode(src), None if dst is None else os.fsdecode(dst)


def _check_in_flight(in_flight) -> Optional[int]:
    if in_flight is None:
        return None
    if not api._is_int(in_flight):
        raise ArgumentTypeError(f"in_flight must be a positive integer or None, not {in_flight!r}")
    if in_flight < 1:
        raise ArgumentValueError(f"in_flight must be at least 1, not {in_flight}")
    return in_flight


def _on_worker(client_format: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on a worker whose statesmix has the client's
    format. One at another version codes blocks by its own level table,
    which the client's stream header would misdescribe: a file that does
    not decode, written without an error."""
    if container.FORMAT_VERSION != client_format:
        raise StatesmixError(f"a Dask worker has statesmix of format {container.FORMAT_VERSION}, this client "
                             f"format {client_format}: install the same statesmix version on every worker")
    return fn(*args, **kwargs)


class DaskRunner(JobQueue):
    """Blocks on the workers of a Dask cluster, at most in_flight at a time
    (default: two per worker thread)."""

    shares_memory = False  # the blocks' models live on the workers
    reports_frames = False  # a worker's frames are not seen here: progress counts whole blocks

    def __init__(self, client: Client, in_flight: Optional[int] = None) -> None:
        super().__init__(in_flight or 2 * sum(client.nthreads().values()))
        self.client = client

    def _start(self, fn: Callable[..., Any], args: tuple, kwargs: dict, local: dict) -> Future:
        # local callbacks stay here; big arguments go to the cluster once, by
        # scatter, each under a key of its own: keyed by content, equal blocks
        # (runs of zeros) shared one, and the first one's release lost the next
        args = tuple(a.tobytes() if isinstance(a, memoryview) else a for a in args)
        data = [self.client.scatter(a, hash=False) if isinstance(a, bytes) else a for a in args]
        return self.client.submit(_on_worker, container.FORMAT_VERSION, fn, *data, pure=False,
                                  key=f"{fn.__name__}-{uuid.uuid4()}", **kwargs)


def compressor(client: Client, level: Optional[int] = api.DEFAULT_LEVEL, *, block_size: Optional[int] = None,
               in_flight: Optional[int] = None, progress: Optional[api.ProgressFn] = None) -> api.Compressor:
    """An api.Compressor whose blocks are coded on the cluster. progress, if
    given, is called as the blocks come back."""
    _check_client(client)
    _check_in_flight(in_flight)
    c = api.Compressor(level, block_size=block_size, threads=1, progress=progress)
    c._make_runner = lambda: DaskRunner(client, in_flight)
    return c


def decompress_chunks(client: Client, chunks: Iterable[bytes], *, memory_limit: Optional[int] = None,
                      in_flight: Optional[int] = None, progress: Optional[api.ProgressFn] = None) -> Iterable[bytes]:
    """api.decompress_chunks, with the blocks decoded on the cluster;
    progress counts the blocks as they come back."""
    _check_client(client)
    _check_in_flight(in_flight)
    api.check_memory_limit(memory_limit)
    api.check_progress(progress)

    def new() -> api.Decompressor:
        d = api.Decompressor(threads=1, memory_limit=memory_limit)
        d._make_runner = lambda: DaskRunner(client, in_flight)
        return d

    return api._decompress_chunks(chunks, new, progress)


def compress(client: Client, data: api.BytesLike, level: Optional[int] = api.DEFAULT_LEVEL, *,
             block_size: Optional[int] = None, in_flight: Optional[int] = None,
             progress: Optional[api.ProgressFn] = None) -> bytes:
    """statesmix.compress(), on the cluster: the same bytes. progress, if
    given, is called as by statesmix.compress() (with the input's size as
    the total), as the blocks come back."""
    c = compressor(client, level, block_size=block_size, in_flight=in_flight, progress=progress)
    view = api._as_view(data)
    c._progress.total = len(view)  # one buffer: its size is the total, as statesmix.compress() reports
    return c._compress_all(view)


def decompress(client: Client, data: api.BytesLike, *, memory_limit: Optional[int] = None,
               in_flight: Optional[int] = None, progress: Optional[api.ProgressFn] = None) -> bytes:
    """statesmix.decompress(), on the cluster; progress as decompress_chunks'."""
    return b"".join(decompress_chunks(client, [api._as_view(data).tobytes()], memory_limit=memory_limit,
                                      in_flight=in_flight, progress=progress))


def _read(path: str) -> Iterable[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(READ_SIZE):
            yield chunk


def compress_file(client: Client, src: PathName, dst: Optional[PathName] = None, *,
                  level: Optional[int] = api.DEFAULT_LEVEL, block_size: Optional[int] = None,
                  in_flight: Optional[int] = None, progress: Optional[api.ProgressFn] = None) -> str:
    """Compresses src into dst (default src + ".smx"), which takes src's
    permissions and times as the command line's output does; returns dst.
    progress as compress()'s, with src's size as the total."""
    c = compressor(client, level, block_size=block_size, in_flight=in_flight, progress=progress)
    src, dst = _check_paths(src, dst)
    dst = dst or src + ".smx"
    info = os.stat(src)
    c._progress.total = info.st_size if stat.S_ISREG(info.st_mode) else None  # a pipe's size is not known

    def write(f):
        for chunk in _read(src):
            f.write(c.compress(chunk))
        f.write(c.flush())

    write_output(dst, write, like=os.stat(src))
    return dst


def decompress_file(client: Client, src: PathName, dst: Optional[PathName] = None, *,
                    memory_limit: Optional[int] = None, in_flight: Optional[int] = None,
                    progress: Optional[api.ProgressFn] = None) -> str:
    """Decompresses src (NAME.smx) into dst (default NAME), which takes src's
    permissions and times; returns dst. progress as decompress_chunks'."""
    pieces = decompress_chunks(client, _read(src), memory_limit=memory_limit, in_flight=in_flight,
                               progress=progress)  # its arguments checked now
    src, dst = _check_paths(src, dst)
    if dst is None:
        dst = without_suffix(src)
        if dst is None:
            raise ArgumentValueError(f"{src}: no .smx suffix to remove; give dst")

    def write(f):
        for piece in pieces:
            f.write(piece)

    write_output(dst, write, like=os.stat(src))
    return dst


def _check_path_list(paths) -> List[PathName]:
    """paths as a list, each one a path: checked before the first file, and
    one name alone refused (as a list it would be one-character names)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ArgumentTypeError(f"paths must be a list of paths, not one path: {paths!r}")
    try:
        paths = list(paths)
    except TypeError:
        raise ArgumentTypeError(f"paths must be a list of paths, not {paths!r}") from None
    for path in paths:
        _check_paths(path, None)
    return paths


def compress_files(client: Client, paths: Iterable[PathName], **kwargs) -> List[str]:
    """compress_file for each path, in turn (each spreads its blocks over the cluster)."""
    return [compress_file(client, p, **kwargs) for p in _check_path_list(paths)]


def decompress_files(client: Client, paths: Iterable[PathName], **kwargs) -> List[str]:
    """decompress_file for each path, in turn (each spreads its blocks over the cluster)."""
    return [decompress_file(client, p, **kwargs) for p in _check_path_list(paths)]
