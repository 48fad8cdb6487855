"""Command line, shaped like xz and zstd.

    statesmix compress FILE...      writes FILE.smx, keeps FILE (--rm deletes it)
    statesmix decompress FILE.smx... writes FILE
    statesmix test FILE.smx...      decodes and verifies, writes nothing
    statesmix info FILE.smx...      prints the header
    statesmix bench                 runs the benchmark (bench/README.md)

``-`` or no FILE means stdin/stdout. Output is written to a temporary file
beside the target and renamed into place only on success, so an error,
Ctrl-C, SIGTERM, SIGHUP or SIGXCPU never leaves a partial file (a pipe or
a device named as the output is written into instead). The coding runs on
worker threads and this thread only waits, so a signal stops the command
within a second, also inside a long frame. What is refused before any
work, as xz and zstd refuse it, is in _input_problem and _refusal. Exit
status: 0 success, 1 data error (corrupt input, a file that needs more
than --memory-limit, a file refused), 2 usage error, 130 Ctrl-C; SIGTERM,
SIGHUP and SIGXCPU end the process by the signal.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import signal
import stat
import sys
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator, List, Optional, Tuple

import click

from . import api
from ._files import SUFFIX, OutputStream, is_stream_target, without_suffix, write_output
from .container import MAGIC
from .errors import StatesmixError
from .params import DEFAULT_LEVEL, MAX_LEVEL, MIN_LEVEL

READ_SIZE = 1 << 20
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
NO_LIMIT = 1 << 62

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.I)


def parse_size(text: str) -> int:
    """Bytes in "123", "64K", "16M", "2GiB", "1g" (binary multiples, as xz)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size (examples: 1000000, 64K, 16MiB, 2G)")
    return int(m.group(1)) << (10 * " kmgt".index((m.group(2) or " ").lower()))


class _SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _SizeType()


class _Failed(Exception):
    """A per-file failure already reported to the user."""


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        click.echo(msg, err=True)


def _error(msg: str) -> None:
    click.echo(f"statesmix: {msg}", err=True)


class _Progress:
    """One status line on stderr: bytes done of total, tokens/s, bits per byte, ETA."""

    def __init__(self, name: str, enabled: bool, total: Optional[int] = None) -> None:
        self.name = name
        self.enabled = enabled
        self.total = total
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: Optional[int], tokens: int, written: int) -> None:
        if not self.enabled:
            return
        total = total or self.total
        elapsed = max(time.monotonic() - self.start, 1e-9)
        bpb = 8.0 * written / done if done else 0.0
        parts = [f"{self.name}: {done / 1e6:.2f}"]
        parts[0] += f"/{total / 1e6:.2f} MB" if total else " MB"
        parts.append(f"{tokens / elapsed:,.0f} tok/s")
        parts.append(f"{bpb:.3f} bpb")
        if total and done:
            parts.append(f"ETA {max(0.0, elapsed * (total - done) / done):.0f}s")
        sys.stderr.write("\r" + "  ".join(parts) + "\033[K")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _std_text(which: str):
    """sys.stdin or sys.stdout ("stdin", "stdout"). When the shell closed it
    (<&-, >&-) Python has none: an error naming it."""
    stream = getattr(sys, which)
    if stream is None:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF), f"({which})")
    return stream


def _std_stream(which: str) -> BinaryIO:
    """The binary side of _std_text(which)."""
    return _std_text(which).buffer


_EMPTY_NAME = "empty file name; skipped"  # as xz says it, not "statesmix: : No such file or directory"


def _shown(path: str) -> str:
    """How messages name an input: standard input as "(stdin)", as xz does."""
    return "(stdin)" if path == "-" else path


def _os_error_line(exc: OSError, path: str) -> str:
    """The one line an OSError while working on path prints: the file it
    names (an output, standard output), else path, and why."""
    return f"{exc.filename if exc.filename is not None else path}: {exc.strerror or exc}"


