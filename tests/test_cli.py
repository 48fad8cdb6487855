"""The command line, through click's test runner and through real processes."""

import errno
import io
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import statesmix
from statesmix._files import OutputStream
from statesmix import cli
from statesmix.cli import main

CLI = [sys.executable, "-m", "statesmix.cli"]


@pytest.fixture
def runner():
    return CliRunner()


def test_compress_decompress_files(tmp_path, runner):
    src = tmp_path / "notes.txt"
    data = b"compress me, then give me back exactly. " * 100
    src.write_bytes(data)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 0, r.output
    packed = tmp_path / "notes.txt.smx"
    assert packed.exists() and src.exists()  # input kept, like zstd
    src.unlink()
    r = runner.invoke(main, ["decompress", str(packed)])
    assert r.exit_code == 0, r.output
    assert src.read_bytes() == data


def test_output_option_and_rm(tmp_path, runner):
    src = tmp_path / "a.bin"
    src.write_bytes(b"\x00\x01" * 500)
    out = tmp_path / "custom.out"
    r = runner.invoke(main, ["compress", "-l", "1", "--rm", "-o", str(out), str(src)])
    assert r.exit_code == 0, r.output
    assert not src.exists()
    assert statesmix.decompress(out.read_bytes()) == b"\x00\x01" * 500


def test_rm_keeps_an_input_whose_output_went_to_stdout(tmp_path, runner):
    src = tmp_path / "only_copy.txt"
    src.write_bytes(b"the only copy, until the pipe's other end has stored it\n" * 20)
    r = runner.invoke(main, ["compress", "-l", "1", "-c", "--rm", str(src)])
    assert r.exit_code == 0
    assert src.exists()  # as zstd and gzip keep it with -c: the output may yet be lost down the pipe
    assert statesmix.decompress(r.stdout_bytes) == src.read_bytes()


def test_refuses_to_overwrite_without_force(tmp_path, runner):
    src = tmp_path / "f"
    src.write_bytes(b"new content " * 10)
    (tmp_path / "f.smx").write_bytes(b"precious")
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 1
    assert "already exists" in r.output
    assert (tmp_path / "f.smx").read_bytes() == b"precious"
    r = runner.invoke(main, ["compress", "-l", "1", "-f", str(src)])
    assert r.exit_code == 0
    assert statesmix.decompress((tmp_path / "f.smx").read_bytes()) == b"new content " * 10


def test_symbolic_link_inputs_need_force_unless_the_output_is_stdout(tmp_path, runner):
    # as xz and zstd skip a link without -f: with --rm the link, not its file, would go
    target = tmp_path / "real.txt"
    data = b"reached through a link " * 40
    target.write_bytes(data)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    r = runner.invoke(main, ["compress", "-l", "1", "--rm", str(link)])
    assert r.exit_code == 1
    assert "symbolic link" in r.output and "-f" in r.output
    assert link.is_symlink() and not (tmp_path / "link.txt.smx").exists()
    r = runner.invoke(main, ["compress", "-l", "1", "-c", str(link)])  # as xz: -c reads through it
    assert r.exit_code == 0
    assert statesmix.decompress(r.stdout_bytes) == data
    r = runner.invoke(main, ["compress", "-l", "1", "-f", "--rm", str(link)])
    assert r.exit_code == 0, r.output
    assert not link.exists() and not link.is_symlink() and target.read_bytes() == data
    packed = tmp_path / "link.txt.smx"
    link.symlink_to(packed)
    (tmp_path / "link.txt.smx.smx").write_bytes(b"")  # an unrelated file, left alone
    r = runner.invoke(main, ["decompress", "-o", str(tmp_path / "out.txt"), str(link)])
    assert r.exit_code == 1 and not (tmp_path / "out.txt").exists()
    r = runner.invoke(main, ["test", str(link)])  # nothing written: the link is read
    assert r.exit_code == 0, r.output


def test_a_device_is_not_compressed_into_a_file(tmp_path, runner):
    # as zstd and xz: /dev/zero into a file would never end; -c reads a device as a stream
    out = tmp_path / "null.smx"
    r = runner.invoke(main, ["compress", "-l", "1", "-o", str(out), os.devnull])
    assert r.exit_code == 1
    assert "not a regular file" in r.output and not out.exists()
    r = runner.invoke(main, ["compress", "-l", "1", "-c", os.devnull])
    assert r.exit_code == 0
    assert statesmix.decompress(r.stdout_bytes) == b""


def test_a_link_to_a_pipe_is_read_without_force(tmp_path, runner):
    # process substitution hands over /dev/fd/N, a link to a pipe: nothing to protect there
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "via_link"
    link.symlink_to(fifo)
    data = b"through a named pipe " * 30
    writer = subprocess.Popen([sys.executable, "-c",
                               f"open({str(fifo)!r}, 'wb').write({data!r})"])
    try:
        r = runner.invoke(main, ["compress", "-l", "1", "-o", str(tmp_path / "p.smx"), str(link)])
    finally:
        writer.wait(timeout=60)
    assert r.exit_code == 0, r.output
    assert statesmix.decompress((tmp_path / "p.smx").read_bytes()) == data


def test_an_output_name_taken_by_a_directory_is_reported_under_that_name(tmp_path, runner):
    src = tmp_path / "report"
    src.write_bytes(b"where would this go? " * 30)
    (tmp_path / "report.smx").mkdir()
    r = runner.invoke(main, ["compress", "-l", "1", "-f", str(src)])
    assert r.exit_code == 1
    assert f"{tmp_path / 'report.smx'}: Is a directory" in r.output and ".tmp" not in r.output
    assert (tmp_path / "report.smx").is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["report", "report.smx"]


def test_a_rename_that_fails_names_the_output_and_leaves_no_temporary_file(tmp_path):
    from statesmix._files import write_output

    target = tmp_path / "late.smx"

    def write(out):  # a directory takes the name while the output is written
        target.mkdir()
        out.write(b"payload")

    with pytest.raises(IsADirectoryError) as info:
        write_output(str(target), write)
    assert info.value.filename == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["late.smx"]


