"""Command line, shaped like xz and zstd.

    statesmix compress FILE...      writes FILE.smx, keeps FILE (--rm deletes it)
    statesmix decompress FILE.smx... writes FILE
    statesmix test FILE.smx...      decodes and verifies, writes nothing
    statesmix info FILE.smx...      prints the header
    statesmix bench                 runs the benchmark (bench/README.md)

``-`` or no FILE means stdin/stdout. Output is written to a temporary file
beside the target and renamed into place only on success, so an error or
Ctrl-C never leaves a partial file. Exit status: 0 success, 1 data error,
2 usage error.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import BinaryIO, Callable, List, Optional, Tuple

import click

from . import api
from .errors import StatesmixError
from .params import DEFAULT_LEVEL, MAX_LEVEL, MIN_LEVEL

SUFFIX = ".smx"
READ_SIZE = 1 << 20
# Larger files are compressed as streams: bounded memory, ratio within ~1%.
ONE_SHOT_LIMIT = 32 << 20
EXIT_DATA = 1
EXIT_USAGE = 2


class _Failed(Exception):
    """A per-file failure already reported to the user."""


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        click.echo(msg, err=True)


def _error(msg: str) -> None:
    click.echo(f"statesmix: {msg}", err=True)


class _Progress:
    """One status line on stderr: bytes done of total, tokens/s, bits per byte, ETA."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name = name
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: Optional[int], tokens: int, written: int) -> None:
        if not self.enabled:
            return
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


def _open_input(path: str) -> Tuple[BinaryIO, Optional[int]]:
    """The input stream and its size when known (a regular file)."""
    if path == "-":
        return sys.stdin.buffer, None
    try:
        f = open(path, "rb")
    except OSError as exc:
        _error(f"{path}: {exc.strerror or exc}")
        raise _Failed from None
    try:
        size = os.fstat(f.fileno()).st_size if os.path.isfile(path) else None
    except OSError:
        size = None
    return f, size


def _read_input(path: str) -> bytes:
    f, _ = _open_input(path)
    try:
        return f.read()
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _compress_stream(src: BinaryIO, size: Optional[int], dst: BinaryIO, level: int, threads: int,
                     bar: "_Progress") -> Tuple[int, int]:
    """Compresses src into dst; returns (bytes in, bytes out).

    Files up to ONE_SHOT_LIMIT are compressed in one shot (the tokenizer and
    table sizes then fit the whole input); anything larger, and every pipe,
    goes through the streaming Compressor, so memory stays bounded.
    """
    if size is not None and size <= ONE_SHOT_LIMIT:
        data = src.read()
        out = api.compress(data, level=level, threads=threads, progress=bar)
        dst.write(out)
        return len(data), len(out)
    comp = api.Compressor(level=level, threads=threads)
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
            bar(done, size, comp.tokens, written)
    out = comp.flush()
    dst.write(out)
    return done, written + len(out)


def _decompress_stream(src: BinaryIO, dst: Optional[BinaryIO], threads: int) -> Tuple[int, int]:
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
    for out in api.decompress_chunks(chunks(), threads=threads):
        if dst is not None:
            dst.write(out)
        produced += len(out)
    return read[0], produced