@contextlib.contextmanager
def _reported_as_failed(path: str, memory_hint: str = "") -> Iterator[None]:
    """Turns what working on one file can raise into its one line, then
    _Failed, so that the loop over files goes on to the next. A broken pipe
    is not the file's: it goes up, and the command leaves as a pipeline
    expects."""
    try:
        yield
    except StatesmixError as exc:
        _error(f"{_shown(path)}: {exc}")
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        _error(_os_error_line(exc, _shown(path)))
    except MemoryError:  # as xz does: one line, no output file, go on
        _error(f"{_shown(path)}: out of memory{memory_hint}")
    else:
        return
    raise _Failed


def _open_input(path: str) -> Tuple[BinaryIO, Optional[int]]:
    """The input stream and its size when known (a regular file)."""
    if path == "-":
        return _std_stream("stdin"), None
    try:
        f = open(path, "rb")
    except OSError as exc:
        _error(_os_error_line(exc, path))
        raise _Failed from None
    try:
        size = os.fstat(f.fileno()).st_size if os.path.isfile(path) else None
    except OSError:
        size = None
    return f, size


def _device_kind(path: str) -> Optional[str]:
    """What kind of device path is, if any. As zstd does, a character device
    or a socket is not read into an output file (a stream like /dev/zero
    would never end), nor a block device without -f; pipes are read."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # opening it reports why
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "socket" if stat.S_ISSOCK(mode) else None


def _why_not_removable(path: str) -> Optional[str]:
    """Why --rm should not delete path, as xz and gzip judge it: one name
    of a file with others frees nothing, and the output never carries
    setuid, setgid or sticky bits (_files.py), so the round trip would
    lose them."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # opening it reports why
    if st.st_nlink > 1:
        return f"has {st.st_nlink - 1} other hard link{'s' if st.st_nlink > 2 else ''}"
    if st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
        return "is setuid, setgid or sticky"
    return None


def _same_file(path: str, target: str) -> bool:
    """Whether target names path's file, whatever the spelling: through a
    link, a doubled slash, another hard link (as zstd compares them)."""
    try:
        return os.path.samefile(path, target)
    except OSError:  # one of them is not there (yet)
        return os.path.abspath(target) == os.path.abspath(path)


def _names_a_terminal(path: str) -> bool:
    """Whether path is a terminal (-o /dev/tty, a /dev/pts/N), which the
    terminal checks treat as they treat standard streams."""
    if _device_kind(path) != "character device":
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False  # opening it for the work reports why
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _compress_stream(src: BinaryIO, dst: BinaryIO, comp: api.Compressor) -> Tuple[int, int]:
    """Compresses src into dst block by block; returns (bytes in, bytes out).
    Memory holds the blocks in flight, whatever the input's size."""
    done = written = 0
    while True:
        chunk = src.read(READ_SIZE)
        if not chunk:
            break
        done += len(chunk)
        out = comp.compress(chunk)
        if out:
            dst.write(out)
            written += len(out)
    out = comp.flush()
    dst.write(out)
    return done, written + len(out)


def _decompress_stream(src: BinaryIO, dst: Optional[BinaryIO],
                       decode: Callable[[Iterator[bytes]], Iterator[bytes]]) -> Tuple[int, int]:
    """Decompresses src into dst, or only verifies it when dst is None;
    returns (bytes in, bytes out)."""
    read = [0]

    def chunks():
        while True:
            chunk = src.read(READ_SIZE)
            if not chunk:
                return
            read[0] += len(chunk)
            yield chunk

    produced = 0
    for out in decode(chunks()):
        if dst is not None:
            dst.write(out)
        produced += len(out)
    return read[0], produced


def _write_output(target: Optional[str], data_fn: Callable[[BinaryIO], None],
                  like: Optional[os.stat_result] = None) -> None:
    """Writes through data_fn into target (None = stdout); a file appears
    only when data_fn has finished without error, with the permissions and
    times of the input whose status is like (as xz and zstd do). Whether an
    existing target may be replaced is decided before (_refusal)."""
    if target is None:
        out = OutputStream(_std_stream("stdout"), "(stdout)")
        data_fn(out)
        out.flush()
        return
    write_output(target, data_fn, like)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def _output_name(path: str, mode: str) -> Optional[str]:
    if mode == "compress":
        return path + SUFFIX
    name = without_suffix(path)
    if name is not None:
        return name
    _error(f"{path}: unknown suffix, expected {SUFFIX} (use -o or -c)")
    raise _Failed