def _signal_mid_compression(tmp_path, signum, preexec_fn=None):
    src = tmp_path / "long.txt"
    words = [b"state", b"space", b"model", b"token", b"learns", b"while", b"it", b"codes"]
    rng = random.Random(7)
    src.write_bytes(b" ".join(rng.choice(words) for _ in range(100_000)))  # about 10 s at level 1
    proc = subprocess.Popen(CLI + ["compress", "-q", "-l", "1", str(src)], stderr=subprocess.PIPE,
                            cwd=tmp_path, preexec_fn=preexec_fn)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):  # the output is being written
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, sorted(p.name for p in tmp_path.iterdir())


def _default_disposition_and_no_core(signum):
    """For the child: the default disposition, whatever this run inherited
    (a CI under nohup ignores SIGHUP), and no core file from SIGXCPU's."""
    def preexec():
        signal.signal(signum, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return preexec


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU])
def test_termination_leaves_no_partial_output(tmp_path, signum):
    # as xz, gzip and zstd: `timeout`, a closed terminal or kill must not leave a temporary file;
    # nor, as xz, a CPU time limit (ulimit -t sends SIGXCPU at the soft limit)
    code, err, names = _signal_mid_compression(tmp_path, signum, preexec_fn=_default_disposition_and_no_core(signum))
    assert code == -signum, err  # it still dies by the signal, as its parent expects
    assert names == ["long.txt"]


def test_an_ignored_hangup_stays_ignored(tmp_path):
    # under nohup the work goes on when the terminal closes
    code, err, names = _signal_mid_compression(
        tmp_path, signal.SIGHUP, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert code == 0, err
    assert names == ["long.txt", "long.txt.smx"]


def test_an_output_pipe_is_written_into_not_replaced(tmp_path, runner):
    # as zstd -o: a pipe or a device (/dev/null) takes the stream; -f is not needed and no file replaces it
    src = tmp_path / "in.txt"
    src.write_bytes(b"down the pipe " * 60)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = runner.invoke(main, ["compress", "-l", "1", "--rm", "-o", str(fifo), str(src)])
    reader.join(timeout=60)
    assert r.exit_code == 0, r.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert statesmix.decompress(got[0]) == src.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.fifo"]  # --rm kept it: the pipe keeps nothing


def test_an_output_name_for_an_open_file_is_written_through(tmp_path):
    # -o /dev/stdout with standard output on a file: /dev/stdout is a link to
    # /proc/self/fd/1, and renaming a file over it would replace the link in
    # /dev for everyone. A link of the same kind here stands in for it.
    src = tmp_path / "in.txt"
    src.write_bytes(b"through the descriptor " * 40)
    link = tmp_path / "fd1"
    link.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "got.smx", "wb") as out:
        proc = subprocess.run(CLI + ["compress", "-l", "1", "-f", "-o", str(link), str(src)], stdout=out,
                              stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert statesmix.decompress((tmp_path / "got.smx").read_bytes()) == src.read_bytes()


def test_an_input_name_for_an_open_file_is_read_and_never_removed(tmp_path):
    # compress --rm -f /dev/stdin would have deleted the /dev/stdin link; a
    # link of the same kind here stands in for it. As zstd, --rm removes
    # regular files only.
    data = b"from the descriptor " * 40
    (tmp_path / "in.txt").write_bytes(data)
    link = tmp_path / "fd0"
    link.symlink_to("/proc/self/fd/0")
    for flags in ([], ["-f"]):
        with open(tmp_path / "in.txt", "rb") as stdin:
            proc = subprocess.run(CLI + ["compress", "-l", "1", "--rm", *flags, "-o", "out.smx", str(link)],
                                  stdin=stdin, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        assert link.is_symlink() and (tmp_path / "in.txt").read_bytes() == data
        assert statesmix.decompress((tmp_path / "out.smx").read_bytes()) == data
        (tmp_path / "out.smx").unlink()


def test_rm_protects_only_an_input_it_would_delete(tmp_path):
    # --rm leaves a hard-linked input alone without -f (xz, gzip), but a name
    # for an open file is never deleted, so reading one whose file has other
    # links is no reason to refuse
    data = b"one of two names " * 40
    (tmp_path / "in.txt").write_bytes(data)
    os.link(tmp_path / "in.txt", tmp_path / "other_name.txt")
    link = tmp_path / "fd0"
    link.symlink_to("/proc/self/fd/0")
    with open(tmp_path / "in.txt", "rb") as stdin:
        proc = subprocess.run(CLI + ["compress", "-l", "1", "--rm", "-o", "out.smx", str(link)],
                              stdin=stdin, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert link.is_symlink() and (tmp_path / "in.txt").read_bytes() == data
    assert statesmix.decompress((tmp_path / "out.smx").read_bytes()) == data


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_an_output_device_is_written_into_not_replaced(tmp_path, runner):
    src = tmp_path / "in.txt"
    src.write_bytes(b"into the void " * 60)
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    for flags in ([], ["-f"], ["--rm"]):
        r = runner.invoke(main, ["compress", "-l", "1", *flags, "-o", str(null), str(src)])
        assert r.exit_code == 0, r.output
        assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "null"]


def test_info_reads_a_pipe_whole_and_refuses_an_endless_device(tmp_path, runner):
    packed = statesmix.compress(b"described through a pipe " * 20, level=1)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(packed))
    writer.start()
    r = runner.invoke(main, ["info", str(fifo)])
    writer.join(timeout=60)
    assert r.exit_code == 0, r.output
    assert "original size    500 bytes" in r.output
    r = runner.invoke(main, ["info", "/dev/zero"])  # read whole, it would never end
    assert r.exit_code == 1
    assert "not a regular file" in r.output


@pytest.mark.parametrize("fd, args, name", [(0, ["decompress", "-c"], "(stdin)"),
                                             (1, ["compress", "-l", "1", "-c", "a.txt"], "(stdout)"),
                                             (0, ["info", "-"], "(stdin)")])
def test_a_closed_standard_stream_is_an_error_not_a_traceback(tmp_path, fd, args, name):
    # `statesmix ... <&-` or `>&-`: Python then has no sys.stdin or sys.stdout at all
    (tmp_path / "a.txt").write_bytes(b"somewhere to go " * 10)
    proc = subprocess.run(CLI + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, cwd=tmp_path, preexec_fn=lambda: os.close(fd), timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"{name}: Bad file descriptor" in err and "Traceback" not in err


def test_an_output_name_too_long_is_refused_before_the_work(tmp_path, runner, monkeypatch):
    # the name is only tried at the rename, after the whole input is compressed: say so at once
    src = tmp_path / ("n" * 253)  # fits; with .smx it does not (NAME_MAX 255)
    src.write_bytes(b"short content, long name " * 10)

    def never(*args, **kwargs):
        raise AssertionError("compressed before the output's name was checked")

    monkeypatch.setattr(cli, "_compress_stream", never)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 1
    assert "File name too long" in r.output
    assert [p.name for p in tmp_path.iterdir()] == [src.name]


def test_rm_leaves_a_hard_linked_or_setuid_input_alone_without_force(tmp_path, runner):
    # as xz and gzip: deleting one name of a linked file frees nothing, and
    # the output never carries setuid, setgid or sticky bits, so --rm would lose them
    linked = tmp_path / "linked.txt"
    linked.write_bytes(b"two names, one file " * 20)
    os.link(linked, tmp_path / "other_name.txt")
    special = tmp_path / "tool"
    special.write_bytes(b"#!/bin/sh\necho hi\n" * 10)
    os.chmod(special, 0o4755)
    for path in (linked, special):
        r = runner.invoke(main, ["compress", "-l", "1", "--rm", str(path)])
        assert r.exit_code == 1 and "-f" in r.output, r.output
        assert path.exists() and not (tmp_path / (path.name + ".smx")).exists()
        r = runner.invoke(main, ["compress", "-l", "1", str(path)])  # kept anyway: nothing to protect
        assert r.exit_code == 0, r.output
        (tmp_path / (path.name + ".smx")).unlink()
        r = runner.invoke(main, ["compress", "-l", "1", "--rm", "-f", str(path)])
        assert r.exit_code == 0 and not path.exists(), r.output


def test_output_takes_the_inputs_permissions_and_times(tmp_path, runner):
    # as xz and zstd do: a round trip gives the file back as it was, mode and times too
    src = tmp_path / "report.txt"
    data = b"for the team's eyes only. " * 80
    src.write_bytes(data)
    os.chmod(src, 0o640)
    times = (1_600_000_000_123_456_789, 1_500_000_000_987_654_321)  # atime, mtime (ns)
    os.utime(src, ns=times)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 0, r.output
    packed = tmp_path / "report.txt.smx"
    st = packed.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_atime_ns, st.st_mtime_ns) == times
    src.unlink()
    r = runner.invoke(main, ["decompress", str(packed)])
    assert r.exit_code == 0, r.output
    st = src.stat()
    assert src.read_bytes() == data
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime_ns == times[1]


def test_output_from_stdin_gets_a_new_files_mode(tmp_path, runner):
    out = tmp_path / "from_stdin.smx"
    old = os.umask(0o027)
    try:
        r = runner.invoke(main, ["compress", "-l", "1", "-o", str(out), "-"], input=b"piped " * 50)
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # 0666 less the umask, not a temporary file's 0600


def test_output_in_another_group_shares_only_what_the_input_shared(tmp_path, runner, monkeypatch):
    src = tmp_path / "ledger.csv"
    src.write_bytes(b"account,amount\n" * 100)
    os.chmod(src, 0o754)  # the group may read and run it, others only read
    other_group = os.getgid() + 12345
    try:
        os.chown(src, -1, other_group)
    except PermissionError:
        pytest.skip("this user cannot give a file to another group")

    def refuse(fd, uid, gid):
        raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "fchown", refuse)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 0, r.output
    st = (tmp_path / "ledger.csv.smx").stat()
    assert st.st_gid != other_group
    # the output's group is not the input's: its members get what others got
    assert stat.S_IMODE(st.st_mode) == 0o744


