"""Runs ingests over many paths: discovery, cluster resolution, isolation, progress."""

from __future__ import annotations

import contextlib
import errno
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl import workspace
from lakectl.config import Settings, did_you_mean
from lakectl.errors import ConfigError
from lakectl.models import IngestResult
from lakectl.service.worker import CappedChild, ChildDied, OutOfResources

if TYPE_CHECKING:
    from lakectl import pipeline
    from lakectl.read.sheets import ReadOptions
    from lakectl.read.spool import ParsedFile

# No engine is imported before the parser process starts (pipeline, the readers: deltalake, polars,
# pyarrow, fastexcel): the writer's imports then overlap the child's.

log = logging.getLogger(__name__)

SPECIAL_DIRS = {"_archive", "_quarantine"}
PARSER_MODULES = ("lakectl.read.spool",)  # what the parser child imports as it starts
SHORT_ERRNOS = (errno.EAGAIN, errno.ENOMEM)  # fork or thread start refused: the machine, not the file
LEFT_ALONE = "a link or not a regular file (a FIFO, socket or device), never read"
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download", ".swp")


def is_candidate(path: Path) -> bool:
    """Files a person means as data: not lock files, hidden files or downloads in progress."""
    name = path.name
    hidden = name.startswith(".") and not name.startswith("..")  # '..csv' is a (badly named) file
    if name.startswith(("~$", ".~lock")) or hidden or name.endswith("#"):
        return False
    return not name.lower().endswith(TEMP_SUFFIXES)


def discover(paths: list[Path]) -> Iterator[Path]:
    """Files under the given paths (folders recursively, sorted), skipping lock and temp files."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if any(
                    part in SPECIAL_DIRS or part.startswith(".")
                    for part in child.relative_to(path).parts[:-1]
                ):
                    continue
                if not is_candidate(child) or (child.is_dir() and not child.is_symlink()):
                    continue
                if child.is_symlink() or not child.is_file():  # never followed out of the zone
                    log.warning("%s: %s: left in place", workspace.printable(str(child)), LEFT_ALONE)
                    continue
                yield child
        else:
            yield path


def cluster_of(path: Path, settings: Settings) -> str | None:
    """The cluster a file belongs to: the first folder under the landing zone, if it is a cluster."""
    try:
        relative = path.resolve().relative_to(settings.landing_zone.resolve())
    except ValueError:
        return None
    if len(relative.parts) < 2:
        return None
    return relative.parts[0] if relative.parts[0] in settings.clusters else None


def why_no_cluster(path: Path, settings: Settings) -> str:
    """Why a file has no cluster, with the close cluster name when its folder looks misspelled."""
    try:
        relative = path.resolve().relative_to(settings.landing_zone.resolve())
    except ValueError:
        return f"it is outside the landing zone {settings.landing_zone}"
    if len(relative.parts) < 2:
        return "it is not in a cluster folder"
    folder = relative.parts[0]
    return f"{folder} is not a configured cluster{did_you_mean(folder, settings.clusters)}"


def plan(paths: list[Path], cluster: str | None, settings: Settings) -> list[tuple[Path, str]]:
    """(file, cluster) for every file, or a ConfigError naming the files without a cluster."""
    if cluster is not None:
        settings.check_cluster(cluster)
    jobs, orphans = [], []
    for path in discover(paths):
        target = cluster or cluster_of(path, settings)
        if target is None:
            orphans.append(path)
        else:
            jobs.append((path, target))
    if orphans:
        shown = ", ".join(str(p) for p in orphans[:3]) + (
            f" and {len(orphans) - 3} more" if len(orphans) > 3 else ""
        )
        raise ConfigError(
            f"cannot tell the cluster of {shown}: {why_no_cluster(orphans[0], settings)}",
            hint=f"pass --cluster ({', '.join(settings.clusters)}) or put the file in "
            f"{settings.landing_zone}/<cluster>/",
        )
    return jobs


def batches(jobs: list[tuple[Path, str]], settings: Settings) -> Iterator[tuple[list[Path], str]]:
    """Consecutive files of one cluster, grouped up to reader.batch_max_files / batch_max_mb."""
    limit_files, limit_bytes = settings.reader.batch_max_files, settings.reader.batch_max_mb << 20
    group: list[Path] = []
    group_cluster, group_bytes = "", 0
    for path, cluster in jobs:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if group and (
            cluster != group_cluster or len(group) >= limit_files or group_bytes + size > limit_bytes
        ):
            yield group, group_cluster
            group, group_bytes = [], 0
        group.append(path)
        group_cluster = cluster
        group_bytes += size
    if group:
        yield group, group_cluster


def isolated(child: CappedChild, timeout_s: float) -> pipeline.Parse:
    """A parser that runs spool.parse_file in the capped child, with a deadline per file.

    The child reads optimistically (ReadOptions.optimistic: no used-range scan before calamine, which
    a far cell can only make kill the child). When the child dies or runs out of memory or threads,
    the file is tried once more in a fresh child with the full preflight: that names the cause of a
    hostile file, and the warm child may only have been worn out by the files before. A second
    death is the file's; a second shortage of memory or threads, with the preflight content, is
    ours (OutOfResources): the file is not blamed.
    """

    def parse(path: Path, options: ReadOptions, spool_dir: Path | None) -> ParsedFile:
        from lakectl.read.spool import parse_file  # sent to the child by name

        try:
            return child.call(
                parse_file, path, replace(options, optimistic=True), spool_dir, timeout=timeout_s
            )
        except (ChildDied, MemoryError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in SHORT_ERRNOS:
                raise
            log.info("%s: the parser failed (%s); checking it fully in a fresh process", path.name, exc)
            child.close()
        try:
            return child.call(parse_file, path, options, spool_dir, timeout=timeout_s)
        except MemoryError as exc:
            raise OutOfResources(str(exc) or "MemoryError") from None
        except ChildDied as exc:
            if exc.starved:
                raise OutOfResources(str(exc)) from None
            raise
        except OSError as exc:  # the fresh child could not even start (no thread or process left)
            if exc.errno in SHORT_ERRNOS:
                raise OutOfResources(f"cannot start the parser process: {exc}") from None
            raise

    return parse


def wait_until_stable(paths: list[Path], window_s: float, patience_s: float) -> set[Path]:
    """The watcher's rule for files given on the command line: a file is taken once its size and
    mtime held still for ``window_s``. Returns the files still changing after ``patience_s``."""
    seen: dict[Path, tuple[tuple[int, int], float]] = {}
    now = time.monotonic()
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue  # the pipeline reports it with its own reason
        if time.time() - info.st_mtime >= window_s:
            continue  # untouched for the whole window already (a future mtime waits a window)
        seen[path] = ((info.st_size, info.st_mtime_ns), now)
    deadline = now + patience_s
    while seen and time.monotonic() < deadline:
        time.sleep(min(0.2, window_s / 4 + 0.01))
        for path, (state, since) in list(seen.items()):
            try:
                info = path.stat()
            except OSError:
                del seen[path]
                continue
            current = (info.st_size, info.st_mtime_ns)
            if current != state:
                seen[path] = (current, time.monotonic())
            elif time.monotonic() - since >= window_s:
                del seen[path]
    return set(seen)


def ingest_paths(
    jobs: list[tuple[Path, str]],
    settings: Settings,
    dry_run: bool = False,
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest each (file, cluster), in batches; a bad file is a rejected result, never an exception.

    A failure of the lake itself (disk, permissions, lock) raises StorageError: no file is blamed.
    """
    results = []

    def emit(result: IngestResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    with contextlib.ExitStack() as stack:
        if dry_run:  # nothing under the lake: the parser's stderr goes to a private temp folder
            work, stderr_dir = None, Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lakectl-")))
        else:
            work = stderr_dir = stack.enter_context(workspace.workspace(settings))
        parse: pipeline.Parse | None = None
        child: CappedChild | None = None
        if settings.reader.isolate:
            child = stack.enter_context(CappedChild(settings.reader.memory_limit_mb, stderr_dir,
                                                    preload=PARSER_MODULES))  # fmt: skip
            if jobs:  # its start-up overlaps the stability wait, the ledger repair and the hashing
                child.start()
            parse = isolated(child, settings.reader.timeout_s)
        from lakectl import pipeline  # the writer's engines, while the child imports its readers

        window = settings.watch.stability_window_s
        changing = wait_until_stable([path for path, _ in jobs], window, max(30.0, 10 * window))
        for path, cluster in jobs:
            if path in changing:
                emit(_still_changing(path, cluster))
        jobs = [(path, cluster) for path, cluster in jobs if path not in changing]
        if not dry_run:
            pipeline.reconcile(settings)
        planned = list(batches(jobs, settings))
        for number, (paths, cluster) in enumerate(planned, 1):
            # Once the last file is parsed the parser is stopped, before the last commit: its
            # memory is gone before the writer's peak (watch keeps its child warm instead).
            release = child.close if child is not None and number == len(planned) else None
            pipeline.ingest_batch(paths, cluster, settings, dry_run, parse, work, emit, release)
    return results


def _still_changing(path: Path, cluster: str) -> IngestResult:
    return IngestResult(
        file=path.name,
        path=str(path),
        cluster=cluster,
        status="rejected",
        reason=f"{path.name}: the file is still being written (its size or time kept changing); "
        "nothing of it was ingested",
        hint="ingest it again once it is complete",
        error_class="StillWriting",
        transient=True,
    )