@dataclass
class _Options:
    """What one command applies to each of its files."""

    mode: str  # "compress", "decompress" or "test"
    stdout: bool = False
    output: Optional[str] = None
    force: bool = False
    remove: bool = False
    quiet: bool = False
    verbose: bool = False
    progress: Optional[bool] = None
    level: int = DEFAULT_LEVEL
    block_size: Optional[int] = None
    threads: int = 0
    memory_limit: Optional[int] = None
    dask: Optional[str] = None  # scheduler address: blocks go to that cluster
    client: Any = None

    def cluster_client(self) -> Any:
        """The client of the --dask scheduler, connected when the first file
        needs it: an input that is not there is reported at once, not after
        the connection's timeout."""
        if self.client is None:
            self.client = _connect(self.dask)
        return self.client

    def compressor(self, bar: "_Progress") -> api.Compressor:
        if self.dask:
            from .cluster import compressor

            return compressor(self.cluster_client(), self.level, block_size=self.block_size, progress=bar)
        return api.Compressor(self.level, block_size=self.block_size, threads=self.threads, progress=bar)

    def decode(self, chunks: Iterator[bytes], bar: "_Progress") -> Iterator[bytes]:
        if self.dask:
            from .cluster import decompress_chunks

            return decompress_chunks(self.cluster_client(), chunks, memory_limit=self.memory_limit, progress=bar)
        return api.decompress_chunks(chunks, threads=self.threads, memory_limit=self.memory_limit, progress=bar)


def _connect(address: str):
    """A dask.distributed Client for the scheduler at address."""
    try:
        from distributed import Client
    except ImportError:
        _error("--dask needs Dask: pip install 'statesmix[dask]'")
        sys.exit(EXIT_USAGE)
    try:
        return Client(address, timeout="30s")
    except ValueError as exc:  # distributed's word for an address it cannot parse
        _error(f"invalid Dask scheduler address {address!r}: {exc}")
        sys.exit(EXIT_USAGE)
    except (OSError, TimeoutError) as exc:
        _error(f"cannot reach the Dask scheduler at {address}: {exc}")
        sys.exit(EXIT_DATA)


def _interrupted() -> None:
    """Ctrl-C: the partial output is already removed; worker threads may be
    inside a native call, so leave without waiting for them."""
    _error("interrupted")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # closed, or never there
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


class _Signalled(BaseException):
    """SIGTERM, SIGHUP or SIGXCPU arrived: it unwinds like Ctrl-C, so the
    output being written is removed (_write_output) before the process goes."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: Any) -> None:
    raise _Signalled(signum)


@contextlib.contextmanager
def _termination_unwinds() -> Iterator[None]:
    """As xz, gzip and zstd: `timeout`, kill or a closed terminal leaves no
    partial output; nor, as xz, a CPU time limit (ulimit -t: SIGXCPU at the
    soft limit, whose default action ends the process at once). A signal
    already ignored (SIGHUP under nohup) or handled by the caller stays so;
    the handlers are put back after."""
    installed = []
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU):
        try:
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _raise_signalled)
                installed.append(signum)
        except ValueError:  # not the main thread: leave the signal to whoever owns it
            pass
    try:
        yield
    finally:
        for signum in installed:
            signal.signal(signum, signal.SIG_DFL)


def _die_of(signum: int) -> None:
    """Ends the process by the signal that asked it to end, so that its
    parent sees why; worker threads may be inside a native call, so they
    are not waited for (as _interrupted)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # closed, or never there
        sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # not reached: the signal's default action ends the process


def _run_files(files: List[str], opts: _Options) -> None:
    if opts.output is not None and len(files) > 1:
        _error("-o/--output takes a single input file")
        sys.exit(EXIT_USAGE)
    failed = False
    try:
        with _termination_unwinds():
            for path in files:
                if not path:
                    _error(_EMPTY_NAME)
                    failed = True
                    continue
                # out of memory, _write_output has removed the output file
                hint = " (a lower level or a smaller -B needs less)" if opts.mode == "compress" else ""
                try:
                    with _reported_as_failed(path, hint):
                        _one_file(path, opts)
                except _Failed:
                    failed = True
    except KeyboardInterrupt:
        _interrupted()
    except _Signalled as exc:
        _die_of(exc.signum)
    finally:
        if opts.client is not None:
            opts.client.close()
    if failed:
        sys.exit(EXIT_DATA)