def _write_output(target: Optional[str], data_fn: Callable[[BinaryIO], None], force: bool) -> None:
    """Writes through data_fn into target (None = stdout); a file appears
    only when data_fn has finished without error."""
    if target is None:
        data_fn(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    if os.path.exists(target) and not force:
        _error(f"{target} already exists; not overwritten (use -f to force)")
        raise _Failed
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".statesmix-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            data_fn(f)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _output_name(path: str, mode: str) -> Optional[str]:
    if mode == "compress":
        return path + SUFFIX
    if path.endswith(SUFFIX) and len(path) > len(SUFFIX):
        return path[: -len(SUFFIX)]
    _error(f"{path}: unknown suffix, expected {SUFFIX} (use -o or -c)")
    raise _Failed


def _run_files(files: List[str], mode: str, stdout: bool, output: Optional[str], force: bool,
               remove: bool, quiet: bool, verbose: bool, level: int, threads: int,
               progress: Optional[bool]) -> None:
    if output is not None and len(files) > 1:
        _error("-o/--output takes a single input file")
        sys.exit(EXIT_USAGE)
    failed = False
    for path in files:
        try:
            _one_file(path, mode, stdout, output, force, remove, quiet, verbose, level, threads, progress)
        except _Failed:
            failed = True
        except StatesmixError as exc:
            _error(f"{path}: {exc}")
            failed = True
        except KeyboardInterrupt:
            _error("interrupted")
            sys.exit(130)
    if failed:
        sys.exit(EXIT_DATA)


def _one_file(path: str, mode: str, stdout: bool, output: Optional[str], force: bool,
              remove: bool, quiet: bool, verbose: bool, level: int, threads: int,
              progress: Optional[bool]) -> None:
    to_stdout = stdout or (path == "-" and output is None) or output == "-"
    target = None if to_stdout or mode == "test" else (output or _output_name(path, mode))
    if target is not None and path != "-" and os.path.abspath(target) == os.path.abspath(path):
        _error(f"{path}: input and output are the same file")
        raise _Failed
    if target is not None and os.path.exists(target) and not force:
        _error(f"{target} already exists; not overwritten (use -f to force)")
        raise _Failed
    src, size = _open_input(path)
    show = (not quiet) and (progress if progress is not None else sys.stderr.isatty())
    bar = _Progress(os.path.basename(path) if path != "-" else "(stdin)", show)
    start = time.monotonic()
    sizes = [0, 0]

    def work(dst: Optional[BinaryIO]) -> None:
        if mode == "compress":
            sizes[:] = _compress_stream(src, size, dst, level, threads, bar)
        else:
            sizes[:] = _decompress_stream(src, dst, threads)

    try:
        if mode == "test":
            work(None)
        else:
            _write_output(target, work, force=True)
    finally:
        bar.close()
        if src is not sys.stdin.buffer:
            src.close()
    elapsed = time.monotonic() - start
    if verbose and not quiet:
        name = path if path != "-" else "(stdin)"
        n_in, n_out = sizes
        if mode == "compress":
            ratio = 8.0 * n_out / n_in if n_in else 0.0
            _say(quiet, f"{name}: {n_in} -> {n_out} bytes, {ratio:.3f} bits/byte, {elapsed:.1f}s")
        elif mode == "decompress":
            _say(quiet, f"{name}: {n_in} -> {n_out} bytes, {elapsed:.1f}s")
        else:
            _say(quiet, f"{name}: OK ({n_out} bytes)")
    if remove and path != "-" and mode != "test":
        os.unlink(path)


_common = [
    click.option("-c", "--stdout", "stdout", is_flag=True, help="Write to standard output."),
    click.option("-o", "--output", type=str, default=None, help="Output file (one input only)."),
    click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
    click.option("--rm", "remove", is_flag=True, help="Delete the input after success."),
    click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
    click.option("-v", "--verbose", is_flag=True, help="Report sizes and times."),
    click.option("-T", "--threads", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Threads (0 = all cores). Output does not depend on it."),
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


@main.command()
@click.argument("files", nargs=-1, type=str)
@click.option("-l", "--level", type=click.IntRange(MIN_LEVEL, MAX_LEVEL), default=DEFAULT_LEVEL,
              show_default=True, help="1 = fastest, 9 = best ratio.")
@_with_common
def compress(files, level, stdout, output, force, remove, quiet, verbose, threads, progress):
    """Compress FILES to FILE.smx (stdin to stdout with - or no FILE)."""
    _run_files(list(files) or ["-"], "compress", stdout, output, force, remove, quiet, verbose,
               level, threads, progress)


@main.command()
@click.argument("files", nargs=-1, type=str)
@_with_common
def decompress(files, stdout, output, force, remove, quiet, verbose, threads, progress):
    """Decompress FILE.smx to FILE (stdin to stdout with - or no FILE)."""
    _run_files(list(files) or ["-"], "decompress", stdout, output, force, remove, quiet, verbose,
               DEFAULT_LEVEL, threads, progress)


@main.command(name="test")
@click.argument("files", nargs=-1, type=str)
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
@click.option("-T", "--threads", type=click.IntRange(min=0), default=0)
def test_cmd(files, quiet, verbose, threads):
    """Decode FILES and verify every checksum; write nothing."""
    _run_files(list(files) or ["-"], "test", False, None, False, False, quiet, verbose,
               DEFAULT_LEVEL, threads, False)


@main.command()
@click.argument("files", nargs=-1, type=str)
def info(files):
    """Print the header of FILES: format version, level, parameters, sizes."""
    from .info import describe

    failed = False
    for path in list(files) or ["-"]:
        try:
            data = _read_input(path)
            click.echo(describe(data, path if path != "-" else "(stdin)"))
        except _Failed:
            failed = True
        except StatesmixError as exc:
            _error(f"{path}: {exc}")
            failed = True
    if failed:
        sys.exit(EXIT_DATA)


@main.command(add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def bench(ctx):
    """Benchmark on enwik8 or on a set (--corpus, --shapes, --small) against xz, zstd, zpaq, PPMd (--help)."""
    from .benchmark import run_cli

    sys.exit(run_cli(ctx.args))


if __name__ == "__main__":  # pragma: no cover
    main()
