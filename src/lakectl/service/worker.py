"""Run a library call in a warm child process with a memory cap, and get back its result or its error.

Only the parsing of untrusted bytes runs here: calamine aborts the whole process on a far-away cell
(ops-notes §6), so the child has an address-space cap, a deadline per call, and its own stderr (a
native abort's text goes to a file under the lake's temp folder and into the file's rejection, never
to the console). Writing to Delta happens in the caller, where the cap cannot kill it.

The child never outlives its parent: it asks the kernel for SIGKILL when the parent dies
(PR_SET_PDEATHSIG) and also watches the parent's pid, so neither kill -9 of the parent nor a crash
leaves an orphan. It is started with ``spawn``: a fork after deltalake was used panics its tokio
runtime (ops-notes §1).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from lakectl.errors import resource_shortage

T = TypeVar("T")
# lines of a native abort that say nothing of its cause (Rust's backtrace notes)
_NOISE = ("note:", "stack backtrace", "skipping backtrace", "fatal runtime error: failed to initiate panic")
_FRAME = re.compile(r"^(\d+: |at )")  # a frame of a native backtrace
STDERR_TAIL = 1 << 16  # a backtrace can push the line that says why far up
PR_SET_PDEATHSIG = 1
START_TIMEOUT_S = 60.0  # the child imports polars and pyarrow before it answers its first call


class ChildDied(Exception):
    """The child ended before answering (a signal, a native abort, the memory cap). ``starved``:
    its last words say it ran out of memory or threads, or the kernel killed it (the OOM killer)."""

    def __init__(self, message: str, starved: bool = False) -> None:
        super().__init__(message)
        self.starved = starved


class OutOfResources(Exception):
    """A file's parse ran out of memory or threads in a fresh child too, and the full preflight found
    nothing wrong with its bytes: a shortage of ours (the cap, the machine), not the file's fault."""


class ChildTimeout(Exception):
    """The call did not answer within its deadline; the child was killed."""


class Abandoned(Exception):
    """The stop event was set and the call under way did not finish within the grace period."""


class RemoteError(Exception):
    """An error raised in the child that could not be sent back as itself (not picklable)."""


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies, on every path (kill -9 included)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:  # also where prctl does not exist, and for a parent that died before it ran
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(
    conn: Connection, parent_pid: int, memory_limit_mb: int, stderr_path: str | None, preload: tuple[str, ...]
) -> None:
    import importlib
    import resource

    _die_with_parent(parent_pid)
    if stderr_path is not None:
        # Native aborts write straight to fd 2: keep them off the console, for the parent to quote.
        handle = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, 2)
        os.close(handle)
    limit = memory_limit_mb << 20
    with contextlib.suppress(ValueError, OSError):  # some sandboxes refuse; the deadline still holds
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    for module in preload:  # while the parent is busy elsewhere; a failure shows again in the call
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            answer: tuple[bool, Any] = (True, function(*args))
        except BaseException as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # the result or the error does not pickle
            original = answer[1]
            conn.send((False, RemoteError(f"{type(original).__name__}: {original} ({exc})")))


class CappedChild:
    """One warm child process; ``call`` survives the child dying or hanging.

    With a ``stop`` event (the watch service), a call under way gets ``grace_s`` to finish once the
    event is set; then the child is killed and ``Abandoned`` raised.
    """

    def __init__(
        self,
        memory_limit_mb: int,
        stderr_dir: Path | None = None,
        stop: threading.Event | None = None,
        grace_s: float = 5.0,
        preload: tuple[str, ...] = (),
    ) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.stderr_dir = stderr_dir
        self.stop = stop
        self.grace_s = grace_s
        self.preload = preload  # modules the child imports as soon as it starts
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.conn: Connection | None = None
        self.stderr_path: Path | None = None
        self.stderr_mark = 0  # where the current call's stderr begins (see call)
        self.answered = False  # the running child has answered a call (it is past its start-up)

    def start(self) -> None:
        """Start the child now, so that its start-up and imports overlap the caller's own work."""
        if self.process is None or not self.process.is_alive():
            self._start()

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        if self.stderr_dir is not None:
            self.stderr_path = self.stderr_dir / f"parser-{os.getpid()}-{time.monotonic_ns()}.stderr"
        self.process = self.context.Process(
            target=_child_main,
            args=(
                child,
                os.getpid(),
                self.memory_limit_mb,
                str(self.stderr_path) if self.stderr_path else None,
                self.preload,
            ),
            daemon=True,
            name="lakectl-parser",
        )
        self.process.start()
        child.close()
        self.conn = parent
        self.answered = False

    def call(self, function: Callable[..., T], *args: Any, timeout: float) -> T:
        """``function(*args)`` in the child: its result, or the exception it raised (its own type).

        Raises ChildDied (with the child's last stderr line), ChildTimeout or Abandoned otherwise.
        """
        self.start()
        assert self.conn is not None
        # a warm child's words for earlier files say nothing of this one; a new child's start-up counts
        self.stderr_mark = self._stderr_size() if self.answered else 0
        try:
            self.conn.send((function, args))
            if not self._wait(timeout + (0.0 if self.answered else START_TIMEOUT_S)):
                self._kill()
                raise ChildTimeout(f"took longer than {timeout:g} s and was stopped")
            ok, value = self.conn.recv()
            self.answered = True
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise self._death() from None
        if ok:
            return value
        raise value

    def _wait(self, timeout: float) -> bool:
        """True when the child answered (or died: the pipe is then readable), False on timeout."""
        assert self.conn is not None
        deadline = time.monotonic() + timeout
        abandon_at: float | None = None
        while not self.conn.poll(0.2):
            now = time.monotonic()
            if self.stop is not None and self.stop.is_set():
                abandon_at = abandon_at or now + self.grace_s
                if now >= abandon_at:
                    self._kill()
                    raise Abandoned
            if now >= deadline:
                return False
        return True

    def _death(self) -> ChildDied:
        """How the child ended, with the line of its last words that tells why (e.g. a failed
        native allocation)."""
        self.process.join(5)
        code = self.process.exitcode
        description = describe_exit(code)
        lines = self._last_stderr_lines()
        self._forget()
        short = [line for line in lines if resource_shortage(line)]
        telling = [line for line in lines if not line.startswith(_NOISE) and not _FRAME.match(line)]
        last = (short or telling or lines or [""])[-1][:300]
        starved = bool(short) or code == -signal.SIGKILL  # nobody here killed it: the OOM killer did
        return ChildDied(f"{description}: {last}" if last else description, starved)

    def _stderr_size(self) -> int:
        if self.stderr_path is None:
            return 0
        try:
            return self.stderr_path.stat().st_size
        except OSError:  # not created yet: the child is still starting
            return 0

    def _last_stderr_lines(self) -> list[str]:
        """The child's last words during the current call (what it wrote for earlier files, e.g. a
        memory warning it survived, says nothing of this death)."""
        if self.stderr_path is None:
            return []
        try:
            with self.stderr_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(self.stderr_mark, handle.tell() - STDERR_TAIL))
                tail = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return [line.strip() for line in tail.splitlines() if line.strip()]

    def _kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._forget()

    def _forget(self) -> None:
        self.process = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.stderr_path is not None:
            self.stderr_path.unlink(missing_ok=True)
            self.stderr_path = None

    def close(self) -> None:
        # Between calls the child only waits on the pipe and holds no lock: killing it is safe and
        # skips the slow teardown of its runtimes.
        self._kill()

    def __enter__(self) -> CappedChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (
            ", an abort, often a failed memory allocation" if name == "SIGABRT" else ""
        )
    return f"exit code {code}"