def test_a_terminal_named_as_a_file_is_refused_as_standard_streams_are(tmp_path, runner):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        tty = os.ttyname(slave)
        src = tmp_path / "f.txt"
        src.write_bytes(b"not for the screen " * 20)
        r = runner.invoke(main, ["compress", "-l", "1", "-o", tty, str(src)])
        assert r.exit_code == 1 and "not written to a terminal" in r.output
        os.write(master, b"\x04")  # were it read, the terminal would end its input at once
        r = runner.invoke(main, ["decompress", "-c", tty])
        assert r.exit_code == 1 and "not read from a terminal" in r.output
    finally:
        os.close(slave)
        os.close(master)


def _on_a_terminal(args, cwd, data=b"", terminal="stdout"):
    """Runs the CLI with stdout or stdin on a pseudo-terminal; returns (exit
    status, stderr, bytes that reached the terminal)."""
    pty = pytest.importorskip("pty")
    select = pytest.importorskip("select")
    master, slave = pty.openpty()
    if terminal == "stdout":
        proc = subprocess.Popen(CLI + args, stdin=subprocess.PIPE, stdout=slave, stderr=subprocess.PIPE, cwd=cwd)
    else:
        proc = subprocess.Popen(CLI + args, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    os.close(slave)
    if terminal == "stdin":
        os.write(master, b"\x04")  # end of input, as Ctrl-D at a prompt
    _, err = proc.communicate(input=data if terminal == "stdout" else None, timeout=60)
    shown = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.returncode, err.decode(), shown


def test_compressed_data_is_not_written_to_a_terminal(tmp_path):
    code, err, shown = _on_a_terminal(["compress", "-l", "1"], tmp_path, data=b"typed at a prompt " * 20)
    assert (code, shown) == (1, b"")
    assert "compressed data not written to a terminal (use -f to force)" in err
    code, err, shown = _on_a_terminal(["compress", "-l", "1", "-f"], tmp_path, data=b"typed at a prompt " * 20)
    assert code == 0 and len(shown) > 0  # forced: as xz -f does


def test_compressed_data_is_not_read_from_a_terminal(tmp_path):
    for command in ("decompress", "test"):
        code, err, _ = _on_a_terminal([command], tmp_path, terminal="stdin")
        assert code == 1 and "compressed data not read from a terminal" in err
    code, err, _ = _on_a_terminal(["decompress", "-f"], tmp_path, terminal="stdin")
    assert code == 1 and "compressed data is empty" in err  # it did read, and got nothing


def _level_of(path):
    return path.read_bytes()[5] & 0x0F  # magic (4), version, then the level in the flags' low bits


def test_level_digits_and_keep_as_xz_and_zstd_take_them(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "page.html").write_bytes(b"<p>the same page, again</p>\n" * 40)
    r = runner.invoke(main, ["compress", "-1", "-k", "page.html"])
    assert r.exit_code == 0, r.output
    assert _level_of(tmp_path / "page.html.smx") == 1 and (tmp_path / "page.html").exists()
    # a digit after an option that takes a value is that value; after -- it is a file name
    r = runner.invoke(main, ["compress", "-o", "-9", "-2", "page.html"])
    assert r.exit_code == 0, r.output
    assert _level_of(tmp_path / "-9") == 2
    r = runner.invoke(main, ["compress", "-3", "--", "-9"])
    assert r.exit_code == 0, r.output
    assert _level_of(tmp_path / "-9.smx") == 3
    r = runner.invoke(main, ["decompress", "-k", "-f", "page.html.smx"])
    assert r.exit_code == 0, r.output
    for args in (["compress", "-k", "--rm", "-f", "page.html"], ["decompress", "--rm", "-k", "-f", "--", "-9.smx"]):
        r = runner.invoke(main, args)
        assert r.exit_code == 2 and "contradict" in r.output
    assert (tmp_path / "page.html").exists() and (tmp_path / "-9.smx").exists()


def test_standard_output_takes_every_byte_or_fails():
    class Sip(io.RawIOBase):  # a raw file that takes at most 1,000 bytes a call, as a pipe may
        def __init__(self):
            self.got = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.got += bytes(b[:1000])
            return min(len(b), 1000)

    sip = Sip()
    data = os.urandom(12345)
    out = OutputStream(sip, "(stdout)")
    assert out.write(data) == len(data)
    assert bytes(sip.got) == data


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_one_line_naming_the_output(tmp_path, runner, monkeypatch):
    src = tmp_path / "diary.txt"
    src.write_bytes(b"dear diary, the disk is full again. " * 3000)
    packed = tmp_path / "diary.txt.smx"
    packed.write_bytes(statesmix.compress(src.read_bytes(), level=1))
    with open("/dev/full", "wb") as full:  # every write: ENOSPC
        proc = subprocess.run(CLI + ["decompress", "-c", str(packed)], stdout=full, stderr=subprocess.PIPE,
                              cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "statesmix: (stdout): No space left on device\n"  # one line, no traceback
    packed.unlink()

    def fdopen_on_a_full_disk(fd, mode):
        os.close(fd)
        return open("/dev/full", mode)

    monkeypatch.setattr("statesmix._files.os.fdopen", fdopen_on_a_full_disk)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 1
    assert r.output == f"statesmix: {packed}: No space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diary.txt"]  # no output, no temporary file

    def no_room(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".statesmix-x1y2.tmp"))

    monkeypatch.setattr("statesmix._files.tempfile.mkstemp", no_room)
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert (r.exit_code, r.output) == (1, f"statesmix: {packed}: Permission denied\n")  # the file asked for