def _refusal(path: str, target: Optional[str], to_stdout: bool, opts: _Options) -> Optional[str]:
    """Why path should not be worked on as asked, as xz and zstd would judge
    it, before any work is done; None if nothing stands in the way. target
    is the output file, None for standard output or test."""
    force, mode = opts.force, opts.mode
    named_input = path != "-"
    # the output
    if target is not None:
        if named_input and _same_file(path, target):
            return f"{path}: input and output are the same file"
        try:  # a name the file system cannot hold is found only at the rename, after the work
            os.lstat(target)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return f"{target}: {exc.strerror}"
        if os.path.isdir(target):
            return f"{target}: Is a directory"
        # a pipe or a character device (-o /dev/null) is written into, as zstd does; a disk only with -f;
        # a dangling link's name is taken too, as xz judges it
        if os.path.lexists(target) and not force and not (
                is_stream_target(target) and _device_kind(target) != "block device"):
            return f"{target} already exists; not overwritten (use -f to force)"
    # the input, read into an output file: as xz and zstd skip a link without
    # -f (--rm would delete the link and leave its file, and the round trip
    # would give back a copy, not a link); a link to a pipe (process
    # substitution's /dev/fd/N) is read
    if target is not None and named_input:
        if not force and os.path.islink(path) and os.path.isfile(path) and not is_stream_target(path):
            return f"{path}: is a symbolic link; skipped (use -f to read through it)"
        device = _device_kind(path)
        if device is not None and not (device == "block device" and force):
            hint = "use -f or -c to read it" if device == "block device" else "-c reads it to standard output"
            return f"{path}: not a regular file but a {device}; skipped ({hint})"
    # as xz, gzip and zstd: compressed bytes are no use on a screen, and a
    # keyboard cannot type them
    if not force and mode == "compress" and (
            _is_terminal(sys.stdout) if to_stdout else target is not None and _names_a_terminal(target)):
        return "compressed data not written to a terminal (use -f to force)"
    if not force and mode != "compress" and (
            _is_terminal(sys.stdin) if not named_input else _names_a_terminal(path)):
        return "compressed data not read from a terminal" + (" (use -f to force)" if mode != "test" else "")
    if not force and _removes_input(path, target, opts):
        reason = _why_not_removable(path)
        if reason:
            return f"{path}: {reason}; left alone with --rm (use -f to force)"
    return None


def _input_problem(path: str) -> Optional[str]:
    """Why the named input path cannot be read, if it is not there, is a
    directory or may not be read. As xz and zstd, this is said before
    anything about the output: not "the output exists (use -f)", which -f
    would only turn into this."""
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            return f"{path}: Is a directory"
    except OSError as exc:
        return _os_error_line(exc, path)
    if not os.access(path, os.R_OK):
        return f"{path}: {os.strerror(errno.EACCES)}"
    return None


