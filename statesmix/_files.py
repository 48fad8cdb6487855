"""Writing an output file as xz and zstd do: it appears only once it is
complete, and it takes its input file's permissions and times."""

from __future__ import annotations

import os
import stat
import tempfile
from typing import BinaryIO, Callable, Optional


def write_atomically(target: str, write: Callable[[BinaryIO], None],
                     like: Optional[os.stat_result] = None) -> None:
    """Runs write on a temporary file beside target, then renames it to
    target. On any error or interrupt the temporary file is removed and
    target is left as it was.

    like is the input's status when the input is a regular file: target
    then gets its permission bits, its owner and group where this process
    may set them, and its access and modification times. Without it,
    target gets the mode any new file gets (0666 less the umask), not the
    0600 of a temporary file."""
    source = like if like is not None and stat.S_ISREG(like.st_mode) else None
    new_file_mode = 0o666 & ~_umask()
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".statesmix-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()  # closing then writes nothing, so the times set below stay
            try:
                if source is None:
                    os.fchmod(f.fileno(), new_file_mode)
                else:
                    _copy_attributes(f.fileno(), source)
            except OSError:
                pass  # a file system without modes or times: the content is what matters, and 0600 is safe
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
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
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask
