"""Writing output as xz and zstd do: every byte is written or an error
names the file; a file appears only once it is complete, and it takes its
input file's permissions and times."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from typing import BinaryIO, Callable, Iterator, Optional


SUFFIX = ".smx"


def without_suffix(path: str) -> Optional[str]:
    """The name a decompressed path gets: path without its .smx; None if it
    has none to remove, or only a bare ".smx" (also "dir/.smx")."""
    if path.endswith(SUFFIX) and len(os.path.basename(path)) > len(SUFFIX):
        return path[: -len(SUFFIX)]
    return None


def _error_about(exc: OSError, name: str) -> OSError:
    """exc again, of the same type, with name as the file it is about."""
    return type(exc)(exc.errno, exc.strerror or str(exc), name)


class OutputStream:
    """A binary stream that writes every byte or raises, and names its
    file in the errors it raises (the disk full, the reader gone).

    A raw file (standard output under python -u or PYTHONUNBUFFERED) may
    take only part of a write and say so only in the count it returns;
    ignored, the rest would be lost with no error and a success status."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self.name = name

    def write(self, data: bytes) -> int:
        view = memoryview(data).cast("B")
        with self._naming_errors():
            while view:
                n = self._stream.write(view)
                if n is None:  # a non-blocking descriptor that is full
                    raise BlockingIOError(errno.EAGAIN, "cannot take more now (non-blocking)")
                view = view[n:]
        return len(data)

    def flush(self) -> None:
        with self._naming_errors():
            self._stream.flush()

    def close(self) -> None:
        with self._naming_errors():
            self._stream.close()

    @contextlib.contextmanager
    def _naming_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise _error_about(exc, self.name) from None


# The name of one of a process's open files: /dev/fd/3, /proc/self/fd/1.
_OPEN_FILE_NAME = re.compile(r"/(proc/(self|[0-9]+)|dev)/fd/[0-9]+")


def is_stream_target(path: str) -> bool:
    """Whether output to path is written into what is there rather than
    replace it with a new file: a pipe or a device (as zstd -o /dev/null),
    or a name that stands for an open file (-o /dev/stdout, /dev/fd/N, a
    link to /proc/self/fd/N), which a rename would replace, in /dev for
    everyone, while the file it stood for got nothing."""
    absolute = os.path.abspath(path)
    try:
        mode = os.stat(absolute).st_mode
    except OSError:
        return False
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or _OPEN_FILE_NAME.fullmatch(absolute):
        return True
    try:  # /dev/stdout -> /proc/self/fd/1
        return _OPEN_FILE_NAME.fullmatch(os.readlink(absolute)) is not None
    except OSError:  # not a link
        return False


def write_output(target: str, write: Callable[[OutputStream], None],
                 like: Optional[os.stat_result] = None) -> None:
    """Runs write on a temporary file beside target, then renames it to
    target. On any error or interrupt the temporary file is removed and
    target is left as it was. A pipe, a device or a name for an open file
    (is_stream_target) is written into directly: replaced by a file, -o
    /dev/null would take the system's null device away, and there is no
    partial file to remove.

    like is the input's status when the input is a regular file: target
    then gets its permission bits, its owner and group where this process
    may set them, and its access and modification times. Without it,
    target gets the mode any new file gets (0666 less the umask), not the
    0600 of a temporary file."""
    if is_stream_target(target):
        with open(target, "wb") as f:
            out = OutputStream(f, target)
            write(out)
            out.close()
        return
    source = like if like is not None and stat.S_ISREG(like.st_mode) else None
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".statesmix-", suffix=".tmp", dir=directory)
    except OSError as exc:  # a directory not writable, read-only, full: name the file asked for
        raise _error_about(exc, target) from None
    f = os.fdopen(fd, "wb")
    try:
        out = OutputStream(f, target)
        write(out)
        out.flush()  # closing then writes nothing, so the times set below stay
        try:
            if source is None:
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            else:
                _copy_attributes(f.fileno(), source)
        except OSError:
            pass  # a file system without modes or times: the content is what matters, and 0600 is safe
        out.close()
        try:
            os.replace(tmp, target)
        except OSError as exc:  # a directory put in its place meanwhile: name the file asked for
            raise _error_about(exc, target) from None
    except BaseException:
        # what could not be written cannot be flushed on closing either:
        # the first error is the one to report
        with contextlib.suppress(OSError):
            f.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _copy_attributes(fd: int, source: os.stat_result) -> None:
    for uid, gid in ((source.st_uid, -1), (-1, source.st_gid)):
        try:  # only root may give a file away; a user may choose among their groups
            os.fchown(fd, uid, gid)
        except OSError:
            pass
    mode = stat.S_IMODE(source.st_mode) & 0o777  # never setuid, setgid or sticky
    if os.fstat(fd).st_gid != source.st_gid:
        # The file is in another group than the input, so the input's group
        # bits would grant its content to the wrong people: group and others
        # get only what the input gave both of them.
        both = (mode >> 3) & mode & 0o7
        mode = (mode & 0o700) | (both << 3) | both
    os.fchmod(fd, mode)
    os.utime(fd, ns=(source.st_atime_ns, source.st_mtime_ns))


def _umask() -> int:
    try:  # Linux says it without changing it, which matters beside other threads
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere, the one way to read it is to set it
    os.umask(mask)
    return mask