def _one_file(path: str, opts: _Options) -> None:
    mode = opts.mode
    problem = _input_problem(path) if path != "-" else None
    if problem is not None:
        _error(problem)
        raise _Failed
    to_stdout = opts.stdout or (path == "-" and opts.output is None) or opts.output == "-"
    target = None if to_stdout or mode == "test" else (opts.output or _output_name(path, mode))
    refusal = _refusal(path, target, to_stdout, opts)
    if refusal is not None:
        _error(refusal)
        raise _Failed
    src, size = _open_input(path)
    if opts.dask:
        opts.cluster_client()  # before any output is made; an input that is not there was named first
    show = (not opts.quiet) and (opts.progress if opts.progress is not None else sys.stderr.isatty())
    # the input's size is the total of what is compressed; a decoded size is known only at the end
    bar = _Progress(os.path.basename(_shown(path)), show, size if mode == "compress" else None)
    start = time.monotonic()
    sizes = [0, 0]

    def work(dst: Optional[BinaryIO]) -> None:
        if mode == "compress":
            sizes[:] = _compress_stream(src, dst, opts.compressor(bar))
        else:
            sizes[:] = _decompress_stream(src, dst, lambda chunks: opts.decode(chunks, bar))

    try:
        if mode == "test":
            work(None)
        else:
            like = os.fstat(src.fileno()) if path != "-" else None
            _write_output(target, work, like=like)
    finally:
        bar.close()
        if path != "-":
            src.close()
    elapsed = time.monotonic() - start
    if opts.verbose and not opts.quiet:
        name = _shown(path)
        n_in, n_out = sizes
        if mode == "compress":
            ratio = 8.0 * n_out / n_in if n_in else 0.0
            _say(False, f"{name}: {n_in} -> {n_out} bytes, {ratio:.3f} bits/byte, {elapsed:.1f}s")
        elif mode == "decompress":
            _say(False, f"{name}: {n_in} -> {n_out} bytes, {elapsed:.1f}s")
        else:
            _say(False, f"{name}: OK ({n_out} bytes)")
    if _removes_input(path, target, opts):
        os.unlink(path)


def _removes_input(path: str, target: Optional[str], opts: _Options) -> bool:
    """Whether --rm deletes path once its output is written; _refusal asks
    the same, so that it protects only what would be deleted. Not when the
    output goes to standard output (zstd and gzip keep the input with -c),
    nor into a pipe or a device: nothing there keeps it; and, as zstd, only
    a regular file, never a pipe, a device node or a name for an open file
    such as /dev/stdin."""
    return (opts.remove and path != "-" and opts.mode != "test" and target is not None
            and not is_stream_target(target) and os.path.isfile(path) and not is_stream_target(path))


def _memory_limit(ctx, param, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    return NO_LIMIT if value == 0 else value


def _block_size(ctx, param, value: Optional[int]) -> Optional[int]:
    if value is not None:
        try:
            api.check_block_size(value, DEFAULT_LEVEL)
        except StatesmixError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


_QUIET_HELP = "Print nothing but errors."
_VERBOSE_HELP = "Report sizes and times."
_THREADS_HELP = "Threads (0 = all cores). Output does not depend on it."

_common = [
    click.option("-c", "--stdout", "stdout", is_flag=True, help="Write to standard output."),
    click.option("-o", "--output", type=str, default=None, metavar="OUT",
                 help="Output file (one input only); with -c only if OUT is -."),
    click.option("-f", "--force", is_flag=True,
                 help="Overwrite existing output files; let compressed data go to or come from a terminal; "
                      "read a symbolic link's file or a block device into an output file; "
                      "with --rm, delete an input that has other hard links or setuid, setgid or sticky bits."),
    click.option("--rm", "remove", is_flag=True,
                 help="Delete the input after success (not with -c, nor when the output is a pipe or a device)."),
    click.option("-k", "--keep", is_flag=True, help="Keep the input: the default, accepted as xz and gzip take it."),
    click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP),
    click.option("-v", "--verbose", is_flag=True, help=_VERBOSE_HELP),
    click.option("-T", "--threads", type=click.IntRange(0, api.MAX_THREADS), default=0, show_default=True,
                 help=_THREADS_HELP),
    click.option("--progress/--no-progress", default=None,
                 help="Show progress on stderr (default: when stderr is a terminal)."),
]


def _with_common(f):
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="statesmix")
def main() -> None:
    """Lossless compression by an online-trained Mamba model mixed with n-gram statistics."""


_dask_option = click.option(
    "--dask", metavar="ADDRESS", default=None,
    help="Code the blocks on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786); "
         "the output is the same as local. Needs pip install 'statesmix[dask]'.")

_memory_option = click.option(
    "-M", "--memory-limit", type=SIZE, default=None, callback=_memory_limit,
    help="Refuse a file whose blocks need more memory than SIZE to decode (e.g. 512M, 2G; "
         "0 = no limit). Default: 4G.")