def test_a_reader_that_leaves_early_is_an_error_even_unbuffered(tmp_path):
    # Under PYTHONUNBUFFERED the CLI writes to the raw standard output, where a
    # write cut short by the reader leaving returns a count rather than raising.
    data = b"".join(b"line %d of a file larger than a pipe holds\n" % i for i in range(8000))
    packed = tmp_path / "big.smx"
    packed.write_bytes(statesmix.compress(data, level=1))
    proc = subprocess.Popen(CLI + ["decompress", "-c", str(packed)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout.read(10) == data[:10]  # the one write of the block has begun, and fills the pipe
    time.sleep(0.3)
    proc.stdout.close()
    proc.stderr.read()
    assert proc.wait(timeout=60) == 1  # not 0, as if all had been written


def test_corrupt_input_exits_1_with_one_line_and_no_output(tmp_path, runner):
    bad = tmp_path / "bad.smx"
    blob = bytearray(statesmix.compress(b"some data to corrupt " * 50, level=1))
    blob[len(blob) // 2] ^= 0xFF
    bad.write_bytes(bytes(blob))
    r = runner.invoke(main, ["decompress", str(bad)])
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("statesmix: ")
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.smx"]  # no temp file left either


@pytest.mark.parametrize("mode", ["compress", "decompress"])
def test_out_of_memory_is_one_line_and_no_output(tmp_path, runner, monkeypatch, mode):
    from statesmix import cli

    def no_memory(*args, **kwargs):
        raise MemoryError

    src = tmp_path / "in.txt"
    src.write_bytes(b"a little text " * 40)
    if mode == "decompress":
        (tmp_path / "in.txt.smx").write_bytes(statesmix.compress(src.read_bytes(), level=1))
        src.unlink()
        src = tmp_path / "in.txt.smx"
    monkeypatch.setattr(cli, "_compress_stream" if mode == "compress" else "_decompress_stream", no_memory)
    r = runner.invoke(main, [mode, str(src)])
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.strip()]
    hint = " (a lower level or a smaller -B needs less)" if mode == "compress" else ""
    assert lines == [f"statesmix: {src}: out of memory{hint}"]
    assert [p.name for p in tmp_path.iterdir()] == [src.name]  # no output, no temp file


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits as on Linux")
@pytest.mark.parametrize("limit_mb", [150, 200, 250, 300])
def test_address_space_limit_fails_cleanly(tmp_path, text, limit_mb):
    # Under `ulimit -v` the tokenizers library aborted the process (SIGABRT)
    # while training, leaving its 0-byte temporary file; a thread that could
    # not start ended in a traceback. Every limit must end in success or in
    # the one-line error, with nothing left behind.
    import resource

    data = text * 5  # above 64 KB, so the level trains a tokenizer
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    limit = limit_mb << 20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    # cwd: outside the source tree, so the child imports the installed package
    proc = subprocess.run(CLI + ["compress", "-l", "6", str(src)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, preexec_fn=cap, env=env, cwd=tmp_path, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode in (0, 1), err
    names = sorted(p.name for p in tmp_path.iterdir())
    if proc.returncode == 0:
        assert names == ["in.txt", "in.txt.smx"]
        assert statesmix.decompress((tmp_path / "in.txt.smx").read_bytes()) == data
    else:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"statesmix: {src}: ") and "out of memory" in lines[0], err
        assert names == ["in.txt"]


def test_truncated_input_reports_truncation(tmp_path, runner):
    f = tmp_path / "t.smx"
    f.write_bytes(statesmix.compress(b"truncate me " * 100, level=1)[:-8])
    r = runner.invoke(main, ["decompress", "-c", str(f)])
    assert r.exit_code == 1 and "truncated" in r.output


def test_missing_file_and_bad_suffix(tmp_path, runner):
    r = runner.invoke(main, ["compress", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "No such file" in r.output
    other = tmp_path / "plain.txt"
    other.write_bytes(b"x")
    r = runner.invoke(main, ["decompress", str(other)])
    assert r.exit_code == 1 and "suffix" in r.output


def test_an_input_that_is_not_there_is_reported_before_its_output(tmp_path, runner):
    # a missing notes.smx was "notes already exists; not overwritten (use -f to force)", and -f
    # only then said that notes.smx was missing; xz and zstd name the input first
    (tmp_path / "notes").write_bytes(b"decompressed already")
    (tmp_path / "taken.smx").write_bytes(b"someone's output")
    (tmp_path / "folder").mkdir()
    (tmp_path / "secret").write_bytes(b"not for this user")
    (tmp_path / "secret").chmod(0)
    taken = str(tmp_path / "taken.smx")
    cases = [(["decompress"], "notes.smx", "No such file or directory"),
             (["compress", "-o", taken], "gone", "No such file or directory"),
             (["compress", "-o", taken], "folder", "Is a directory")]
    if os.geteuid() != 0:  # root reads it
        cases.append((["compress", "-o", taken], "secret", "Permission denied"))
    for args, name, why in cases:
        for more in ([], ["-f"]):
            r = runner.invoke(main, args[:1] + more + args[1:] + [str(tmp_path / name)])
            assert r.exit_code == 1 and r.stderr == f"statesmix: {tmp_path / name}: {why}\n", r.output
    assert (tmp_path / "notes").read_bytes() == b"decompressed already"
    assert (tmp_path / "taken.smx").read_bytes() == b"someone's output"


def test_usage_errors_exit_2(runner):
    assert runner.invoke(main, ["compress", "-l", "12", "x"]).exit_code == 2
    assert runner.invoke(main, ["frobnicate"]).exit_code == 2
    assert runner.invoke(main, ["compress", "--no-such-flag"]).exit_code == 2


def test_thread_counts_and_c_with_o_are_usage_errors(tmp_path, runner):
    # -T beyond what the engine takes was a data error reported per file;
    # -c with -o wrote to standard output and ignored -o without a word
    src = tmp_path / "f"
    src.write_bytes(b"data " * 20)
    for command in (["compress", "-l", "1"], ["decompress"], ["test"]):
        r = runner.invoke(main, [*command, "-T", str(2**31), str(src)])
        assert r.exit_code == 2 and "-T" in r.output, r.output
    for command in (["compress", "-l", "1"], ["decompress"]):
        r = runner.invoke(main, [*command, "-c", "-o", str(tmp_path / "out"), str(src)])
        assert r.exit_code == 2 and "-c" in r.output and r.stdout_bytes == b"", r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@given(st.binary(max_size=600))
def test_roundtrip_through_the_cli(data):
    runner = CliRunner()
    packed = runner.invoke(main, ["compress", "-l", "1", "-q", "-"], input=data)
    assert packed.exit_code == 0
    back = runner.invoke(main, ["decompress", "-q", "-"], input=packed.stdout_bytes)
    assert back.exit_code == 0
    assert back.stdout_bytes == data


def test_pipe_through_real_processes(tmp_path):
    # cwd outside the source tree, so the installed package is what runs
    data = os.urandom(2000) + b"pipes carry bytes " * 200
    c = subprocess.run(CLI + ["compress", "-l", "1"], input=data, stdout=subprocess.PIPE, check=True,
                       cwd=tmp_path)
    d = subprocess.run(CLI + ["decompress"], input=c.stdout, stdout=subprocess.PIPE, check=True,
                       cwd=tmp_path)
    assert d.stdout == data


def _interrupt_after(args, delay, cwd):
    """Runs the CLI, sends SIGINT after delay seconds; returns (exit status,
    stderr, seconds from the signal to the exit)."""
    # A child inherits an ignored SIGINT (as when the suite itself runs in a
    # background job), and Python then never raises KeyboardInterrupt: give
    # it the default disposition, as an interactive shell would.
    proc = subprocess.Popen(CLI + args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=cwd,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    assert proc.poll() is None, "finished before the interrupt"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return proc.returncode, proc.stderr.read().decode(), time.monotonic() - sent


def test_interrupt_inside_a_long_frame_stops_within_a_second(tmp_path, text):
    # At level 9 one 64 KB frame takes seconds to code: the interrupt lands
    # inside it, in the native call, and must still take effect at once.
    work = tmp_path / "work"
    work.mkdir()
    src = work / "big"
    src.write_bytes(text[:60_000] * 3)
    code, err, seconds = _interrupt_after(["compress", "-l", "9", "-T", "1", str(src)], 2.0, tmp_path)
    assert code == 130, err  # our own interrupt handling ran, not some other failure
    assert "interrupted" in err
    assert seconds < 1.0
    assert sorted(p.name for p in work.iterdir()) == ["big"]  # no partial output, no temp file

    packed = tmp_path / "one.smx"
    packed.write_bytes(statesmix.compress(text[:60_000], level=9))
    code, err, seconds = _interrupt_after(["decompress", "-T", "1", "-o", str(work / "out"), str(packed)],
                                          1.5, tmp_path)
    assert code == 130 and "interrupted" in err and seconds < 1.0, (code, err, seconds)
    assert sorted(p.name for p in work.iterdir()) == ["big"]


def test_test_and_info_commands(tmp_path, runner):
    f = tmp_path / "x.smx"
    f.write_bytes(statesmix.compress(b"information " * 100, level=2))
    r = runner.invoke(main, ["test", str(f)])
    assert r.exit_code == 0 and r.output == ""
    r = runner.invoke(main, ["test", "-v", str(f)])
    assert r.exit_code == 0 and "OK (1200 bytes)" in r.stderr
    src = tmp_path / "v.txt"
    src.write_bytes(b"verbose " * 100)
    r = runner.invoke(main, ["compress", "-l", "1", "-v", str(src)])
    assert r.exit_code == 0 and "800 ->" in r.stderr and "bits/byte" in r.stderr
    r = runner.invoke(main, ["info", str(f)])
    assert r.exit_code == 0
    assert "format version   22" in r.output and "level            2" in r.output
    assert "original size    1200 bytes" in r.output


def test_info_says_when_a_file_will_not_decode(tmp_path, runner):
    from conftest import load_bench_module

    fuzz = load_bench_module("fuzz")
    data = b"information " * 2000
    good = statesmix.compress(data, level=1, block_size=8192)
    s = fuzz.dissect(good)[0]
    entries = [(e.comp_size, e.raw_len, e.crc) for e in s.entries]
    entries[0] = (entries[0][0], 1, entries[0][2])  # a block length that lies, its checksum recomputed
    lying = good[: len(good) - len(s.end)] + fuzz.index_bytes(s.header, entries)
    for name, blob, problem in (("cut.smx", good[:-10], "truncated"),
                                ("lying.smx", lying, "the index does not match block 0")):
        f = tmp_path / name
        f.write_bytes(blob)
        r = runner.invoke(main, ["info", str(f)])
        assert r.exit_code == 1, (name, r.output)
        assert "blocks           3," in r.output  # what could be read is still shown
        assert problem in r.output and problem in r.stderr
        assert runner.invoke(main, ["test", str(f)]).exit_code == 1
    f = tmp_path / "good.smx"
    f.write_bytes(good)
    r = runner.invoke(main, ["info", str(f)])
    assert r.exit_code == 0 and "warning" not in r.output


def test_info_describes_only_what_is_there(tmp_path, runner):
    # a frame whose head was there but not its payload was counted whole (a
    # 60-byte file "held" 390 bytes), and a good stream with trailing
    # garbage was reported as no statesmix file at all, with nothing shown
    packed = statesmix.compress(bytes(range(256)) * 12, level=1)
    cut = tmp_path / "cut.smx"
    cut.write_bytes(packed[:60])
    r = runner.invoke(main, ["info", str(cut)])
    assert r.exit_code == 1 and "truncated" in r.stderr, r.output
    sizes = [int(line.split()[2]) for line in r.stdout.splitlines() if line.strip().startswith("compressed size")]
    assert sizes and all(size <= 60 for size in sizes), r.stdout
    assert "original size    0 bytes so far" in r.stdout  # no frame is whole
    tail = tmp_path / "tail.smx"
    tail.write_bytes(packed + b"junk\n")
    r = runner.invoke(main, ["info", str(tail)])
    assert r.exit_code == 1 and "trailing data" in r.stderr, r.output
    assert "original size    3072 bytes" in r.stdout
    # a second stream that starts as one but goes wrong is that stream's problem, as decompress says
    header = statesmix.container.parse_stream_header(packed)
    for second, problem in ((packed[:3], "truncated"),
                            (packed[:header.size] + b"\x7f" + packed[header.size + 1:], "corrupt")):
        two = tmp_path / "two.smx"
        two.write_bytes(packed + second)
        r = runner.invoke(main, ["info", str(two)])
        assert r.exit_code == 1 and "stream 2" in r.stderr and problem in r.stderr, r.output
        assert "trailing" not in r.stderr


def test_progress_shown_on_request_and_silent_otherwise(tmp_path):
    runner = CliRunner()
    src = tmp_path / "p.txt"
    src.write_bytes(b"progress report please " * 300)
    r = runner.invoke(main, ["compress", "-l", "1", "--progress", "-c", str(src)])
    assert r.exit_code == 0
    assert "tok/s" in r.stderr and "bpb" in r.stderr and "MB" in r.stderr
    r = runner.invoke(main, ["compress", "-l", "1", "-c", str(src)])  # stderr is not a terminal
    assert r.exit_code == 0 and r.stderr == ""
    r = runner.invoke(main, ["compress", "-l", "1", "-q", "--progress", "-c", str(src)])
    assert r.exit_code == 0 and r.stderr == ""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_decompress_shows_progress_as_compress_does(tmp_path, threads):
    # decompress took --progress (and its default on a terminal) and showed nothing
    runner = CliRunner()
    data = b"progress report please " * 600  # four blocks of 4 KiB
    packed = tmp_path / "p.txt.smx"
    packed.write_bytes(statesmix.compress(data, level=1, block_size=4096) * 2)  # two streams, one count
    r = runner.invoke(main, ["decompress", "-T", threads, "--progress", "-c", str(packed)])
    assert r.exit_code == 0 and r.stdout_bytes == data * 2, r.output
    last = [line for line in r.stderr.split("\r") if "bpb" in line][-1]
    # bytes out; the compressed file's size is no total for them
    assert last.startswith(f"p.txt.smx: {2 * len(data) / 1e6:.2f} MB "), last
    bpb = float(last.split(" bpb")[0].split()[-1])
    assert "tok/s" in last and 0 < bpb < 8 * packed.stat().st_size / (2 * len(data))  # the frames' bits
    r = runner.invoke(main, ["decompress", "-q", "--progress", "-c", str(packed)])
    assert r.exit_code == 0 and r.stderr == ""


def test_several_files_and_threads_option(tmp_path, runner):
    names = []
    for i in range(3):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"file %d " % i * 100)
        names.append(str(p))
    r = runner.invoke(main, ["compress", "-l", "1", "-T", "1", *names])
    assert r.exit_code == 0, r.output
    for i in range(3):
        assert statesmix.decompress((tmp_path / f"f{i}.smx").read_bytes()) == b"file %d " % i * 100
    r = runner.invoke(main, ["test", *(n + ".smx" for n in names)])
    assert r.exit_code == 0


def test_files_go_block_by_block(tmp_path, monkeypatch, text):
    from statesmix import cli

    monkeypatch.setattr(cli, "READ_SIZE", 4096)
    src = tmp_path / "big.txt"
    src.write_bytes(text[:40_000])
    r = CliRunner().invoke(main, ["compress", "-l", "1", "-B", "8K", "-T", "2", str(src)])
    assert r.exit_code == 0, r.output
    packed = (tmp_path / "big.txt.smx").read_bytes()
    from statesmix.info import scan

    assert len(scan(packed).blocks) == 5
    assert packed == statesmix.compress(text[:40_000], level=1, block_size=8192)  # whatever the reads and -T
    r = CliRunner().invoke(main, ["decompress", "-c", "-T", "2", str(tmp_path / "big.txt.smx")])
    assert r.exit_code == 0 and r.stdout_bytes == text[:40_000]
    r = CliRunner().invoke(main, ["info", str(tmp_path / "big.txt.smx")])
    assert r.exit_code == 0 and "blocks           5," in r.output and "block 4 " in r.output


@pytest.mark.parametrize("size", ["12", "1K", "2G", "nonsense"])
def test_bad_block_size_is_a_usage_error(tmp_path, size):
    src = tmp_path / "x"
    src.write_bytes(b"x")
    r = CliRunner().invoke(main, ["compress", "-B", size, str(src)])
    assert r.exit_code == 2 and "block" in r.output.lower()
    assert not (tmp_path / "x.smx").exists()


def test_decompress_concatenated_and_trailing_garbage(tmp_path, runner):
    f = tmp_path / "two.smx"
    f.write_bytes(statesmix.compress(b"one ", level=1) + statesmix.compress(b"two", level=1))
    r = runner.invoke(main, ["decompress", "-c", str(f)])
    assert r.exit_code == 0 and r.stdout_bytes == b"one two"
    f.write_bytes(statesmix.compress(b"one ", level=1) + b"junk")
    r = runner.invoke(main, ["decompress", "-c", str(f)])
    assert r.exit_code == 1 and "trailing data" in r.stderr
    empty = tmp_path / "empty.smx"
    empty.write_bytes(b"")
    r = runner.invoke(main, ["decompress", "-c", str(empty)])
    assert r.exit_code == 1 and "empty" in r.stderr


def test_an_output_that_is_the_input_under_another_name_is_refused(tmp_path, runner):
    # the check compared path strings: through a link to the directory, or
    # with a doubled slash, -f --rm -o deleted the input and its output both
    src = tmp_path / "f"
    data = b"the only copy of this " * 40
    src.write_bytes(data)
    (tmp_path / "here").symlink_to(tmp_path)
    os.link(src, tmp_path / "f_again")
    for other in (tmp_path / "here" / "f", "/" + str(src), tmp_path / "f_again"):
        r = runner.invoke(main, ["compress", "-l", "1", "-f", "--rm", "-o", str(other), str(src)])
        assert r.exit_code == 1 and "same file" in r.output, r.output
        assert src.read_bytes() == data
    packed = tmp_path / "p.smx"
    packed.write_bytes(statesmix.compress(data, level=1))
    r = runner.invoke(main, ["decompress", "-f", "--rm", "-o", str(tmp_path / "here" / "p.smx"), str(packed)])
    assert r.exit_code == 1 and "same file" in r.output, r.output
    assert statesmix.decompress(packed.read_bytes()) == data


def test_a_dangling_link_where_the_output_goes_is_not_replaced_without_force(tmp_path, runner):
    # as xz: the name is taken, though what it points to is not there
    src = tmp_path / "f"
    src.write_bytes(b"data " * 30)
    link = tmp_path / "f.smx"
    link.symlink_to(tmp_path / "nowhere")
    r = runner.invoke(main, ["compress", "-l", "1", str(src)])
    assert r.exit_code == 1 and "exists" in r.output, r.output
    assert link.is_symlink()
    r = runner.invoke(main, ["compress", "-l", "1", "-f", str(src)])
    assert r.exit_code == 0 and not link.is_symlink()
    assert statesmix.decompress(link.read_bytes()) == b"data " * 30


def test_info_refuses_standard_input_on_a_terminal_or_an_endless_device(tmp_path):
    # it read standard input whole: at a terminal it waited for typing, and
    # from /dev/zero it grew until memory ran out, then printed a traceback
    code, err, _ = _on_a_terminal(["info"], tmp_path, terminal="stdin")
    assert code == 1 and "compressed data not read from a terminal" in err, err
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(CLI + ["info"], stdin=zero, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "not a regular file" in err and "Traceback" not in err, err
    endless = subprocess.Popen(["yes"], stdout=subprocess.PIPE)  # a pipe that is no stream is not read whole
    proc = subprocess.run(CLI + ["info"], stdin=endless.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, cwd=tmp_path)
    endless.stdout.close()
    endless.kill()
    endless.wait()
    assert proc.returncode == 1 and "bad magic" in proc.stderr.decode()
    packed = tmp_path / "p.smx"
    packed.write_bytes(statesmix.compress(b"described from standard input " * 10, level=1))
    with open(packed, "rb") as f:  # a file on standard input is read where needed, as a named one
        proc = subprocess.run(CLI + ["info"], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                              cwd=tmp_path)
    assert proc.returncode == 0 and b"original size    300 bytes" in proc.stdout, proc.stderr


def test_info_interrupted_exits_130(tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(CLI + ["info", str(fifo)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while True:  # opens once info has opened the pipe: it is past its imports
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:  # ENXIO: no reader yet
            assert exc.errno == errno.ENXIO and proc.poll() is None and time.monotonic() < deadline, exc
            time.sleep(0.05)
    try:
        os.write(fd, statesmix.container.MAGIC)  # a stream's start, then nothing: info waits for the rest
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        os.close(fd)
    err = proc.stderr.read().decode()
    assert proc.returncode == 130 and "interrupted" in err, err


def test_info_names_standard_output_when_it_cannot_be_written(tmp_path):
    packed = tmp_path / "p.smx"
    packed.write_bytes(statesmix.compress(b"nowhere to go " * 10, level=1))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(CLI + ["info", str(packed)], stdout=full, stderr=subprocess.PIPE, timeout=60,
                              cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "(stdout): No space left on device" in err, err
    proc = subprocess.run(CLI + ["info", str(packed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=lambda: os.close(1), timeout=60, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "(stdout): Bad file descriptor" in err, err


def test_level_digits_inside_option_clusters_as_xz_and_zstd_read_them(tmp_path, runner, monkeypatch):
    src = tmp_path / "f"
    src.write_bytes(b"clustered " * 30)
    for args in (["-1c"], ["-c1"], ["-qc1"], ["-1", "-c"]):
        r = runner.invoke(main, ["compress", *args, str(src)])
        assert r.exit_code == 0, (args, r.output)
        assert r.stdout_bytes[5] & 0x0F == 1  # the level, in the flags' low bits
    r = runner.invoke(main, ["compress", "-T1", "-c", str(src)])  # a value attached to its option is left alone
    assert r.exit_code == 0 and r.stdout_bytes[5] & 0x0F == 6, r.output
    monkeypatch.chdir(tmp_path)
    for args, name in ((["-fo", "-9"], "-9"), (["-o", "-o", "-1"], "-o")):  # the value, even of an option's name
        r = runner.invoke(main, ["compress", "-l", "2", *args, str(src)])
        assert r.exit_code == 0, (args, r.output)
        packed = (tmp_path / name).read_bytes()
        assert packed[5] & 0x0F == (1 if args[-1] == "-1" else 2) and statesmix.decompress(packed) == b"clustered " * 30
    r = runner.invoke(main, ["compress", "-10", str(src)])
    assert r.exit_code == 2 and "10" in r.output and "No such option" not in r.output, r.output


def test_names_of_standard_input_empty_names_and_bare_suffixes(tmp_path, runner):
    # errors named standard input "-" where everything else says "(stdin)";
    # "" was reported as "statesmix: : ..."; "-o ''" fell back to the
    # default name; "dir/.smx" was decompressed to "dir/"
    r = runner.invoke(main, ["test", "-"], input=b"")
    assert r.exit_code == 1 and "(stdin): compressed data is empty" in r.output, r.output
    for command in (["compress", "-l", "1"], ["decompress"], ["test"], ["info"]):
        r = runner.invoke(main, [*command, ""])
        assert r.exit_code == 1 and "statesmix: empty file name" in r.output, (command, r.output)
    src = tmp_path / "f"
    src.write_bytes(b"x" * 40)
    r = runner.invoke(main, ["compress", "-l", "1", "-o", "", str(src)])
    assert r.exit_code == 2 and not (tmp_path / "f.smx").exists(), r.output
    (tmp_path / "sub").mkdir()
    bare = tmp_path / "sub" / ".smx"
    bare.write_bytes(statesmix.compress(b"x" * 40, level=1))
    r = runner.invoke(main, ["decompress", str(bare)])
    assert r.exit_code == 1 and "unknown suffix" in r.output, r.output


def test_info_writes_as_any_text_output_does(tmp_path):
    # a redirected text stdout (no binary side) and a name that is not
    # UTF-8 both gave tracebacks when info wrote bytes itself
    import contextlib
    import io

    packed = tmp_path / "p.smx"
    packed.write_bytes(statesmix.compress(b"text " * 30, level=1))
    seen = io.StringIO()
    with contextlib.redirect_stdout(seen):
        main(["info", str(packed)], standalone_mode=False)
    assert "original size    150 bytes" in seen.getvalue()
    odd = os.fsencode(str(tmp_path)) + b"/\xff.smx"
    os.link(packed, odd)
    strict = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}  # as under en_US.UTF-8, not C.UTF-8
    proc = subprocess.run(CLI + ["info", odd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=strict,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0 and b"original size    150 bytes" in proc.stdout, proc.stderr
    assert odd in proc.stdout  # the name as the bytes it is
    with open(tmp_path / "junk_then_stream", "wb") as f:
        f.write(b"junk" + packed.read_bytes())
    with open(tmp_path / "junk_then_stream", "rb", buffering=0) as f:  # read from where standard input stands
        f.read(4)
        proc = subprocess.run(CLI + ["info"], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                              cwd=tmp_path)
    assert proc.returncode == 0 and b"original size    150 bytes" in proc.stdout, proc.stderr


@pytest.mark.parametrize("command", ["compress", "decompress", "test"])
def test_help_describes_every_option(runner, command):
    # README's option table describes -q, -v and -T for every command; so does --help
    cmd = main.get_command(None, command)
    assert all(p.help for p in cmd.params if isinstance(p, cli.click.Option)), command
    r = runner.invoke(main, [command, "--help"])
    assert r.exit_code == 0
    assert "Threads (0 = all cores)" in r.output and "Print nothing but errors." in r.output


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_help_names_the_output_as_readme_does(runner, command):
    r = runner.invoke(main, [command, "--help"])
    assert r.exit_code == 0
    assert "-o, --output OUT" in r.output