class _LevelDigits(click.Command):
    """A command that also takes xz's and zstd's -1 ... -9 for -l 1 ... -l 9,
    alone or in a cluster of short options (-1c, -qc9), as they read them."""

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        takes_value = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                       for name in p.opts + p.secondary_opts}
        out: List[str] = []
        value_next = False  # the argument before wants this one as its value (-o -9: a file named -9)
        for k, arg in enumerate(args):
            if value_next:
                out.append(arg)
                value_next = False
                continue
            if arg == "--":  # what follows is file names, "-9" too
                out += args[k:]
                break
            if re.fullmatch(r"-[A-Za-z0-9]*[0-9][A-Za-z0-9]*", arg):
                out += _unbundle(arg[1:], takes_value)
            else:
                out.append(arg)
            value_next = _wants_value(arg, takes_value)
        return super().parse_args(ctx, out)


def _wants_value(arg: str, takes_value: set) -> bool:
    """Whether the argument after arg is arg's value: arg is an option that
    takes one (-o), or a cluster that ends in one (-fo)."""
    if arg in takes_value:
        return True
    if not re.fullmatch(r"-[A-Za-z0-9]+", arg):
        return False
    for i, ch in enumerate(arg[1:], start=1):
        if "-" + ch in takes_value:  # its value is the rest of the cluster, or the next argument
            return i == len(arg) - 1
    return False


def _unbundle(cluster: str, takes_value: set) -> List[str]:
    """A cluster of short options with level digits in it, one option at a
    time: "1c" -> -l 1 -c; "10" -> -l 10 (which the range refuses); an
    option that takes a value keeps the rest as its value ("T4" -> -T4)."""
    out: List[str] = []
    digits = ""
    for i, ch in enumerate(cluster):
        if ch.isdigit():
            digits += ch
            continue
        if digits:
            out += ["-l", digits]
            digits = ""
        if "-" + ch in takes_value:
            out.append("-" + cluster[i:])
            return out
        out.append("-" + ch)
    if digits:
        out += ["-l", digits]
    return out


def _check_choices(keep: bool, remove: bool, stdout: bool, output: Optional[str]) -> None:
    if keep and remove:
        raise click.UsageError("--rm and -k/--keep contradict each other")
    if output == "":
        raise click.UsageError("-o/--output needs a file name")
    if stdout and output not in (None, "-"):  # which one was meant? (zstd takes the later silently)
        raise click.UsageError("-c/--stdout and -o/--output name two different outputs")


@main.command(cls=_LevelDigits)
@click.argument("files", nargs=-1, type=str)
@click.option("-l", "--level", type=click.IntRange(MIN_LEVEL, MAX_LEVEL), default=DEFAULT_LEVEL,
              show_default=True, help="1 = fastest, 9 = best ratio; -1 ... -9 work too.")
@click.option("-B", "--block-size", type=SIZE, default=None, callback=_block_size,
              help="Bytes per independent block (e.g. 4M); default: the level's (8M at 1-3, "
                   "16M at 4-6, 32M at 7-9). The output depends on it, never on -T.")
@_dask_option
@_with_common
def compress(files, level, block_size, dask, stdout, output, force, remove, keep, quiet, verbose, threads,
             progress):
    """Compress FILES to FILE.smx (stdin to stdout with - or no FILE)."""
    _check_choices(keep, remove, stdout, output)
    _run_files(list(files) or ["-"], _Options("compress", stdout, output, force, remove, quiet, verbose,
                                              progress, level=level, block_size=block_size, threads=threads,
                                              dask=dask))


@main.command()
@click.argument("files", nargs=-1, type=str)
@_memory_option
@_dask_option
@_with_common
def decompress(files, memory_limit, dask, stdout, output, force, remove, keep, quiet, verbose, threads,
               progress):
    """Decompress FILE.smx to FILE (stdin to stdout with - or no FILE)."""
    _check_choices(keep, remove, stdout, output)
    _run_files(list(files) or ["-"], _Options("decompress", stdout, output, force, remove, quiet, verbose,
                                              progress, threads=threads, memory_limit=memory_limit, dask=dask))


@main.command(name="test")
@click.argument("files", nargs=-1, type=str)
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
@click.option("-v", "--verbose", is_flag=True, help=_VERBOSE_HELP)
@click.option("-T", "--threads", type=click.IntRange(0, api.MAX_THREADS), default=0, show_default=True,
              help=_THREADS_HELP)
@_memory_option
def test_cmd(files, quiet, verbose, threads, memory_limit):
    """Decode FILES and verify every checksum; write nothing."""
    _run_files(list(files) or ["-"], _Options("test", quiet=quiet, verbose=verbose, progress=False,
                                              threads=threads, memory_limit=memory_limit))


@main.command()
@click.argument("files", nargs=-1, type=str)
def info(files):
    """Print the structure of FILES: level, blocks, sizes, what decoding needs in memory.

    A truncated file, or one whose index disagrees with its blocks, is
    described as far as it goes and exits with status 1, as test does."""
    failed = False
    try:
        out = _std_text("stdout")  # closed (>&-): one error before any work
        for path in list(files) or ["-"]:
            if not path:
                _error(_EMPTY_NAME)
                failed = True
                continue
            try:
                with _reported_as_failed(path, " (a pipe is read whole: give info the file instead)"):
                    if path == "-":
                        text, problem = _describe(_std_stream("stdin"), path)
                    else:
                        with open(path, "rb") as f:
                            text, problem = _describe(f, path)
            except _Failed:
                failed = True
                continue
            _write_text(out, text + "\n")  # its errors are standard output's: below
            if problem:  # what could be read is shown; the status says the file will not decode
                _error(f"{_shown(path)}: {problem}")
                failed = True
    except KeyboardInterrupt:
        _interrupted()
    except OSError as exc:  # standard output, which every later file would need too
        if exc.errno == errno.EPIPE:
            raise  # the reader has gone: leave quietly, as the other commands do
        _error(_os_error_line(exc, "(stdout)"))
        sys.exit(EXIT_DATA)
    if failed:
        sys.exit(EXIT_DATA)


def _write_text(out, text: str) -> None:
    """text to out, flushed. A file name need not be valid in out's encoding
    (under a strict UTF-8 locale a name with byte 0xff is not): it is then
    written as the bytes it was, as ls shows it, or escaped."""
    try:
        out.write(text)
    except UnicodeEncodeError:
        encoding, buffer = getattr(out, "encoding", None) or "utf-8", getattr(out, "buffer", None)
        try:
            data = text.encode(encoding, "surrogateescape")
        except UnicodeEncodeError:
            data = text.encode(encoding, "backslashreplace")
        if buffer is None:
            out.write(data.decode(encoding, "backslashreplace"))
        else:
            out.flush()
            buffer.write(data)
    out.flush()


def _describe(f: BinaryIO, path: str) -> Tuple[str, Optional[str]]:
    """info's text for path, open as f, and what stops it decoding if
    anything. A file or a block device is read head by head (blocks, frames,
    the end record), from where f stands, as decompress would read it; a
    pipe is read whole; a terminal or a character device (/dev/zero may
    never end) is refused."""
    from .info import describe, describe_bytes

    name = _shown(path)
    try:
        mode = os.fstat(f.fileno()).st_mode
    except (OSError, ValueError, io.UnsupportedOperation):  # an in-memory stream: read whole
        return describe_bytes(f.read(), name)
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start  # a block device's size is not in its status

        def read_at(offset: int, n: int) -> bytes:
            f.seek(start + offset)
            return f.read(n)

        return describe(read_at, size, name)
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):  # a pipe (-, /dev/stdin, <(...)) is read whole,
        head = f.read(len(MAGIC))                   # unless it does not even start as a stream
        if head != MAGIC:
            return describe_bytes(head, name)
        return describe_bytes(head + f.read(), name)
    if os.isatty(f.fileno()):
        raise StatesmixError("compressed data not read from a terminal")
    kind = _device_kind(path) if path != "-" else None
    raise StatesmixError(f"not a regular file but a {kind or 'character device'}")


@main.command(add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def bench(ctx):
    """Benchmark on enwik8 or on a set (--corpus, --shapes, --small) against xz, zstd, zpaq, PPMd (--help)."""
    from .benchmark import run_cli

    sys.exit(run_cli(ctx.args))


if __name__ == "__main__":  # pragma: no cover
    main()
